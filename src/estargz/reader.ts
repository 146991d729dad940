// The eStargz reader over any random-access `Source`: footer → TOC member → verified TOC JSON → the
// core's TOC index; file reads return only bytes whose chunk passed its chunkDigest check.
//
// open(): one read of the blob's tail (footer + usually the whole TOC member), a second read only
// when the TOC member is larger than that window. The TOC's sha256 must equal the expected TOC digest
// (the layer annotation); opening without one must be asked for explicitly (`allowUnverifiedToc`).
//
// File reads: members are read from the source (adjacent ones in one read) and verified by the
// `verifyChunk` dependency (the core in this thread, or a worker). The store reads TOCs with it and
// files through its own read path (src/layer/).
import { createHash } from "node:crypto";
import { SourceChunkProvider, type ChunkRef, type ReadPlanOptions, type VerifyChunk } from "./chunks.js";
import { EStargzError } from "./errors.js";
import { parseFooter, FOOTER_SIZE, type Footer } from "./footer.js";
import type { Source } from "./source.js";
import { BLOCK, checkChecksum, num, str } from "./tar/header.js";
import { cleanEntryName, TOC_TAR_NAME } from "./toc-json.js";
import { TocType } from "../core/toc.js";
import { inflateGzip } from "../core/inflate.js";
import type { Core } from "../core/wasm.js";

/** What the reader uses of the core's TocIndex (src/core/toc.ts; see docs/architecture.md). */
export interface TocIndexView {
  lookup(path: string): number;
  type(id: number): number;
  typeName(id: number): string;
  name(id: number): string;
  size(id: number): number;
  digest(id: number): Uint8Array | null;
  resolveHardlink(id: number): number;
  chunkCount(id: number): number;
  chunkOffset(id: number, k: number): number;
  chunkSize(id: number, k: number): number;
  chunkMemberOffset(id: number, k: number): number;
  chunkInnerOffset(id: number, k: number): number;
  chunkCompressedEnd(id: number, k: number): number;
  chunkDigest(id: number, k: number): Uint8Array | null;
  findChunk(id: number, fileOffset: number): number;
  dispose(): void;
}


/** The TOC JSON taken out of the TOC member, and its digest. */
export interface TocMember {
  json: Uint8Array;
  /** "sha256:<hex>" of `json`. */
  tocDigest: string;
}

export interface ReaderDeps<I extends TocIndexView = TocIndexView> {
  /** Inflates one gzip member (the TOC's), refusing to produce more than `maxOut` bytes. */
  inflateMember?(member: Uint8Array, maxOut: number): Promise<Uint8Array>;
  /**
   * Instead of `inflateMember` + hashing in this thread: inflate the TOC member (`member` may be
   * transferred), take the JSON out (`tocFromMember`) and check it against `expected` in one step,
   * e.g. in a worker thread (the FUSE store).
   */
  readToc?(member: Uint8Array, tocOffset: number, maxToc: number, expected: string | undefined, name: string | undefined): Promise<TocMember>;
  /** Builds the TOC index from the JSON. */
  buildIndex(json: Uint8Array, tocOffset: number): I | Promise<I>;
  /** Inflate + verify one chunk (used by the default chunk provider). */
  verifyChunk: VerifyChunk;
}

export interface OpenOptions {
  /** Expected sha256 of the TOC JSON ("sha256:<hex>"), e.g. the layer's toc.digest annotation. */
  tocDigest?: string;
  /** Open even without `tocDigest` (the TOC is then unverified: say so to the user). */
  allowUnverifiedToc?: boolean;
  /** Bytes read from the end of the blob at open (default 64 KiB). */
  tailWindow?: number;
  /** Largest decompressed TOC member accepted (default 256 MiB). */
  maxTocSize?: number;
  /**
   * The most a chunk may inflate to, its offset inside its gzip member plus its size (default
   * DEFAULT_MAX_CHUNK_SIZE): a read of a bigger one is refused before anything is fetched or allocated.
   */
  maxChunkSize?: number;
  /** Options of the default chunk provider. */
  readPlan?: ReadPlanOptions;
}

