// Reading blobs: size by HEAD (ranged-GET fallback), byte ranges straight into caller buffers (one
// range, several in one multipart request, or one covering range), whole small blobs verified
// against their digest, whole large blobs streamed, and a BlobReader usable as an eStargz Source.
import { RegistryError } from "./errors.js";
import { digestAlgorithm, checkDigest, hasherFor } from "./digest.js";
import { byterangesBoundary, MultipartSink } from "./multipart.js";
import { ContiguousSink, parseContentRange, rangeHeader, RangeWriter, type RangeTarget } from "./ranges.js";
import { formatReference, type Reference } from "./reference.js";
import type { Session, Target } from "./session.js";
import { BufferSink, type BodySink, type ResponseHead } from "./http.js";

export interface ByteRange {
  offset: number;
  length: number;
  /** Where to put the bytes (exactly `length` long); allocated when absent. */
  into?: Uint8Array;
}

export interface BlobReadOptions {
  /** Known blob size (from the manifest): bounds are checked and answers compared against it. */
  size?: number;
  /** Never ask for several ranges in one request (stargz-store's force_single_range_mode). */
  singleRange?: boolean;
}

export const blobPath = (ref: Reference, digest: string) => `/v2/${ref.repository}/blobs/${digest}`;
const blobTarget = (ref: Reference, digest: string): Target => ({ ref, object: `blob ${digest}` });
/** Spans further apart than this are fetched as separate covering ranges when multi-range is unavailable. */
export const MAX_COVERING_GAP = 1 << 20;
const num = (v: string | string[] | undefined) => (v === undefined ? NaN : Number(Array.isArray(v) ? v[0] : v));

/** The blob's size: HEAD's Content-Length, else the total of a one-byte ranged GET. */
export async function blobSize(session: Session, ref: Reference, digest: string): Promise<number> {
  digestAlgorithm(digest);
  const target = blobTarget(ref, digest);
  try {
    const head = await session.perform(target, { method: "HEAD", path: blobPath(ref, digest), accept: (s) => s === 200, followRedirects: true }, () => ({ data() {}, end() {} }));
    const len = num(head.headers["content-length"]);
    if (Number.isSafeInteger(len) && len >= 0) return len;
  } catch (err) {
    // Blob storage often refuses HEAD on a URL signed for GET (403): ask with a ranged GET instead.
    if (!(err instanceof RegistryError) || err.code === "not-found") throw err;
  }
  let total: number | undefined;
  await session.perform(target, { method: "GET", path: blobPath(ref, digest), headers: { range: "bytes=0-0" }, accept: (s) => s === 206 || s === 200, followRedirects: true }, (h) => {
    const cr = parseContentRange(h.headers["content-range"]);
    total = h.status === 206 ? cr?.total : num(h.headers["content-length"]);
    if (total === undefined || !Number.isSafeInteger(total)) throw new RegistryError("protocol", `cannot tell the blob size: no usable Content-Length or Content-Range`, { retriable: false });
    return { data: () => true, end() {} };
  });
  return total!;
}

/** The sink for one answer to a ranged GET, whatever form it took. */
function rangeSink(h: ResponseHead, writer: RangeWriter, size: number | undefined, what: () => string): BodySink {
  writer.reset();
  if (h.status === 200) {
    // The registry ignored Range and sends the whole blob: take what is needed, then hang up.
    const len = num(h.headers["content-length"]);
    const total = Number.isSafeInteger(len) ? len : size;
    if (total === undefined) throw new RegistryError("protocol", `200 without Content-Length to a ranged GET ${what()}`, { retriable: false });
    if (size !== undefined && total !== size) throw new RegistryError("protocol", `whole-blob answer of ${total} bytes, expected ${size} ${what()}`, { retriable: true });
    if (writer.end > total) throw new RegistryError("range", `read up to byte ${writer.end} of a ${total}-byte blob ${what()}`);
    return new ContiguousSink(writer, 0, total, what);
  }
  const boundary = byterangesBoundary(h.headers["content-type"]);
  if (boundary) return new MultipartSink(boundary, writer, size, what);
  const cr = parseContentRange(h.headers["content-range"]);
  if (!cr) throw new RegistryError("protocol", `206 with a missing or malformed Content-Range ${JSON.stringify(h.headers["content-range"] ?? null)} ${what()}`, { retriable: true });
  if (size !== undefined && cr.total !== undefined && cr.total !== size) {
    throw new RegistryError("protocol", `Content-Range ${h.headers["content-range"]} names a blob of ${cr.total} bytes, expected ${size} ${what()}`, { retriable: true });
  }
  if (cr.start > writer.start || cr.end + 1 < writer.end) {
    // A part that does not cover what was asked: bytes at the wrong offsets must never be served.
    throw new RegistryError("protocol", `Content-Range ${h.headers["content-range"]} does not cover the requested bytes ${writer.start}-${writer.end - 1} ${what()}`, { retriable: true });
  }
  const len = num(h.headers["content-length"]);
  if (Number.isSafeInteger(len) && len !== cr.end - cr.start + 1) {
    throw new RegistryError("protocol", `Content-Length ${len} disagrees with Content-Range ${h.headers["content-range"]} ${what()}`, { retriable: true });
  }
  return new ContiguousSink(writer, cr.start, cr.end + 1, what);
}

