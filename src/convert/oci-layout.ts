// OCI image layout → OCI image layout with every tar / tar+gzip layer rewritten as eStargz.
// Per image manifest: layers converted (annotations containerd.io/snapshot/stargz/toc.digest and
// io.containers.estargz.uncompressed-size added), config diff_ids replaced, config and manifest
// re-written (new digests), indexes updated up to index.json. Media types are kept (an uncompressed
// tar layer becomes its gzip variant, since eStargz is gzip). Everything else (other blobs, unknown
// media types, annotations) is carried over unchanged. The output is built in a temporary directory
// beside the target and renamed into place at the end.
import { createHash } from "node:crypto";
import { copyFile, link, mkdir, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { WriteResult, WriterOptions } from "../estargz/writer.js";
import { tempBeside, writeEStargzFile } from "./layer.js";

import { TOC_DIGEST_ANNOTATION, UNCOMPRESSED_SIZE_ANNOTATION } from "../estargz/annotations.js";
import type { Descriptor as OciDescriptor } from "../registry/manifest.js";

export const MT = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  ociLayerTar: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  dockerLayerTar: "application/vnd.docker.image.rootfs.diff.tar",
} as const;

/** Layer media type → the media type of its eStargz version (same family, gzip). */
export const LAYER_OUT: Record<string, string> = {
  [MT.ociLayerTar]: MT.ociLayerGzip,
  [MT.ociLayerGzip]: MT.ociLayerGzip,
  [MT.dockerLayerGzip]: MT.dockerLayerGzip,
  [MT.dockerLayerTar]: MT.dockerLayerGzip,
};

/** A descriptor read from a layout: the OCI fields, and whatever else it holds (kept as is). */
export type LayoutDescriptor = OciDescriptor & Record<string, unknown>;

export interface ConvertedLayer {
  from: string;
  to: string;
  size: number;
  tocDigest: string;
  diffId: string;
  uncompressedSize: number;
}

export interface LayoutResult {
  /** Converted layers, each once even if several manifests share it. */
  layers: ConvertedLayer[];
  /** Old manifest digest → new, for every image manifest rewritten. */
  manifests: Array<{ from: string; to: string }>;
}

export interface LayoutOptions extends WriterOptions {
  /** Called when a layer starts converting (index, total, digest) and with tar bytes read. */
  onLayer?: (index: number, total: number, digest: string) => void;
}

const sha256 = (b: Uint8Array) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

function blobPath(root: string, digest: string): string {
  const m = /^([a-z0-9]+):([a-f0-9]+)$/.exec(digest);
  if (!m) throw new Error(`invalid digest ${JSON.stringify(digest)}`);
  return join(root, "blobs", m[1], m[2]);
}

export async function isOciLayout(dir: string): Promise<boolean> {
  try {
    return (await stat(join(dir, "oci-layout"))).isFile() && (await stat(join(dir, "index.json"))).isFile();
  } catch {
    return false;
  }
}

class LayoutConverter {
  private readonly layerMap = new Map<string, { desc: LayoutDescriptor; result: WriteResult }>();
  private readonly manifestMap = new Map<string, LayoutDescriptor>();
  private readonly converted = new Set<string>(); // input layer digests that were replaced
  readonly result: LayoutResult = { layers: [], manifests: [] };
  private layerIndex = 0;
  private totalLayers = 0;

  constructor(private readonly inDir: string, private readonly outDir: string, private readonly opts: LayoutOptions) {}

  async readBlob(desc: LayoutDescriptor): Promise<Buffer> {
    const data = await readFile(blobPath(this.inDir, desc.digest));
    if (data.length !== desc.size || sha256(data) !== desc.digest) {
      throw new Error(`blob ${desc.digest} in ${this.inDir} does not match its descriptor (size ${data.length}, want ${desc.size})`);
    }
    return data;
  }

  /** Writes a JSON document as a blob of the output; returns its descriptor fields. */
  async putJson(doc: unknown): Promise<{ digest: string; size: number }> {
    const data = Buffer.from(JSON.stringify(doc));
    const digest = sha256(data);
    const p = blobPath(this.outDir, digest);
    await mkdir(join(p, ".."), { recursive: true });
    await writeFile(p, data);
    return { digest, size: data.length };
  }