// 64 KiB holds the footer and the TOC member of layers up to ~1,200 entries (~50 compressed bytes
// each); a larger TOC costs a second read of exactly its member. A bigger window would save that
// round trip for big layers but fetch data the window's chunks never reuse (the store caches
// verified chunks, not raw ranges): 1 MiB of it per layer, on every first lookup.
const DEFAULT_TAIL = 64 << 10;
const DEFAULT_MAX_TOC = 256 << 20;

/**
 * The default bound on what one chunk may inflate to (inner offset + size), for this reader and the
 * store's `[blob] max_chunk_size`: 16 times the 4 MiB chunks of the Go writer and of ours, so that
 * layers made with a raised chunk size still open, while a TOC entry claiming a huge chunk costs at
 * most this much per worker (the Wasm output block; see docs/decisions.md).
 */
export const DEFAULT_MAX_CHUNK_SIZE = 64 << 20;

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString("hex");
}

export class EStargzReader<I extends TocIndexView = TocIndexView> {
  private disposed = false;

  private constructor(
    readonly source: Source,
    readonly footer: Footer,
    /** The TOC JSON bytes, as stored. */
    readonly tocJson: Uint8Array,
    /** "sha256:<hex>" of the TOC JSON. */
    readonly tocDigest: string,
    /** True when the TOC was checked against an expected digest. */
    readonly tocVerified: boolean,
    /** The core's TOC index: metadata (stat, readdir, readlink, xattrs, landmarks) straight from it. */
    readonly index: I,
    private readonly chunks: SourceChunkProvider,
    private readonly maxChunkSize: number,
  ) {}

  get name(): string {
    return this.source.name ?? "blob";
  }

  static async open<I extends TocIndexView>(source: Source, deps: ReaderDeps<I>, opts: OpenOptions = {}): Promise<EStargzReader<I>> {
    const name = source.name;
    if (!opts.tocDigest && !opts.allowUnverifiedToc) {
      throw new EStargzError("toc-digest", "no expected TOC digest given: refusing to trust an unverified TOC (pass allowUnverifiedToc to open it anyway)", name);
    }
    if (opts.tocDigest && !/^sha256:[0-9a-f]{64}$/.test(opts.tocDigest)) {
      throw new EStargzError("toc-digest", `expected TOC digest ${JSON.stringify(opts.tocDigest)} is not a sha256 digest`, name);
    }
    const window = Math.min(source.size, Math.max(FOOTER_SIZE, opts.tailWindow ?? DEFAULT_TAIL));
    const tailStart = source.size - window;
    const tail = await source.read(tailStart, window);
    const footer = parseFooter(tail, source.size, name);
    const footerStart = source.size - footer.size;
    const member = footer.tocOffset >= tailStart
      ? tail.subarray(footer.tocOffset - tailStart, footerStart - tailStart)
      : await source.read(footer.tocOffset, footerStart - footer.tocOffset);

    const maxToc = opts.maxTocSize ?? DEFAULT_MAX_TOC;
    // A copy of its own, which the dependency may transfer to a worker (a Buffer's slice() is a view).
    const own = Uint8Array.prototype.slice.call(member);
    let toc: TocMember;
    if (deps.readToc) {
      toc = await deps.readToc(own, footer.tocOffset, maxToc, opts.tocDigest, name);
    } else if (deps.inflateMember) {
      let plain: Uint8Array;
      try {
        plain = await deps.inflateMember(own, maxToc + 3 * BLOCK);
      } catch (err) {
        throw tocInflateError(err, footer.tocOffset, name);
      }
      toc = tocFromMember(plain, footer.tocOffset, maxToc, opts.tocDigest, name);
    } else {
      throw new Error("EStargzReader.open: ReaderDeps needs readToc or inflateMember");
    }
    const { json, tocDigest } = toc;
    let index: I;
    try {
      index = await deps.buildIndex(json, footer.tocOffset);
    } catch (err) {
      const msg = (err as Error).message.replace(/^TOC: /, "");
      const pos = (err as { position?: number }).position;
      const at = pos !== undefined && pos >= 0 && !/at byte \d+/.test(msg) ? ` (at JSON byte ${pos})` : "";
      throw new EStargzError("toc", `invalid TOC: ${msg}${at}`, name);
    }
    const provider = new SourceChunkProvider(source, deps.verifyChunk, opts.readPlan);
    return new EStargzReader(source, footer, json, tocDigest, Boolean(opts.tocDigest), index, provider, opts.maxChunkSize ?? DEFAULT_MAX_CHUNK_SIZE);
  }

