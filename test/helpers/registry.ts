// A real `docker-registry` (Debian's CNCF distribution 2.8) for tests: started on 127.0.0.1 on a free
// port with filesystem storage in a temp dir, optionally behind htpasswd or token auth or as a
// pull-through cache; stopped by PID. Its access log (combined format on stdout) is parsed so that
// tests can prove which requests reached the registry and how many bytes each one sent.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { openSync, closeSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import bcrypt from "bcryptjs";

export interface StartRegistryOptions {
  /** Basic auth with one user (bcrypt htpasswd file). */
  htpasswd?: { user: string; password: string };
  /** Token auth: the registry trusts JWTs signed by a key whose cert chain ends in rootCertBundle (PEM file path). */
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
  /** Pull-through cache of this upstream registry URL (e.g. another TestRegistry's `url`). */
  proxyRemoteUrl?: string;
  proxyUser?: string;
  proxyPassword?: string;
}

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

export interface TestRegistry {
  /** "127.0.0.1:PORT" — what goes into image references. */
  host: string;
  /** "http://127.0.0.1:PORT" */
  url: string;
  pid: number;
  /** Storage root of the registry (filesystem driver). */
  dataDir: string;
  /** Every request completed so far, in log order (sync requests of this helper left out). */
  accessLog(): Promise<AccessEntry[]>;
  /** Kills the registry by PID and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
// Last resort when a test process dies without calling stop(): no registry outlives it.
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

function configYaml(port: number, dataDir: string, dir: string, opts: StartRegistryOptions, htpasswdPath?: string): string {
  const lines = [
    "version: 0.1",
    "log:",
    "  level: warn",
    "  accesslog:",
    "    disabled: false",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${JSON.stringify(dataDir)}`,
    "  delete:",
    "    enabled: true",
    "  maintenance:",
    "    uploadpurging:",
    "      enabled: false",
    "http:",
    `  addr: 127.0.0.1:${port}`,
    `  secret: ${JSON.stringify(randomBytes(16).toString("hex"))}`,
  ];
  if (opts.htpasswd && opts.token) throw new Error("startRegistry: htpasswd and token auth are exclusive");
  if (htpasswdPath) {
    lines.push("auth:", "  htpasswd:", "    realm: esgz-test", `    path: ${JSON.stringify(htpasswdPath)}`);
  }
  if (opts.token) {
    const t = opts.token;
    lines.push(
      "auth:", "  token:",
      `    realm: ${JSON.stringify(t.realm)}`,
      `    service: ${JSON.stringify(t.service)}`,
      `    issuer: ${JSON.stringify(t.issuer)}`,
      `    rootcertbundle: ${JSON.stringify(t.rootCertBundle)}`,
    );
  }
  if (opts.proxyRemoteUrl) {
    lines.push("proxy:", `  remoteurl: ${JSON.stringify(opts.proxyRemoteUrl)}`);
    if (opts.proxyUser !== undefined) lines.push(`  username: ${JSON.stringify(opts.proxyUser)}`);
    if (opts.proxyPassword !== undefined) lines.push(`  password: ${JSON.stringify(opts.proxyPassword)}`);
  }
  void dir;
  return lines.join("\n") + "\n";
}

const ACCESS_LINE = /"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3}) (\d+|-) "[^"]*" "([^"]*)"/;
const SYNC_PATH = "/v2/_esgz_log_sync/";

function parseAccessLog(text: string): AccessEntry[] {
  const out: AccessEntry[] = [];
  for (const line of text.split("\n")) {
    const m = ACCESS_LINE.exec(line);
    if (!m) continue;
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
export async function startRegistry(opts: StartRegistryOptions = {}): Promise<TestRegistry> {
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

async function startOnce(opts: StartRegistryOptions): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), "esgz-registry-"));
  const dataDir = join(dir, "data");
  let htpasswdPath: string | undefined;
  if (opts.htpasswd) {
    htpasswdPath = join(dir, "htpasswd");
    const hash = bcrypt.hashSync(opts.htpasswd.password, 5);
    await writeFile(htpasswdPath, `${opts.htpasswd.user}:${hash}\n`);
  }
  const port = await freePort();
  const cfg = join(dir, "config.yml");
  await writeFile(cfg, configYaml(port, dataDir, dir, opts, htpasswdPath));
  const logPath = join(dir, "access.log");
  const errPath = join(dir, "registry.log");
  const outFd = openSync(logPath, "a");
  const errFd = openSync(errPath, "a");
  const child = spawn("docker-registry", ["serve", cfg], { stdio: ["ignore", outFd, errFd], detached: false });
  closeSync(outFd);
  closeSync(errFd);
  live.add(child);
  child.once("exit", () => live.delete(child));
  let spawnError: Error | undefined;
  child.once("error", (e) => { spawnError = e; });

  const url = `http://127.0.0.1:${port}`;
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
      throw new Error(`docker-registry on ${host} failed to start: ${spawnError?.message ?? `exit ${child.exitCode}`}\n${log}`);
    }
    try {
      const res = await fetch(`${url}${SYNC_PATH}0`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
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
    const res = await fetch(url + marker).catch(() => undefined);
    await res?.arrayBuffer().catch(() => undefined);
    const until = Date.now() + 5000;
    let text = await readFile(logPath, "utf8");
    while (res && !text.includes(`${marker} `) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 10));
      text = await readFile(logPath, "utf8");
    }
    await new Promise((r) => setTimeout(r, 20));
    text = await readFile(logPath, "utf8");
    return parseAccessLog(text).filter((e) => !e.path.startsWith(SYNC_PATH));
  };

  return { host, url, pid: child.pid!, dataDir, accessLog, stop };
}

// ---------------------------------------------------------------------------------------------
// Pushing test images straight over the distribution API (no client code under test involved).

export interface PushLayer {
  data: Uint8Array;
  /** Default: application/vnd.oci.image.layer.v1.tar+gzip */
  mediaType?: string;
  annotations?: Record<string, string>;
}

