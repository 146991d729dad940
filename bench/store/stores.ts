// The two stores bench:store compares, started and stopped the same way: each its own process with its
// own empty --root and an empty config.toml (the defaults), timed from the spawn to the mountpoint
// appearing in /proc/self/mountinfo (the same test for both: neither's log line is trusted as "mounted").
//   go    the Go stargz-store 0.12 (../shared/go-stargz-store), `stargz-store -root R -config C MNT`
//   esgz  `esgz-fast mount -root R -config C MNT` (the bundled CLI, as installed)
// Every store started here is remembered until stopped, so that cleanup() (the bench's `finally` and its
// ^C handler) can stop what is left and unmount its mountpoint.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { cliPath } from "../../src/demo/store.js";
import { detachStaleMount, isMountPoint, unmountPath } from "../../src/fs/fuse.js";
import { repoRoot, sharedDir } from "../../test/helpers/paths.js";

const sh = promisify(execFile);

export type StoreKind = "go" | "esgz";
export const STORE_NAMES: Record<StoreKind, string> = { go: "Go stargz-store", esgz: "esgz-fast" };

export interface RunningStore {
  kind: StoreKind;
  pid: number;
  mountpoint: string;
  /** Its --root; `<root>.config.toml` and `<root>.log` (its stdout and stderr) lie beside it. */
  root: string;
  /** Milliseconds from the spawn to the mountpoint being a mount. */
  mountedMs: number;
  /** performance.now() at the spawn: "spawn → X" figures are measured from here. */
  spawnedAt: number;
  /** Peak resident set (VmHWM) so far, MiB. */
  peakRss(): Promise<number>;
  /** Unmounts and ends the process (SIGKILL if it is still there 10 s later); never throws. */
  stop(): Promise<void>;
}

/** The Go store's binary: $ESGZ_GO_STORE, else built by ../shared/go-stargz-store/build.sh into .bench-cache/go-store (once). */
export async function goStoreBinary(): Promise<string> {
  const given = process.env.ESGZ_GO_STORE;
  if (given) return given;
  const out = join(repoRoot, ".bench-cache", "go-store");
  const binary = join(out, "stargz-store");
  // build.sh returns at once when the binary is newer than its main.go
  if (!existsSync(binary)) console.error(`building the Go stargz-store into ${out} (once, ~30 s or more)…`);
  await sh("bash", [join(sharedDir, "go-stargz-store", "build.sh"), out], { maxBuffer: 1 << 26 });
  return binary;
}

export async function vmHwm(pid: number): Promise<number> {
  const s = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(s)![1]) / 1024;
}

const live = new Set<RunningStore>();
process.once("exit", () => {
  for (const s of live) try { process.kill(s.pid, "SIGKILL"); } catch { /* gone */ }
});

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once("exit", () => { clearTimeout(timer); resolve(true); });
  });
}

/** Polls /proc/self/mountinfo every millisecond until `mnt` is a mount; rejects if the child exits first or after 30 s. */
async function waitMounted(mnt: string, child: ChildProcess, logPath: string): Promise<void> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    if (await isMountPoint(mnt)) return;
    if (child.exitCode !== null || child.signalCode !== null || performance.now() > deadline) {
      const log = await readFile(logPath, "utf8").catch(() => "");
      throw new Error(`store ${child.pid} did not mount ${mnt} (exit ${child.exitCode ?? child.signalCode ?? "none, 30 s"}):\n${log.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Starts one store with an empty root `root` (created here) and waits until it has mounted `mnt`. */
export async function startStore(kind: StoreKind, opts: { mountpoint: string; root: string; goBinary: string }): Promise<RunningStore> {
  const { mountpoint: mnt, root } = opts;
  await mkdir(mnt, { recursive: true });
  const config = `${root}.config.toml`;
  await writeFile(config, ""); // empty: each store's own defaults
  const logPath = `${root}.log`;
  const [cmd, args] = kind === "go"
    ? [opts.goBinary, ["-root", root, "-config", config, mnt]]
    : [process.execPath, [cliPath, "mount", "-root", root, "-config", config, mnt]];
  const logFd = openSync(logPath, "a");
  const spawnedAt = performance.now();
  const child = spawn(cmd, args, { stdio: ["ignore", logFd, logFd] });
  closeSync(logFd);
  const pid = child.pid!;
  let stopped: Promise<void> | undefined;
  const store: RunningStore = {
    kind, pid, mountpoint: mnt, root, mountedMs: 0, spawnedAt,
    peakRss: () => vmHwm(pid),
    stop: () => (stopped ??= (async () => {
      // The Go store as its README says: unmount, then end the PID. esgz-fast unmounts on SIGTERM.
      if (kind === "go") await sh("umount", [mnt]).catch(() => {});
      child.kill("SIGTERM");
      if (!(await exited(child, 10_000))) {
        console.error(`${STORE_NAMES[kind]} (${pid}) still running 10 s after SIGTERM: killed`);
        child.kill("SIGKILL");
        await exited(child, 5_000);
      }
      // A mount left behind (a killed store, a busy unmount) is detached, never left for the next store.
      await detachStaleMount(mnt).catch(() => unmountPath(mnt).catch(() => {}));
      live.delete(store);
    })()),
  };
  live.add(store);
  try {
    await waitMounted(mnt, child, logPath);
  } catch (e) {
    await store.stop();
    throw e;
  }
  store.mountedMs = performance.now() - spawnedAt;
  return store;
}

/** Stops every store still running (for `finally` and the ^C handler). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((s) => s.stop()));
}