  /** Id of the regular file at `path` (hardlinks resolved), or an error naming the path. */
  fileId(path: string): number {
    const id = this.index.lookup(path);
    if (id < 0) throw new EStargzError("range", `no entry ${JSON.stringify(path)} in the TOC`, this.source.name);
    return this.regular(id);
  }

  private regular(id: number): number {
    const target = this.index.resolveHardlink(id);
    if (target < 0) throw new EStargzError("toc", `hardlink ${this.index.name(id)} has no target`, this.source.name);
    if (this.index.type(target) !== TocType.reg) {
      throw new EStargzError("range", `${JSON.stringify(this.index.name(id))} is a ${this.index.typeName(target)}, not a regular file`, this.source.name);
    }
    return target;
  }

  /** The chunks of file `id` overlapping [offset, offset+length). */
  chunkRefs(id: number, offset: number, length: number): Array<ChunkRef & { k: number; fileStart: number }> {
    const ix = this.index;
    const refs: Array<ChunkRef & { k: number; fileStart: number }> = [];
    if (length <= 0) return refs;
    const first = ix.findChunk(id, offset);
    const last = ix.findChunk(id, offset + length - 1);
    if (first < 0 || last < 0) throw new EStargzError("toc", `${ix.name(id)}: no chunk holds bytes ${offset}..${offset + length - 1}`, this.source.name);
    for (let k = first; k <= last; k++) {
      const size = ix.chunkSize(id, k);
      const inner = ix.chunkInnerOffset(id, k);
      if (inner + size > this.maxChunkSize) {
        const what = inner > 0 ? `chunk of ${size} bytes at inner offset ${inner} inflates to ${inner + size} bytes` : `chunk of ${size} bytes`;
        throw new EStargzError("limit", `${ix.name(id)} @${ix.chunkOffset(id, k)}: ${what}, over the limit of ${this.maxChunkSize}`, this.source.name);
      }
      const digest = ix.chunkDigest(id, k);
      if (!digest) throw new EStargzError("toc", `${ix.name(id)} @${ix.chunkOffset(id, k)}: chunk has no chunkDigest`, this.source.name);
      refs.push({
        k, fileStart: ix.chunkOffset(id, k), memberOffset: ix.chunkMemberOffset(id, k), innerOffset: inner,
        size, compressedEnd: ix.chunkCompressedEnd(id, k), digest, file: ix.name(id), chunkOffset: ix.chunkOffset(id, k),
      });
    }
    return refs;
  }

  /**
   * Bytes [offset, offset+length) of regular file `id` (hardlinks followed), clipped to the file's
   * end. Every chunk involved is verified first; a whole-file read also checks the file's `digest`.
   */
  async readFile(id: number, offset = 0, length = Number.MAX_SAFE_INTEGER): Promise<Uint8Array> {
    if (this.disposed) throw new Error("EStargzReader: used after close()");
    id = this.regular(id);
    const size = this.index.size(id);
    if (!Number.isSafeInteger(offset) || offset < 0 || length < 0) {
      throw new EStargzError("range", `invalid read of ${length} bytes at ${offset} in ${this.index.name(id)}`, this.source.name);
    }
    if (offset >= size) return new Uint8Array(0);
    const n = Math.min(length, size - offset);
    const refs = this.chunkRefs(id, offset, n);
    const out = new Uint8Array(n);
    // only the requested part of each verified chunk is copied out
    await this.chunks.withChunks(refs, (i, data) => {
      const r = refs[i];
      const from = Math.max(offset, r.fileStart);
      const to = Math.min(offset + n, r.fileStart + r.size);
      out.set(data.subarray(from - r.fileStart, to - r.fileStart), from - offset);
    });
    if (offset === 0 && n === size) {
      const want = this.index.digest(id);
      // a one-chunk file whose chunkDigest is its digest (as writers make them) was just checked
      if (want && refs.length === 1 && Buffer.from(want).equals(refs[0].digest)) return out;
      const got = createHash("sha256").update(out).digest();
      if (!want || !Buffer.from(want).equals(got)) {
        throw new EStargzError("file-digest", `${this.index.name(id)}: content hashes to sha256:${got.toString("hex")}, the TOC says ${want ? `sha256:${hex(want)}` : "nothing"}`, this.source.name);
      }
    }
    return out;
  }

