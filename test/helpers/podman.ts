// End-to-end harness: eStargz images made by the project's writer and pushed to a real registry, and
// a real podman isolated as spec/als.md describes (own storage.conf / containers.conf /
// registries.conf in a temp dir, runc, cgroupfs, each command in a private mount namespace with an
// empty dir over /var/lib/containers/cache), pointed at the store's mount as an additional layer store.
import { mkdir, writeFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { readFile } from "node:fs/promises";
import { writeEStargz, type WriteResult } from "../../src/estargz/writer.js";
import { pushImage, type PushedImage, type TestRegistry } from "./registry.js";
import { run, tempDir } from "./fuse.js";

export const TOC_DIGEST = "containerd.io/snapshot/stargz/toc.digest";
export const UNCOMPRESSED_SIZE = "io.containers.estargz.uncompressed-size";

/** Converts a tar file to an eStargz blob in memory with the project's writer. */
export async function estargzOf(tarPath: string, chunkSize?: number): Promise<{ blob: Buffer; facts: WriteResult }> {
  const parts: Uint8Array[] = [];
  const facts = await writeEStargz(tarPath, (b) => { parts.push(Buffer.from(b)); }, { chunkSize });
  return { blob: Buffer.concat(parts), facts };
}

export interface PushedEStargz extends PushedImage {
  facts: WriteResult[];
  blobs: Buffer[];
}

/** Pushes an image whose layers are the eStargz conversions of `tars` (annotated as converters do). */
export async function pushEStargzImage(reg: TestRegistry, repo: string, tag: string, tars: string[],
  opts: { chunkSize?: number; cmd?: string[] } = {}): Promise<PushedEStargz> {
  const conv = [];
  for (const t of tars) conv.push(await estargzOf(t, opts.chunkSize));
  const pushed = await pushImage(reg, repo, tag, {
    layers: conv.map((c) => ({
      data: c.blob,
      annotations: { [TOC_DIGEST]: c.facts.tocDigest, [UNCOMPRESSED_SIZE]: String(c.facts.uncompressedSize) },
    })),
    config: {
      architecture: "amd64", os: "linux",
      rootfs: { type: "layers", diff_ids: conv.map((c) => c.facts.diffId) },
      config: { Cmd: opts.cmd ?? ["/bin/sh"], Env: ["PATH=/bin:/usr/bin"] },
    },
  });
  return { ...pushed, facts: conv.map((c) => c.facts), blobs: conv.map((c) => c.blob) };
}

/** Pushes a plain gzip image (not eStargz) of `tars`. */
export async function pushGzipImage(reg: TestRegistry, repo: string, tag: string, tars: string[], cmd: string[] = ["/bin/sh"]): Promise<PushedImage> {
  const datas = await Promise.all(tars.map((t) => readFile(t)));
  const { createHash } = await import("node:crypto");
  return pushImage(reg, repo, tag, {
    layers: datas.map((d) => ({ data: gzipSync(d) })),
    config: {
      architecture: "amd64", os: "linux",
      rootfs: { type: "layers", diff_ids: datas.map((d) => "sha256:" + createHash("sha256").update(d).digest("hex")) },
      config: { Cmd: cmd, Env: ["PATH=/bin:/usr/bin"] },
    },
  });
}

/** base64 of a reference, as containers/storage names the `:ref` directory. */
export const refDir = (ref: string): string => Buffer.from(ref).toString("base64");

export interface Podman {
  dir: string;
  /** Runs `podman ARGS` isolated; resolves to stdout+stderr; rejects on a non-zero exit. */
  run(args: string[], opts?: { timeoutMs?: number }): Promise<{ stdout: string; stderr: string }>;
  cleanup(): Promise<void>;
}

/** An isolated podman whose storage uses `storeMount` (with `:ref`) as an additional layer store. */
export async function isolatedPodman(registryHost: string, storeMount: string): Promise<Podman> {
  const dir = await tempDir("esgz-podman-");
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
  const podman: Podman = {
    dir,
    async run(args, opts = {}) {
      // A private mount namespace with an empty blob-info cache: as root, containers/image keeps one at
      // a fixed path that would let a later push skip reading layers.
      const script = `mount --bind "$0" /var/lib/containers/cache 2>/dev/null || { mkdir -p /var/lib/containers/cache && mount --bind "$0" /var/lib/containers/cache; }; exec podman "$@"`;
      const { execFile } = await import("node:child_process");
      return new Promise((resolve, reject) => {
        execFile("unshare", ["-m", "--propagation", "private", "sh", "-c", script, cacheDir, ...args],
          { env, timeout: opts.timeoutMs ?? 180_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
            if (err) reject(new Error(`podman ${args.join(" ")} failed: ${err.message}\n${stderr}`));
            else resolve({ stdout, stderr });
          });
      });
    },
    async cleanup() {
      await podman.run(["rm", "-af"]).catch(() => {});
      await podman.run(["rmi", "-af"]).catch(() => {});
      await podman.run(["system", "reset", "-f"]).catch(() => {});
      await run("sh", ["-c", `grep " ${dir}" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r -n1 umount -l`]).catch(() => {});
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    },
  };
  return podman;
}
