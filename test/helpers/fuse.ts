// FUSE test helpers. A test that mounts in its own process must only touch the mount asynchronously
// (fs/promises, child processes via execFile): the handlers run on the same event loop, so a
// synchronous call into the mount would wait for itself forever.
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { detachStaleMount, unmountPath } from "../../src/fs/fuse.js";

export const execFileP = promisify(execFile);

/** Runs a command, resolving to stdout; rejects with stderr in the message on failure. */
export async function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  try {
    const { stdout } = await execFileP(cmd, args, { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 << 20 });
    return stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string; stdout?: string };
    throw new Error(`${cmd} ${args.join(" ")} failed: ${err.message}\n${err.stderr ?? ""}`);
  }
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Unmounts (if mounted) and removes a temp dir; never throws, for `finally` / `after` hooks. */
export async function cleanupMount(dir: string, mountpoint = dir): Promise<void> {
  try {
    await detachStaleMount(mountpoint);
  } catch {
    await unmountPath(mountpoint).catch(() => {}); // alive: a normal unmount
  }
  await rm(dir, { recursive: true, force: true }).catch(() => {});
}

/** The mount options the kernel reports for `mountpoint` (fields 6 and 11 of /proc/self/mountinfo). */
export async function mountOptions(mountpoint: string): Promise<string[]> {
  const { readFile } = await import("node:fs/promises");
  const info = await readFile("/proc/self/mountinfo", "utf8");
  for (const line of info.split("\n")) {
    const f = line.split(" ");
    if (f[4] === mountpoint) {
      const sep = f.indexOf("-");
      return [...f[5].split(","), ...(f[sep + 3] ?? "").split(",")];
    }
  }
  throw new Error(`${mountpoint} is not mounted`);
}

// ---------------------------------------------------------------------------------------------
// `esgz-fast mount` as its own process (as podman sees it in production), for end-to-end tests.

import { spawn, type ChildProcess } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { cliPath } from "./run-cli.js";

export interface StoreProcess {
  pid: number;
  mountpoint: string;
  root: string;
  /** Everything the store wrote on stderr so far (JSON lines). */
  logs(): string;
  /** SIGTERM and wait for a clean exit; resolves to the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL (leaves the mount stale, as a crash does). */
  kill(): Promise<void>;
}

const liveStores = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of liveStores) if (c.pid) try { process.kill(c.pid, "SIGKILL"); } catch { /* gone */ }
});

/** Starts `esgz-fast mount -root ROOT -config CFG MOUNTPOINT` and waits for its readiness line. */
export async function startStore(opts: { mountpoint: string; root: string; configToml?: string; env?: NodeJS.ProcessEnv; logLevel?: string }): Promise<StoreProcess> {
  const cfgPath = join(opts.root + ".config.toml");
  await writeFile(cfgPath, opts.configToml ?? "");
  const child = spawn(process.execPath, [cliPath, "mount", "-root", opts.root, "-config", cfgPath, "-log-level", opts.logLevel ?? "debug", opts.mountpoint], {
    stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...opts.env },
  });
  liveStores.add(child);
  let logs = "";
  child.stderr!.on("data", (d: Buffer) => { logs += d.toString(); });
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => { liveStores.delete(child); r(code); }));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`store not ready after 30 s:\n${logs}`)), 30_000);
    const check = () => {
      if (logs.includes('"msg":"store ready"')) { clearTimeout(timer); resolve(); }
    };
    child.stderr!.on("data", check);
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`store exited (${code}) before it was ready:\n${logs}`)); });
  });
  return {
    pid: child.pid!, mountpoint: opts.mountpoint, root: opts.root,
    logs: () => logs,
    stop: async () => { child.kill("SIGTERM"); return exited; },
    kill: async () => { child.kill("SIGKILL"); await exited; },
  };
}