  /** The whole content of the regular file at `path` (or id), digest-checked. */
  async readWholeFile(pathOrId: string | number): Promise<Uint8Array> {
    const id = typeof pathOrId === "number" ? this.regular(pathOrId) : this.fileId(pathOrId);
    return this.readFile(id, 0, this.index.size(id));
  }

  /** Frees the index. */
  close(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.index.dispose();
  }
}

/**
 * A layer's TOC member → the TOC JSON and its digest, checked against `expected` (the layer's
 * annotation) when given: inflate on `core`, tar header, sha256. Errors name the layer.
 */
export function readTocMember(core: Core, member: Uint8Array, tocOffset: number, maxToc: number, expected: string | undefined, name?: string): TocMember {
  let plain: Uint8Array;
  try {
    plain = inflateGzip(core, member, maxToc + 3 * BLOCK);
  } catch (err) {
    throw tocInflateError(err, tocOffset, name);
  }
  return tocFromMember(plain, tocOffset, maxToc, expected, name);
}

/** The error for a TOC member that does not inflate (`err` from the inflater). */
export function tocInflateError(err: unknown, tocOffset: number, name?: string): EStargzError {
  return new EStargzError("toc", `TOC member at offset ${tocOffset} does not inflate: ${(err as Error).message}`, name);
}

/**
 * The TOC JSON out of the inflated TOC member and its digest; with `expected`, a different digest is
 * a `toc-digest` error. (Used by `open` and by the store's worker op `readToc`.)
 */
export function tocFromMember(plain: Uint8Array, tocOffset: number, maxToc: number, expected: string | undefined, name?: string): TocMember {
  const json = tocFromTar(plain, tocOffset, maxToc, name);
  const tocDigest = `sha256:${createHash("sha256").update(json).digest("hex")}`;
  if (expected && expected !== tocDigest) {
    throw new EStargzError("toc-digest", `TOC digest mismatch: expected ${expected}, the TOC hashes to ${tocDigest}`, name);
  }
  return { json, tocDigest };
}

/** The TOC JSON inside the decompressed TOC member: a tar header named stargz.index.json, then the JSON. */
export function tocFromTar(plain: Uint8Array, tocOffset: number, maxToc: number, name?: string): Uint8Array {
  if (plain.length < BLOCK) throw new EStargzError("toc", `TOC member at offset ${tocOffset} holds ${plain.length} bytes, less than a tar header`, name);
  try {
    checkChecksum(plain, tocOffset);
  } catch {
    throw new EStargzError("toc", `TOC member at offset ${tocOffset} does not start with a valid tar header`, name);
  }
  const entry = str(plain, 0, 100);
  if (cleanEntryName(entry) !== TOC_TAR_NAME) {
    throw new EStargzError("toc", `TOC tar entry is named ${JSON.stringify(entry)}, expected ${JSON.stringify(TOC_TAR_NAME)}`, name);
  }
  let size: number;
  try {
    size = num(plain, 124, 12, "size", tocOffset);
  } catch (err) {
    throw new EStargzError("toc", (err as Error).message, name);
  }
  if (size > maxToc) throw new EStargzError("limit", `TOC of ${size} bytes exceeds the limit of ${maxToc}`, name);
  if (BLOCK + size > plain.length) {
    throw new EStargzError("toc", `TOC tar entry says ${size} bytes but the member holds only ${plain.length - BLOCK} after the header (truncated?)`, name);
  }
  return plain.slice(BLOCK, BLOCK + size);
}
