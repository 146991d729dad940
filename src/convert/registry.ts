// Registry → registry: every tar / tar+gzip layer of an image (or of each image of an index) is
// streamed from the source (its digest checked), converted to eStargz in a temporary file, and
// uploaded; config diff_ids, manifests and indexes are rewritten and pushed (children by digest,
// the top one under the target's tag). Other blobs are mounted or copied, other manifests copied.
import { createReadStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseReference, type Reference, type RegistryClient } from "../registry/index.js";
import type { WriteResult } from "../estargz/writer.js";
import { writeEStargzFile } from "./layer.js";
import { TOC_DIGEST_ANNOTATION, UNCOMPRESSED_SIZE_ANNOTATION } from "../estargz/annotations.js";
import {
  LAYER_OUT, MT,
  type ConvertedLayer, type LayoutDescriptor, type LayoutOptions, type LayoutResult,
} from "./oci-layout.js";

export interface RegistryConvertResult extends LayoutResult {
  /** Digest of what the target tag now points at. */
  digest: string;
  target: string;
}

class RegistryConverter {
  readonly result: LayoutResult = { layers: [], manifests: [] };
  private readonly layers = new Map<string, { desc: LayoutDescriptor; diffId: string }>();
  private layerIndex = 0;

  constructor(
    private readonly client: RegistryClient,
    private readonly src: Reference,
    private readonly dst: Reference,
    private readonly tmp: string,
    private readonly opts: LayoutOptions,
  ) {}

  private sameRegistry(): boolean {
    return this.src.registry === this.dst.registry;
  }

  /** Makes the target repository hold blob `d` of the source (mount or streamed copy). */
  private async carry(d: LayoutDescriptor): Promise<void> {
    // the stream is only started if the blob is neither there already nor mountable
    const reader = await this.client.openBlob(this.src, d.digest, d.size);
    await this.client.uploadBlob(this.dst, reader.stream(), { digest: d.digest, mountFrom: this.sameRegistry() ? [this.src.repository] : undefined });
  }

  private async convertLayer(l: LayoutDescriptor, mediaType: string): Promise<{ desc: LayoutDescriptor; diffId: string }> {
    const done = this.layers.get(l.digest);
    if (done) return done;
    this.opts.onLayer?.(this.layerIndex++, 0, l.digest);
    const reader = await this.client.openBlob(this.src, l.digest, l.size);
    const file = join(this.tmp, `layer-${this.layerIndex}.tar.gz`);
    let r: WriteResult;
    try {
      r = await writeEStargzFile(() => reader.stream(), file, this.opts);
    } catch (err) {
      await rm(file, { force: true });
      const e = err as Error;
      if (!e.message.includes(l.digest)) e.message = `layer ${l.digest}: ${e.message}`;
      throw e;
    }
    await this.client.uploadBlob(this.dst, createReadStream(file, { highWaterMark: 1 << 20 }), { digest: r.digest });
    await rm(file, { force: true });
    const { annotations: _a, ...rest } = l;
    const desc: LayoutDescriptor = {
      ...rest, mediaType, digest: r.digest, size: r.size,
      annotations: { ...(l.annotations ?? {}), [TOC_DIGEST_ANNOTATION]: r.tocDigest, [UNCOMPRESSED_SIZE_ANNOTATION]: String(r.uncompressedSize) },
    };
    const layer: ConvertedLayer = { from: l.digest, to: r.digest, size: r.size, tocDigest: r.tocDigest, diffId: r.diffId, uncompressedSize: r.uncompressedSize };
    this.result.layers.push(layer);
    const entry = { desc, diffId: r.diffId };
    this.layers.set(l.digest, entry);
    return entry;
  }

  /** Converts the manifest/index `reference` (tag or digest) of the source; pushes it to the target as `pushAs`. */
  async convert(reference: string | undefined, pushAs: string | undefined): Promise<{ digest: string; size: number; mediaType: string }> {
    const m = await this.client.fetchManifest(this.src, reference);
    if (m.parsed.kind === "index") {
      const manifests: LayoutDescriptor[] = [];
      for (const d of m.parsed.index.manifests as LayoutDescriptor[]) {
        const c = await this.convert(d.digest, undefined);
        manifests.push({ ...d, digest: c.digest, size: c.size });
      }
      const doc = JSON.parse(Buffer.from(m.bytes).toString("utf8"));
      return this.push({ ...doc, manifests }, m.mediaType, pushAs);
    }
    const man = m.parsed.manifest;
    if (m.mediaType !== MT.ociManifest && m.mediaType !== MT.dockerManifest) {
      // not an image: copy it as it is
      for (const d of [man.config, ...(man.layers ?? [])] as LayoutDescriptor[]) await this.carry(d);
      const digest = await this.client.putManifest(this.dst, m.bytes, m.mediaType, pushAs ?? m.digest);
      return { digest, size: m.bytes.length, mediaType: m.mediaType };
    }
    const configBytes = await this.client.fetchBlob(this.src, man.config.digest, { size: man.config.size });
    const config = JSON.parse(Buffer.from(configBytes).toString("utf8"));
    const diffIds: string[] = [...(config.rootfs?.diff_ids ?? [])];
    if (diffIds.length !== man.layers.length) {
      throw new Error(`image ${m.digest}: config lists ${diffIds.length} diff_ids for ${man.layers.length} layers`);
    }
    const layers: LayoutDescriptor[] = [];
    for (const [i, l] of (man.layers as LayoutDescriptor[]).entries()) {
      const mt = LAYER_OUT[l.mediaType];
      if (!mt) {
        if (/zstd/.test(l.mediaType)) throw new Error(`layer ${l.digest}: cannot convert media type ${l.mediaType} (zstd input is not supported)`);
        await this.carry(l);
        layers.push(l);
        continue;
      }
      const c = await this.convertLayer(l, mt);
      layers.push(c.desc);
      diffIds[i] = c.diffId;
    }
    const newConfig = Buffer.from(JSON.stringify({ ...config, rootfs: { ...config.rootfs, diff_ids: diffIds } }));
    const cfg = await this.client.uploadBlob(this.dst, newConfig);
    const doc = JSON.parse(Buffer.from(m.bytes).toString("utf8"));
    const out = await this.push({ ...doc, config: { ...doc.config, digest: cfg.digest, size: cfg.size }, layers }, m.mediaType, pushAs);
    this.result.manifests.push({ from: m.digest, to: out.digest });
    return out;
  }

  private async push(doc: unknown, mediaType: string, pushAs: string | undefined): Promise<{ digest: string; size: number; mediaType: string }> {
    const bytes = Buffer.from(JSON.stringify(doc));
    const { createHash } = await import("node:crypto");
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    const put = await this.client.putManifest(this.dst, bytes, mediaType, pushAs ?? digest);
    return { digest: put, size: bytes.length, mediaType };
  }
}

/** Converts image `source` (tag or digest reference) and pushes the result as `target` (with a tag). */
export async function convertRegistryImage(client: RegistryClient, source: string, target: string, opts: LayoutOptions = {}): Promise<RegistryConvertResult> {
  const src = parseReference(source);
  const dst = parseReference(target);
  if (dst.digest) throw new Error(`target ${target} must be a tag, not a digest (the converted image has a new digest)`);
  const tmp = await mkdtemp(join(opts.tempDir ?? tmpdir(), "esgz-convert-"));
  try {
    const c = new RegistryConverter(client, src, dst, tmp, { ...opts, allowMissingPrioritized: opts.allowMissingPrioritized ?? true });
    const top = await c.convert(undefined, dst.tag ?? "latest");
    return { ...c.result, digest: top.digest, target };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