/**
 * Reads byte ranges of a blob into caller buffers; returns the buffers in the order given. Several
 * ranges go out as one multipart request unless the endpoint has shown it cannot answer them, then
 * as one covering range (only the wanted bytes are copied out of it).
 */
export async function readBlobRanges(session: Session, ref: Reference, digest: string, ranges: ByteRange[], opts: BlobReadOptions = {}): Promise<Uint8Array[]> {
  const target = blobTarget(ref, digest);
  const targets: RangeTarget[] = ranges.map((r, i) => {
    if (!Number.isSafeInteger(r.offset) || !Number.isSafeInteger(r.length) || r.offset < 0 || r.length < 0 || (opts.size !== undefined && r.offset + r.length > opts.size)) {
      throw new RegistryError("range", `range ${i} (${r.length} bytes at ${r.offset}) is outside the blob${opts.size !== undefined ? ` (size ${opts.size})` : ""}`, { registry: ref.registry, repository: ref.repository, object: target.object });
    }
    if (r.into && r.into.length !== r.length) throw new RegistryError("range", `range ${i}: buffer of ${r.into.length} bytes for ${r.length} bytes`, { object: target.object });
    return { offset: r.offset, length: r.length, into: r.into ?? new Uint8Array(r.length) };
  });
  const wanted = targets.filter((t) => t.length > 0);
  if (wanted.length === 0) return targets.map((t) => t.into);

  const { header, spans } = rangeHeader(wanted);
  const fail = (w: RangeWriter) =>
    new RegistryError("protocol", `answer did not contain ${w.firstMissing()}`, { registry: ref.registry, repository: ref.repository, object: target.object });
  const get = (range: string, w: RangeWriter) =>
    session.perform(target, { method: "GET", path: blobPath(ref, digest), headers: { range }, accept: (s) => s === 206 || s === 200, followRedirects: true, redirectKey: digest }, (h) =>
      rangeSink(h, w, opts.size, () => `(${range})`),
    );

  if (spans.length > 1 && !opts.singleRange && session.multiRange.get(ref.registry) !== false) {
    const writer = new RangeWriter(wanted);
    try {
      const head = await get(header, writer);
      if (writer.complete()) {
        if (!byterangesBoundary(head.headers["content-type"])) session.multiRange.set(ref.registry, false);
        return targets.map((t) => t.into);
      }
      session.multiRange.set(ref.registry, false);
    } catch (err) {
      if (!(err instanceof RegistryError) || (err.code !== "protocol" && err.code !== "range" && err.status !== 400)) throw err;
      session.multiRange.set(ref.registry, false); // cannot answer multi-range: covering ranges from now on
    }
  }
  // One covering range per group of nearby spans (far-apart groups are not worth the bytes between them).
  const groups: RangeTarget[][] = [];
  let groupEnd = -Infinity;
  for (const t of [...wanted].sort((a, b) => a.offset - b.offset)) {
    if (t.offset - groupEnd > MAX_COVERING_GAP || groups.length === 0) groups.push([]);
    groups[groups.length - 1].push(t);
    groupEnd = Math.max(groupEnd, t.offset + t.length);
  }
  await Promise.all(groups.map(async (g) => {
    const w = new RangeWriter(g);
    await get(`bytes=${w.start}-${w.end - 1}`, w);
    if (!w.complete()) throw fail(w);
  }));
  return targets.map((t) => t.into);
}

