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
    const { stdout } = await execFileP(cmd, args, { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 120_000, killSignal: "SIGKILL", maxBuffer: 64 << 20 });
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

// `esgz-fast mount` as its own process (as podman sees it in production): src/demo/store.ts.
export { startStoreProcess as startStore, type StoreProcess } from "../../src/demo/store.js";
