// A real podman isolated from the machine's own (spec/als.md, "Test set-up that works"): its own
// storage.conf / containers.conf / registries.conf in a temp dir, runc, cgroupfs, and each command in
// a private mount namespace with an empty dir over /var/lib/containers/cache (as root,
// containers/image keeps a blob-info cache there that would let a later push skip reading layers).
// Its storage uses a store mount (with `:ref`) as an additional layer store.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Podman {
  dir: string;
  /** Runs `podman ARGS` isolated; resolves to stdout+stderr; rejects on a non-zero exit. */
  run(args: string[], opts?: { timeoutMs?: number }): Promise<{ stdout: string; stderr: string }>;
  /** Removes containers, images and storage, unmounts what podman left mounted, deletes the dir. */
  cleanup(): Promise<void>;
}

function exec(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // SIGKILL at the deadline: podman handles SIGTERM and may go on waiting (on a mount, say).
    execFile(cmd, args, { env, timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stderr }));
      else resolve({ stdout, stderr });
    });
  });
}

/** An isolated podman whose storage uses `storeMount` (with `:ref`) as an additional layer store. */
export async function isolatedPodman(registryHost: string, storeMount: string): Promise<Podman> {
  const dir = await mkdtemp(join(tmpdir(), "esgz-podman-"));
  const cacheDir = join(dir, "empty-cache");
  await mkdir(cacheDir);
  await mkdir(join(dir, "tmp"));
  await writeFile(join(dir, "storage.conf"), [
    "[storage]", 'driver = "overlay"', `graphroot = "${dir}/graph"`, `runroot = "${dir}/run"`,
    "[storage.options]", `additionallayerstores = ["${storeMount}:ref"]`, "",
  ].join("\n"));
  await writeFile(join(dir, "containers.conf"), [
    "[containers]", 'netns = "none"', 'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]',
    "[engine]", 'cgroup_manager = "cgroupfs"', 'events_logger = "file"', `events_logfile_path = "${dir}/events.log"`,
    'lock_type = "file"', 'runtime = "runc"', `tmp_dir = "${dir}/tmp"`, `image_copy_tmp_dir = "${dir}/tmp"`,
    'infra_image = "none"', "",
  ].join("\n"));
  await writeFile(join(dir, "registries.conf"), [
    "unqualified-search-registries = []", "[[registry]]", `location = "${registryHost}"`, "insecure = true", "",
  ].join("\n"));
  const env = {
    ...process.env,
    CONTAINERS_STORAGE_CONF: join(dir, "storage.conf"),
    CONTAINERS_CONF: join(dir, "containers.conf"),
    CONTAINERS_REGISTRIES_CONF: join(dir, "registries.conf"),
    TMPDIR: join(dir, "tmp"),
  };
  const script = `mount --bind "$0" /var/lib/containers/cache 2>/dev/null || { mkdir -p /var/lib/containers/cache && mount --bind "$0" /var/lib/containers/cache; }; exec podman "$@"`;
  const podman: Podman = {
    dir,
    async run(args, opts = {}) {
      try {
        return await exec("unshare", ["-m", "--propagation", "private", "sh", "-c", script, cacheDir, ...args], env, opts.timeoutMs ?? 180_000);
      } catch (e) {
        const err = e as Error & { stderr?: string };
        throw new Error(`podman ${args.join(" ")} failed: ${err.message}\n${err.stderr ?? ""}`);
      }
    },
    async cleanup() {
      await podman.run(["rm", "-af"]).catch(() => {});
      await podman.run(["rmi", "-af"]).catch(() => {});
      await podman.run(["system", "reset", "-f"]).catch(() => {});
      // overlay mounts podman may have left under its graphroot, deepest first
      const mounts = (await readFile("/proc/mounts", "utf8").catch(() => "")).split("\n")
        .map((l) => l.split(" ")[1]).filter((m) => m && m.startsWith(dir + "/")).sort().reverse();
      for (const m of mounts) await exec("umount", ["-l", m], process.env, 30_000).catch(() => {});
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    },
  };
  return podman;
}