  async countLayers(desc: LayoutDescriptor, seen = new Set<string>()): Promise<void> {
    if (desc.mediaType === MT.ociIndex || desc.mediaType === MT.dockerList) {
      const idx = JSON.parse((await this.readBlob(desc)).toString());
      for (const m of idx.manifests ?? []) await this.countLayers(m, seen);
    } else if (desc.mediaType === MT.ociManifest || desc.mediaType === MT.dockerManifest) {
      const man = JSON.parse((await this.readBlob(desc)).toString());
      for (const l of man.layers ?? []) {
        if (LAYER_OUT[l.mediaType] && !seen.has(l.digest)) {
          seen.add(l.digest);
          this.totalLayers++;
        }
      }
    }
  }

  async convertDescriptor(desc: LayoutDescriptor): Promise<LayoutDescriptor> {
    if (desc.mediaType === MT.ociIndex || desc.mediaType === MT.dockerList) return this.convertIndex(desc);
    if (desc.mediaType === MT.ociManifest || desc.mediaType === MT.dockerManifest) return this.convertManifest(desc);
    return desc; // artifacts and anything else: carried over as they are
  }

  private async convertIndex(desc: LayoutDescriptor): Promise<LayoutDescriptor> {
    const idx = JSON.parse((await this.readBlob(desc)).toString());
    const manifests: LayoutDescriptor[] = [];
    for (const m of idx.manifests ?? []) manifests.push(await this.convertDescriptor(m));
    const { digest, size } = await this.putJson({ ...idx, manifests });
    return { ...desc, digest, size };
  }

  private async convertManifest(desc: LayoutDescriptor): Promise<LayoutDescriptor> {
    const done = this.manifestMap.get(desc.digest);
    if (done) return { ...desc, digest: done.digest, size: done.size };
    const man = JSON.parse((await this.readBlob(desc)).toString());
    const config = JSON.parse((await this.readBlob(man.config)).toString());
    const diffIds: string[] = config.rootfs?.diff_ids ?? [];
    const layers: LayoutDescriptor[] = [];
    let i = 0;
    for (const l of man.layers as LayoutDescriptor[]) {
      const mt = LAYER_OUT[l.mediaType];
      if (!mt) {
        if (/zstd/.test(l.mediaType)) throw new Error(`layer ${l.digest}: cannot convert media type ${l.mediaType} (zstd input is not supported)`);
        layers.push(l);
        i++;
        continue;
      }
      const { desc: nd, result } = await this.convertLayer(l, mt);
      layers.push(nd);
      if (i < diffIds.length) diffIds[i] = result.diffId;
      i++;
    }
    if (diffIds.length !== man.layers.length) {
      throw new Error(`image ${desc.digest}: config lists ${diffIds.length} diff_ids for ${man.layers.length} layers`);
    }
    const newConfig = { ...config, rootfs: { ...config.rootfs, diff_ids: diffIds } };
    const cfg = await this.putJson(newConfig);
    const newMan = { ...man, config: { ...man.config, digest: cfg.digest, size: cfg.size }, layers };
    const m = await this.putJson(newMan);
    this.manifestMap.set(desc.digest, { ...desc, ...m });
    this.result.manifests.push({ from: desc.digest, to: m.digest });
    return { ...desc, digest: m.digest, size: m.size };
  }

