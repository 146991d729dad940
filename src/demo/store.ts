// `esgz-fast mount` as its own process, as podman meets it in production. A process that reads a
// FUSE mount must not be the one serving it (a synchronous call into the mount would wait for
// itself), so the demo and the end-to-end tests start the store this way.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The installed command: the bundled CLI (package.json's `bin`), found from the package's root,
 *  since this module runs both from dist/src/demo and bundled into dist/bundle. */
export const cliPath = join(dirname(fileURLToPath(import.meta.resolve("esgz-fast/package.json"))), "dist", "bundle", "cli.js");

export interface StoreProcess {
  pid: number;
  mountpoint: string;
  root: string;
  /** Milliseconds from spawn to the readiness log line. */
  readyMs: number;
  /** Everything the store wrote on stderr so far (JSON lines). */
  logs(): string;
  /**
   * The logs once a line matches `line` (the log reaches this process through a pipe, a moment after
   * the answer a line goes with), or as they are after `ms` without one.
   */
  logsWith(line: RegExp, ms?: number): Promise<string>;
  /** SIGTERM and wait for a clean exit (the store unmounts); resolves to the exit code. A store still
   *  running 20 s later is killed and the promise rejects: a hang is a failure, not a wait. */
  stop(): Promise<number | null>;
  /** SIGKILL (leaves the mount stale, as a crash does). */
  kill(): Promise<void>;
}

export interface StoreProcessOptions {
  mountpoint: string;
  root: string;
  /** config.toml contents (written beside the root as `<root>.config.toml`). */
  configToml?: string;
  env?: NodeJS.ProcessEnv;
  logLevel?: string;
  /** Extra flags before the mountpoint (e.g. `-metrics-address`). */
  args?: string[];
  /** The credential socket (`-addr`); default `<root>/store.sock`, so that stores side by side do not share one. */
  addr?: string;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) if (c.pid) try { process.kill(c.pid, "SIGKILL"); } catch { /* gone */ }
});

/** Starts `esgz-fast mount -root ROOT -config CFG MOUNTPOINT` and waits for its readiness line. */
export async function startStoreProcess(opts: StoreProcessOptions): Promise<StoreProcess> {
  const cfgPath = opts.root + ".config.toml";
  await writeFile(cfgPath, opts.configToml ?? "");
  const t0 = performance.now();
  // $ESGZ_STORE_NODE_ARGS: extra Node flags for the store (profiling: "--cpu-prof --cpu-prof-dir=DIR").
  const nodeArgs = (process.env.ESGZ_STORE_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const child = spawn(process.execPath, [
    ...nodeArgs, cliPath, "mount", "-root", opts.root, "-config", cfgPath, "-log-level", opts.logLevel ?? "debug",
    "-addr", opts.addr ?? join(opts.root, "store.sock"), ...(opts.args ?? []), opts.mountpoint,
  ], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...opts.env } });
  live.add(child);
  let logs = "";
  child.stderr!.on("data", (d: Buffer) => { logs += d.toString(); });
  // $ESGZ_STORE_LOG_DIR: a copy of the log in a file there (the test runner prints it when a test hangs).
  const logDir = process.env.ESGZ_STORE_LOG_DIR;
  if (logDir) child.stderr!.pipe(createWriteStream(join(logDir, `store-${child.pid}.log`)));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => { live.delete(child); r(code); }));
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
    readyMs: performance.now() - t0,
    logs: () => logs,
    logsWith: async (line, ms = 5000) => {
      for (const end = performance.now() + ms; !line.test(logs) && performance.now() < end;) await new Promise((r) => setTimeout(r, 20));
      return logs;
    },
    stop: async () => {
      child.kill("SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill("SIGKILL");
          reject(new Error(`store ${child.pid} still running 20 s after SIGTERM; killed. Log:\n${logs.slice(-4000)}`));
        }, 20_000);
      });
      try {
        return await Promise.race([exited, late]);
      } finally {
        clearTimeout(timer);
      }
    },
    kill: async () => { child.kill("SIGKILL"); await exited; },
  };
}
