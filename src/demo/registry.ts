// A real `docker-registry` (the CNCF distribution registry, Debian's package) on a free 127.0.0.1
// port with filesystem storage in a temp dir, stopped by PID. Its access log (combined format on
// stdout) is parsed, so the demo can show — and the tests can prove — which requests reached the
// registry and how many body bytes each one sent. The demo uses it as is; test/helpers/registry.ts
// adds auth and pull-through configurations on top, and TLS (HTTPS, optionally client certificates).
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, openSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** One line of the registry's access log. */
export interface AccessEntry {
  method: string;
  /** Request URI (path and query). */
  path: string;
  status: number;
  /** Body bytes the registry wrote (0 for HEAD). */
  bytes: number;
  userAgent: string;
}

export interface LocalRegistry {
  /** "127.0.0.1:PORT" — what goes into image references. */
  host: string;
  /** "http://127.0.0.1:PORT" ("https://…" with `tls`) */
  url: string;
  pid: number;
  /** Storage root of the registry (filesystem driver). */
  dataDir: string;
  /** Every request completed so far, in log order. */
  accessLog(): Promise<AccessEntry[]>;
  /** Kills the registry by PID and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** HTTPS: the registry's certificate (PEM files); `clientCas`: client certificates required, signed by these. */
export interface RegistryTls {
  certificate: string;
  key: string;
  clientCas?: string[];
  /** What the harness's own requests (readiness, log markers) trust and present: PEM texts. */
  harness: { ca: string; cert?: string; key?: string };
}

export interface LocalRegistryOptions {
  /** YAML lines appended to the config (top-level sections such as `auth:` or `proxy:`). */
  extraConfig?: (dir: string) => Promise<string[]> | string[];
  tls?: RegistryTls;
  /** Serve this storage directory (another registry's `dataDir`) instead of a fresh one. */
  dataDir?: string;
}

const live = new Set<ChildProcess>();
// Last resort when the process dies without calling stop(): no registry outlives it.
process.once("exit", () => {
  for (const child of live) if (child.pid) try { process.kill(child.pid, "SIGKILL"); } catch { /* gone */ }
});

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** One GET by the harness itself, body read and dropped (plain fetch, or node:https with the test CA). */
async function harnessGet(url: string, tls: RegistryTls | undefined, timeoutMs: number): Promise<void> {
  if (!tls) {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const req = httpsRequest(url, { ...tls.harness, timeout: timeoutMs }, (res) => { res.resume(); res.on("end", resolve); res.on("error", reject); });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

const ACCESS_LINE = /"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3}) (\d+|-) "[^"]*" "([^"]*)"/;
// Requests to this path only mark a point in the log (see accessLog); they are not reported.
const SYNC_PATH = "/v2/_esgz_log_sync/";

function parseAccessLog(text: string): AccessEntry[] {
  const out: AccessEntry[] = [];
  for (const line of text.split("\n")) {
    const m = ACCESS_LINE.exec(line);
    if (!m || m[2].startsWith(SYNC_PATH)) continue;
    out.push({ method: m[1], path: m[2], status: Number(m[3]), bytes: m[4] === "-" ? 0 : Number(m[4]), userAgent: m[5] });
  }
  return out;
}

async function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once("exit", () => { clearTimeout(timer); resolve(true); });
  });
}

/** Starts one registry; retries on another port if the chosen one was taken meanwhile. */
export async function startLocalRegistry(opts: LocalRegistryOptions = {}): Promise<LocalRegistry> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

async function startOnce(opts: LocalRegistryOptions): Promise<LocalRegistry> {
  const dir = await mkdtemp(join(tmpdir(), "esgz-registry-"));
  const dataDir = opts.dataDir ?? join(dir, "data");
  const port = await freePort();
  const cfg = join(dir, "config.yml");
  await writeFile(cfg, [
    "version: 0.1",
    "log:", "  level: warn", "  accesslog:", "    disabled: false",
    "storage:", "  filesystem:", `    rootdirectory: ${JSON.stringify(dataDir)}`,
    "  delete:", "    enabled: true",
    // upload purging would start a background sweep of the temp storage: nothing to purge here
    "  maintenance:", "    uploadpurging:", "      enabled: false",
    "http:", `  addr: 127.0.0.1:${port}`, `  secret: ${JSON.stringify(randomBytes(16).toString("hex"))}`,
    ...(opts.tls ? [
      "  tls:", `    certificate: ${JSON.stringify(opts.tls.certificate)}`, `    key: ${JSON.stringify(opts.tls.key)}`,
      ...(opts.tls.clientCas ? ["    clientcas:", ...opts.tls.clientCas.map((c) => `      - ${JSON.stringify(c)}`)] : []),
    ] : []),
    ...(await opts.extraConfig?.(dir) ?? []),
  ].join("\n") + "\n");
  const logPath = join(dir, "access.log");
  const errPath = join(dir, "registry.log");
  const outFd = openSync(logPath, "a");
  const errFd = openSync(errPath, "a");
  const child = spawn("docker-registry", ["serve", cfg], { stdio: ["ignore", outFd, errFd] });
  closeSync(outFd);
  closeSync(errFd);
  live.add(child);
  child.once("exit", () => live.delete(child));
  let spawnError: Error | undefined;
  child.once("error", (e) => { spawnError = e; });

  const url = `${opts.tls ? "https" : "http"}://127.0.0.1:${port}`;
  const host = `127.0.0.1:${port}`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.pid && child.exitCode === null && child.signalCode === null) {
      try { process.kill(child.pid, "SIGTERM"); } catch { /* already gone */ }
      if (!(await exited(child, 3000))) {
        try { process.kill(child.pid, "SIGKILL"); } catch { /* already gone */ }
        await exited(child, 3000);
      }
    }
    live.delete(child);
    await rm(dir, { recursive: true, force: true });
  };

  // Ready when the API answers at all (401 counts: auth is configured).
  const deadline = Date.now() + 15000;
  for (;;) {
    if (spawnError || child.exitCode !== null) {
      const log = await readFile(errPath, "utf8").catch(() => "");
      await stop();
      const hint = (spawnError as NodeJS.ErrnoException | undefined)?.code === "ENOENT" ? " (is the docker-registry package installed? scripts/setup.sh installs it)" : "";
      throw new Error(`docker-registry on ${host} failed to start: ${spawnError?.message ?? `exit ${child.exitCode}`}${hint}\n${log}`);
    }
    try {
      await harnessGet(`${url}${SYNC_PATH}0`, opts.tls, 1000);
      break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      const log = await readFile(errPath, "utf8").catch(() => "");
      await stop();
      throw new Error(`docker-registry on ${host} did not answer /v2/ within 15 s\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  let syncN = 0;
  const accessLog = async (): Promise<AccessEntry[]> => {
    // The registry logs a request after answering it: send a marker request and wait for its line,
    // so every request that completed before this call is in the file.
    const marker = `${SYNC_PATH}${++syncN}`;
    const sent = await harnessGet(url + marker, opts.tls, 5000).then(() => true, () => false);
    const until = Date.now() + 5000;
    let text = await readFile(logPath, "utf8");
    while (sent && !text.includes(`${marker} `) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 10));
      text = await readFile(logPath, "utf8");
    }
    await new Promise((r) => setTimeout(r, 20));
    return parseAccessLog(await readFile(logPath, "utf8"));
  };

  return { host, url, pid: child.pid!, dataDir, accessLog, stop };
}