export interface PushImageOptions {
  layers: PushLayer[];
  /** Image config JSON; default: a minimal linux/amd64 config with the given diffIds (or layer digests). */
  config?: Record<string, unknown>;
  /** Docker schema 2 media types instead of OCI. */
  docker?: boolean;
  manifestAnnotations?: Record<string, string>;
  /** Basic credentials for an htpasswd registry. */
  auth?: { user: string; password: string };
  /** Extra request headers (e.g. a bearer token for a token-auth registry). */
  headers?: Record<string, string>;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string };
}

export interface PushedImage {
  /** "HOST/repo:tag" */
  ref: string;
  manifestDigest: string;
  manifestBytes: Uint8Array;
  manifest: { schemaVersion: 2; mediaType: string; config: Descriptor; layers: Descriptor[]; annotations?: Record<string, string> };
  configDigest: string;
  configBytes: Uint8Array;
  layers: Descriptor[];
}

export const sha256Digest = (data: Uint8Array): string => "sha256:" + createHash("sha256").update(data).digest("hex");

function headersFor(opts: { auth?: { user: string; password: string }; headers?: Record<string, string> }): Record<string, string> {
  const h: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.auth) h.authorization = "Basic " + Buffer.from(`${opts.auth.user}:${opts.auth.password}`).toString("base64");
  return h;
}

/** Uploads one blob monolithically (POST then PUT ?digest=), skipping it if the registry has it. */
export async function pushBlob(
  reg: Pick<TestRegistry, "url">, repo: string, data: Uint8Array,
  opts: { auth?: { user: string; password: string }; headers?: Record<string, string> } = {},
): Promise<string> {
  const digest = sha256Digest(data);
  const h = headersFor(opts);
  const head = await fetch(`${reg.url}/v2/${repo}/blobs/${digest}`, { method: "HEAD", headers: h });
  if (head.ok) return digest;
  const post = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/`, { method: "POST", headers: h });
  await post.arrayBuffer();
  if (post.status !== 202) throw new Error(`pushBlob: POST upload to ${reg.url}/${repo} answered ${post.status}`);
  const loc = new URL(post.headers.get("location")!, reg.url);
  loc.searchParams.set("digest", digest);
  const put = await fetch(loc, {
    method: "PUT", body: data as Uint8Array<ArrayBuffer>,
    headers: { ...h, "content-type": "application/octet-stream" },
  });
  const text = await put.text();
  if (put.status !== 201) throw new Error(`pushBlob: PUT ${digest} to ${reg.url}/${repo} answered ${put.status}: ${text}`);
  return digest;
}

/** PUTs a manifest or index under a tag or digest; returns its digest. */
export async function pushManifest(
  reg: Pick<TestRegistry, "url">, repo: string, reference: string, mediaType: string, bytes: Uint8Array,
  opts: { auth?: { user: string; password: string }; headers?: Record<string, string> } = {},
): Promise<string> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${reference}`, {
    method: "PUT", body: bytes as Uint8Array<ArrayBuffer>, headers: { ...headersFor(opts), "content-type": mediaType },
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`pushManifest: PUT ${repo}:${reference} answered ${res.status}: ${text}`);
  return sha256Digest(bytes);
}