  private async convertLayer(l: LayoutDescriptor, mediaType: string): Promise<{ desc: LayoutDescriptor; result: WriteResult }> {
    const cached = this.layerMap.get(l.digest);
    if (cached) return cached;
    this.opts.onLayer?.(this.layerIndex++, this.totalLayers, l.digest);
    const input = blobPath(this.inDir, l.digest);
    const st = await stat(input);
    if (st.size !== l.size) throw new Error(`layer ${l.digest}: blob is ${st.size} bytes, descriptor says ${l.size}`);
    const tmp = join(this.outDir, "blobs", `.layer-${this.layerIndex}.tmp`);
    await mkdir(join(this.outDir, "blobs"), { recursive: true });
    // the input layer's own digest is checked while it is read (on each read: a second one for a
    // tar with duplicate names, see writeEStargzFile)
    const { createReadStream } = await import("node:fs");
    async function* checked(): AsyncGenerator<Uint8Array> {
      const h = createHash("sha256");
      for await (const c of createReadStream(input, { highWaterMark: 1 << 20 })) {
        h.update(c as Buffer);
        yield c as Buffer;
      }
      if (`sha256:${h.digest("hex")}` !== l.digest) throw new Error(`layer ${l.digest}: content does not match its digest`);
    }
    let result: WriteResult;
    try {
      result = await writeEStargzFile(checked, tmp, this.opts);
    } catch (err) {
      await rm(tmp, { force: true });
      const e = err as Error;
      if (!e.message.includes(l.digest)) e.message = `layer ${l.digest}: ${e.message}`;
      throw e;
    }
    const dest = blobPath(this.outDir, result.digest);
    await mkdir(join(dest, ".."), { recursive: true });
    await rename(tmp, dest);
    const { annotations: _a, ...rest } = l;
    const desc: LayoutDescriptor = {
      ...rest,
      mediaType,
      digest: result.digest,
      size: result.size,
      annotations: {
        ...(l.annotations ?? {}),
        [TOC_DIGEST_ANNOTATION]: result.tocDigest,
        [UNCOMPRESSED_SIZE_ANNOTATION]: String(result.uncompressedSize),
      },
    };
    this.converted.add(l.digest);
    this.result.layers.push({
      from: l.digest, to: result.digest, size: result.size, tocDigest: result.tocDigest, diffId: result.diffId,
      uncompressedSize: result.uncompressedSize,
    });
    const entry = { desc, result };
    this.layerMap.set(l.digest, entry);
    return entry;
  }

  /** Copies input blobs the output does not have yet, except layers that were replaced. */
  async carryOver(): Promise<void> {
    const root = join(this.inDir, "blobs");
    for (const alg of await readdir(root)) {
      for (const hex of await readdir(join(root, alg))) {
        const digest = `${alg}:${hex}`;
        if (this.converted.has(digest)) continue;
        const dest = blobPath(this.outDir, digest);
        if (await stat(dest).then(() => true, () => false)) continue;
        await mkdir(join(dest, ".."), { recursive: true });
        // a hard link when possible (same filesystem, blobs are immutable), else a copy
        await link(join(root, alg, hex), dest).catch(() => copyFile(join(root, alg, hex), dest));
      }
    }
  }
}

/** Converts the OCI layout `inDir` into a new layout at `outDir` (which must not exist). */
export async function convertOciLayout(inDir: string, outDir: string, opts: LayoutOptions = {}): Promise<LayoutResult> {
  if (await stat(outDir).then(() => true, () => false)) throw new Error(`output ${outDir} already exists`);
  if (!(await isOciLayout(inDir))) throw new Error(`${inDir} is not an OCI image layout (no oci-layout / index.json)`);
  const tmp = tempBeside(outDir);
  await mkdir(join(tmp, "blobs"), { recursive: true });
  try {
    // like the reference converter for images: a prioritized path missing from some layer is not an error
    const c = new LayoutConverter(inDir, tmp, { ...opts, allowMissingPrioritized: opts.allowMissingPrioritized ?? true });
    const index = JSON.parse(await readFile(join(inDir, "index.json"), "utf8"));
    for (const m of index.manifests ?? []) await c.countLayers(m);
    const manifests: LayoutDescriptor[] = [];
    for (const m of index.manifests ?? []) manifests.push(await c.convertDescriptor(m));
    await c.carryOver();
    await writeFile(join(tmp, "oci-layout"), await readFile(join(inDir, "oci-layout")));
    await writeFile(join(tmp, "index.json"), JSON.stringify({ ...index, manifests }));
    await rename(tmp, outDir);
    return c.result;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
