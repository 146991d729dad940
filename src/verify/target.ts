// A layer to verify: where its bytes come from and what they are expected to be. The inputs (blob file,
// OCI layout, registry) each produce a list of these; the checker does not care which one made it.
import type { Source } from "../estargz/source.js";

import { TOC_DIGEST_ANNOTATION, UNCOMPRESSED_SIZE_ANNOTATION } from "../estargz/annotations.js";
import type { Descriptor as OciDescriptor } from "../registry/manifest.js";

/** What the descriptor, its annotations and the image config say about a layer; absent = not checked. */
export interface LayerExpectations {
  digest?: string;
  size?: number;
  tocDigest?: string;
  diffId?: string;
  uncompressedSize?: number;
  mediaType?: string;
}

/** A random-access blob that can also be streamed front to back in one sequential read. */
export interface LayerBlob extends Source {
  /** The bytes of [start, end) in order, each piece a fresh buffer the caller may transfer. */
  stream(start: number, end: number): AsyncIterable<Uint8Array>;
  close(): Promise<void>;
}

export interface LayerTarget {
  /** How the report names it: a path, "layer 2". */
  label: string;
  /** Position in the image's manifest, when it comes from one. */
  index?: number;
  expect: LayerExpectations;
  open(): Promise<LayerBlob>;
}

/** An OCI descriptor whose media type may be missing: verify reads descriptors from untrusted layouts, registries and `--descriptor` files. */
export type LooseDescriptor = Omit<OciDescriptor, "mediaType"> & { mediaType?: string };

/** Bad arguments or unreadable inputs: exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

/** `sha256:<64 hex>`, or throws a UsageError naming `what`. */
export function checkDigest(value: string, what: string): string {
  if (!DIGEST_RE.test(value)) throw new UsageError(`${what} ${JSON.stringify(value)} is not sha256:<64 lowercase hex digits>`);
  return value;
}

/** A decimal byte count, or throws a UsageError naming `what`. */
export function checkSize(value: string | number, what: string): number {
  const s = String(value);
  const n = Number(s);
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(n)) throw new UsageError(`${what} ${JSON.stringify(value)} is not a byte count`);
  return n;
}

/** Expectations carried by a layer descriptor and its annotations. */
export function expectationsFromDescriptor(d: LooseDescriptor, what: string): LayerExpectations {
  const e: LayerExpectations = { mediaType: d.mediaType };
  if (typeof d.digest !== "string") throw new UsageError(`${what}: descriptor has no "digest"`);
  e.digest = checkDigest(d.digest, `${what}: digest`);
  if (d.size !== undefined) e.size = checkSize(d.size, `${what}: size`);
  const a = d.annotations ?? {};
  if (a[TOC_DIGEST_ANNOTATION] !== undefined) e.tocDigest = checkDigest(a[TOC_DIGEST_ANNOTATION], `${what}: annotation ${TOC_DIGEST_ANNOTATION}`);
  if (a[UNCOMPRESSED_SIZE_ANNOTATION] !== undefined) {
    e.uncompressedSize = checkSize(a[UNCOMPRESSED_SIZE_ANNOTATION], `${what}: annotation ${UNCOMPRESSED_SIZE_ANNOTATION}`);
  }
  return e;
}

const GZIP_TYPES = new Set([
  "application/vnd.oci.image.layer.v1.tar+gzip",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  "application/vnd.docker.image.rootfs.diff.tar.gzip",
  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
]);

/** True unless the media type says the layer is not gzip (unknown → try gzip). */
export function isGzipMediaType(mediaType: string | undefined): boolean {
  return mediaType === undefined || GZIP_TYPES.has(mediaType);
}

/** The image's own metadata (index, manifest, config) does not match its digest: exit code 1. */
export class TrustError extends Error {
  override name = "TrustError";
}