/**
 * Pushes a single-platform image built from raw layer blobs to `repo:tag` and returns every digest.
 * Layers are pushed as given (e.g. eStargz fixtures with their TOC-digest annotation).
 */
export async function pushImage(reg: Pick<TestRegistry, "url" | "host">, repo: string, tag: string, opts: PushImageOptions): Promise<PushedImage> {
  const layerType = opts.docker ? "application/vnd.docker.image.rootfs.diff.tar.gzip" : "application/vnd.oci.image.layer.v1.tar+gzip";
  const configType = opts.docker ? "application/vnd.docker.container.image.v1+json" : "application/vnd.oci.image.config.v1+json";
  const manifestType = opts.docker ? "application/vnd.docker.distribution.manifest.v2+json" : "application/vnd.oci.image.manifest.v1+json";
  const layers: Descriptor[] = [];
  for (const layer of opts.layers) {
    const digest = await pushBlob(reg, repo, layer.data, opts);
    const d: Descriptor = { mediaType: layer.mediaType ?? layerType, digest, size: layer.data.byteLength };
    if (layer.annotations) d.annotations = layer.annotations;
    layers.push(d);
  }
  const config = opts.config ?? {
    architecture: "amd64", os: "linux",
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.annotations?.["containerd.io/uncompressed"] ?? l.digest) },
    config: {},
  };
  const configBytes = new TextEncoder().encode(JSON.stringify(config));
  const configDigest = await pushBlob(reg, repo, configBytes, opts);
  const manifest: PushedImage["manifest"] = {
    schemaVersion: 2, mediaType: manifestType,
    config: { mediaType: configType, digest: configDigest, size: configBytes.byteLength },
    layers,
  };
  if (opts.manifestAnnotations) manifest.annotations = opts.manifestAnnotations;
  const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest));
  const manifestDigest = await pushManifest(reg, repo, tag, manifestType, manifestBytes, opts);
  return { ref: `${reg.host}/${repo}:${tag}`, manifestDigest, manifestBytes, manifest, configDigest, configBytes, layers };
}

/** Pushes an OCI image index over already-pushed manifests; returns its digest and bytes. */
export async function pushIndex(
  reg: Pick<TestRegistry, "url">, repo: string, tag: string, manifests: Descriptor[],
  opts: { docker?: boolean; auth?: { user: string; password: string }; headers?: Record<string, string> } = {},
): Promise<{ digest: string; bytes: Uint8Array }> {
  const mediaType = opts.docker ? "application/vnd.docker.distribution.manifest.list.v2+json" : "application/vnd.oci.image.index.v1+json";
  const bytes = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType, manifests }));
  const digest = await pushManifest(reg, repo, tag, mediaType, bytes, opts);
  return { digest, bytes };
}

/**
 * Copies an image with skopeo (e.g. `oci:/path/to/layout:tag` → this registry), TLS verification off
 * for the loopback registry. Returns skopeo's stdout.
 */
export function skopeoCopy(src: string, dest: string, extra: string[] = []): string {
  const r = spawnSync("skopeo", ["copy", "--src-tls-verify=false", "--dest-tls-verify=false", ...extra, src, dest], {
    encoding: "utf8", timeout: 120000,
  });
  if (r.status !== 0) throw new Error(`skopeo copy ${src} ${dest} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return r.stdout;
}