/** A whole small blob (a config), size-limited and checked against its digest. */
export async function fetchBlobBytes(session: Session, ref: Reference, digest: string, limit: number, expectedSize?: number): Promise<Uint8Array> {
  const target = blobTarget(ref, digest);
  const ctx = { registry: ref.registry, repository: ref.repository, object: target.object };
  if (expectedSize !== undefined && expectedSize > limit) throw new RegistryError("too-large", `descriptor size ${expectedSize} is over the limit of ${limit} bytes`, ctx);
  let sink!: BufferSink;
  await session.perform(target, { method: "GET", path: blobPath(ref, digest), accept: (s) => s === 200, followRedirects: true, redirectKey: digest }, (h) => {
    const len = num(h.headers["content-length"]);
    if (len > limit) throw new RegistryError("too-large", `Content-Length ${len} is over the limit of ${limit} bytes`);
    sink = new BufferSink(limit, (l) => new RegistryError("too-large", `body over the limit of ${l} bytes`), false, len);
    return sink;
  });
  const bytes = sink.bytes();
  if (expectedSize !== undefined && bytes.length !== expectedSize) throw new RegistryError("digest", `got ${bytes.length} bytes, descriptor says ${expectedSize}`, ctx);
  checkDigest(bytes, digest, ctx);
  return bytes;
}

/** A blob as a random-access source (the eStargz reader's `Source`), plus whole-blob streaming. */
export class BlobReader {
  readonly name: string;
  constructor(private readonly session: Session, readonly ref: Reference, readonly digest: string, readonly size: number, private readonly opts: { singleRange?: boolean } = {}) {
    this.name = `blob ${digest} of ${formatReference({ registry: ref.registry, repository: ref.repository })}`;
  }

  /** Exactly `length` bytes at `offset`. */
  async read(offset: number, length: number): Promise<Uint8Array> {
    const [out] = await readBlobRanges(this.session, this.ref, this.digest, [{ offset, length }], { size: this.size, singleRange: this.opts.singleRange });
    return out;
  }

  /** Fills `into` with the bytes at `offset`. */
  async readInto(offset: number, into: Uint8Array): Promise<Uint8Array> {
    const [out] = await readBlobRanges(this.session, this.ref, this.digest, [{ offset, length: into.length, into }], { size: this.size, singleRange: this.opts.singleRange });
    return out;
  }

  /** Several ranges in as few requests as the registry allows (one). */
  readRanges(ranges: ByteRange[]): Promise<Uint8Array[]> {
    return readBlobRanges(this.session, this.ref, this.digest, ranges, { size: this.size, singleRange: this.opts.singleRange });
  }

  /**
   * The whole blob in order, in windows of `windowBytes` (the next one fetched while the caller
   * consumes the current). Each window is retried on its own, so a dropped connection costs one
   * window. With `verify` (default), the digest is checked and a mismatch thrown after the last window.
   */
  async *stream(opts: { windowBytes?: number; verify?: boolean } = {}): AsyncGenerator<Uint8Array> {
    const window = opts.windowBytes ?? 4 << 20;
    const hasher = opts.verify === false ? undefined : hasherFor(this.digest);
    let next: Promise<Uint8Array> | undefined = this.size > 0 ? this.read(0, Math.min(window, this.size)) : undefined;
    next?.catch(() => undefined);
    for (let at = 0; at < this.size; ) {
      const piece = await next!;
      const nextAt = at + piece.length;
      next = nextAt < this.size ? this.read(nextAt, Math.min(window, this.size - nextAt)) : undefined;
      next?.catch(() => undefined);
      hasher?.hash.update(piece);
      yield piece;
      at = nextAt;
    }
    if (hasher) {
      const actual = hasher.finish();
      if (actual !== this.digest) {
        throw new RegistryError("digest", `content digest mismatch: expected ${this.digest}, got ${actual} (${this.size} bytes)`, { registry: this.ref.registry, repository: this.ref.repository, object: `blob ${this.digest}` });
      }
    }
  }
}
