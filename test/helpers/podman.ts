// End-to-end harness: eStargz images made by the project's writer and pushed to a real registry, and
// a real podman isolated as spec/als.md describes (src/demo/podman.ts), pointed at the store's mount
// as an additional layer store.
import { gzipSync } from "node:zlib";
import { readFile } from "node:fs/promises";
import { writeEStargz, type WriteResult } from "../../src/estargz/writer.js";
import { pushImage, type PushedImage, type TestRegistry } from "./registry.js";

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
  opts: { chunkSize?: number; cmd?: string[]; auth?: { user: string; password: string } } = {}): Promise<PushedEStargz> {
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
    auth: opts.auth,
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

export { isolatedPodman, type Podman } from "../../src/demo/podman.js";
