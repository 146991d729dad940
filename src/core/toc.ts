// The TOC index: eStargz TOC JSON → a binary index built and held in Wasm memory (assembly/toc.ts).
// Accessors read typed views over the index tables: no JavaScript object per entry. The record
// layout mirrors assembly/toc/layout.ts. Browser-safe: no `node:` imports.
import { Core, CoreError } from "./wasm.js";

interface TocExports {
  memory: WebAssembly.Memory;
  free(ptr: number): void;
  toc_input(len: number): number;
  toc_build(input: number, len: number, tocOffset: number): number;
  toc_error_code(): number;
  toc_error_pos(): number;
  toc_free(hdr: number): void;
  toc_lookup(hdr: number, len: number): number;
  toc_parent(hdr: number, id: number): number;
}

/** Entry types as numbers (`type(id)`, `entryType(i)`). */
export const TocType = { dir: 1, reg: 2, symlink: 3, hardlink: 4, char: 5, block: 6, fifo: 7, chunk: 8 } as const;
export type TocType = (typeof TocType)[keyof typeof TocType];
const TYPE_NAMES = ["", "dir", "reg", "symlink", "hardlink", "char", "block", "fifo", "chunk"] as const;

/** Error codes of `TocIndex.build` (`CoreError.code`), mirrored from assembly/toc/errors.ts. */
export const TocErrorCode = {
  syntax: 1, eof: 2, string: 3, version: 4, shape: 5, field: 6, number: 7, type: 8, missing: 9,
  escape: 10, name: 11, digest: 12, time: 13, base64: 14, huge: 15, deep: 16, root: 17, parent: 18,
  dirReplaced: 19, chunkOrphan: 20, chunkOrder: 21, chunkSizes: 22, linkMissing: 23, linkLoop: 24,
  linkDir: 25, offset: 26, limit: 27, dupEntries: 28, trailing: 29,
} as const;

const ERROR_TEXT: Record<number, string> = {
  1: "malformed JSON: unexpected byte",
  2: "malformed JSON: unexpected end of input",
  3: "malformed JSON string (control byte or bad escape)",
  4: `"version" missing or not 1`,
  5: `not a TOC: expected {"version":1,"entries":[{...}]}`,
  6: "a field holds the wrong kind of value",
  7: "number is negative, fractional, above 2^53 or out of the field's range",
  8: "unknown entry type",
  9: `entry without "name" or "type"`,
  10: `name escapes the root with ".."`,
  11: "name holds a NUL byte",
  12: `digest is not "sha256:" + 64 lowercase hex digits`,
  13: "modtime is not an RFC 3339 date-time",
  14: "xattr value is not base64",
  15: "string longer than its limit",
  16: "JSON nested too deeply",
  17: "the root entry is not a directory",
  18: "a parent path is not a directory",
  19: "a duplicate name turns a non-empty directory into a non-directory",
  20: "chunk entry without a regular file of that name before it",
  21: "chunk entry does not follow its file's previous chunk",
  22: "chunk offsets and sizes do not add up to the file size",
  23: "hardlink target is not in the TOC",
  24: "hardlinks form a loop",
  25: "hardlink to a directory",
  26: "member offset at or past the TOC offset",
  27: "too many entries or implicit directories for the input size",
  28: `"entries" appears twice`,
  29: "bytes after the JSON value",
};

/** What a `TocErrorCode` means, in words (the text of `TocIndex.build`'s messages). */
export function tocErrorText(code: number): string {
  return ERROR_TEXT[code] ?? `error ${code}`;
}

// header words
const H_NODES = 0, H_NODE_COUNT = 1, H_CHUNKS = 2, H_CHUNK_COUNT = 3, H_ENTRIES = 4, H_ENTRY_COUNT = 5;
const H_ATTRS = 6, H_ATTR_COUNT = 7, H_XINDEX = 8, H_XINDEX_COUNT = 9, H_XATTRS = 10, H_XATTR_COUNT = 11;
const H_DIGESTS = 12, H_DIGEST_COUNT = 13, H_POOL = 14, H_POOL_BYTES = 15, H_NUMS = 16, H_NUM_COUNT = 17;
const H_HASH = 18, H_HASH_MASK = 19, H_LANDMARK = 20, H_PREFETCH_END = 21, H_ROOT_XFIRST = 22;
const H_ROOT_XCOUNT = 23, H_SCRATCH = 24, H_SCRATCH_CAP = 25, H_FILE_DIGESTS = 26, H_FILE_DIGEST_COUNT = 27;
const HEADER_WORDS = 28;
// node words
const NODE_WORDS = 8, N_ATTR = 0, N_BITS = 1, N_SIZE = 2, N_MTIME = 3, N_NAME = 4, N_NEXT = 5, N_A = 6, N_B = 7;
const F_IMPLICIT = 1, F_SHADOWED = 2, F_XATTRS = 4;
// chunk words: 48-bit blob offsets split in a low word and 16 bits of C_HIGH (see assembly/toc/layout.ts)
const CHUNK_WORDS = 5, C_MEMBER = 0, C_END = 1, C_HIGH = 2, C_INNER = 3, C_OFFSET = 4;
const SAME_DIGEST = 0xfffffffe;
const ENTRY_WORDS = 3;
const ATTR_WORDS = 6;
const NONE = 0xffffffff, CHUNK_NONE = 0x0fffffff, NUM_BIG = 0x80000000;

/** The largest TOC accepted (about 3 million entries): input, pool and tables must fit in 4 GiB of Wasm memory. */
export const MAX_TOC_BYTES = 1 << 30;

const utf8 = new TextDecoder();
let views: { buf: ArrayBuffer; u32: Uint32Array; f64: Float64Array; u8: Uint8Array } | undefined;
const utf8Encoder = new TextEncoder();

export interface TocBuildOptions {
  /** Blob offset of the TOC's gzip member (from the footer): the last chunk's compressedEnd. */
  tocOffset?: number;
}

/** Every chunk entry of a TOC in TOC order, one slot per entry (`TocIndex.chunkTable`). */
export interface ChunkTable {
  /** File node and chunk index k within it. */
  node: Int32Array;
  k: Int32Array;
  /** Blob offsets where the chunk's gzip member starts and ends (-1: end unknown). */
  memberStart: Float64Array;
  memberEnd: Float64Array;
  /** Offset of the chunk inside its decompressed member, and its decompressed size. */
  innerOffset: Float64Array;
  size: Float64Array;
  /** 32 raw bytes per chunk: its `chunkDigest`, zeros where the TOC has none. */
  digests: Uint8Array;
}

export interface TocStats {
  nodes: number;
  chunks: number;
  entries: number;
  /** Bytes of every table except the string pool and the digests. */
  indexBytes: number;
  /** Bytes of the string pool (names, link targets, owners, xattrs, with 4-byte length headers). */
  stringBytes: number;
  /** Bytes of raw 32-byte digests. */
  digestBytes: number;
}

/** A TOC index in Wasm memory. Node id 0 is the root; see docs/architecture.md for the contract. */
export class TocIndex {
  private readonly ex: TocExports;
  private hdr: number;
  private u32!: Uint32Array;
  private f64!: Float64Array;
  private u8!: Uint8Array;
  private readonly h: Uint32Array; // copy of the header words (the tables never move)
  private readonly nodesW: number;
  private readonly chunksW: number;
  private readonly entriesW: number;
  private readonly attrsW: number;
  private readonly numsF: number;
  private readonly pool: number;
  /** Number of nodes: ids are 0 .. count-1. */
  readonly count: number;
  /** Number of TOC entries (JSON array elements, chunk entries included). */
  readonly entryCount: number;
  /** 0 none, 1 `.prefetch.landmark`, 2 `.no.prefetch.landmark`. */
  readonly landmark: 0 | 1 | 2;
  /** Blob offset where prefetching ends (the prefetch landmark's member offset), 0 otherwise. */
  readonly prefetchEnd: number;

  private constructor(core: Core, hdr: number) {
    this.ex = core.exports as unknown as TocExports;
    this.hdr = hdr;
    this.refresh();
    this.h = this.u32.slice(hdr >>> 2, (hdr >>> 2) + HEADER_WORDS);
    this.nodesW = this.h[H_NODES] >>> 2;
    this.chunksW = this.h[H_CHUNKS] >>> 2;
    this.entriesW = this.h[H_ENTRIES] >>> 2;
    this.attrsW = this.h[H_ATTRS] >>> 2;
    this.numsF = this.h[H_NUMS] >>> 3;
    this.pool = this.h[H_POOL];
    this.count = this.h[H_NODE_COUNT];
    this.entryCount = this.h[H_ENTRY_COUNT];
    this.landmark = this.h[H_LANDMARK] as 0 | 1 | 2;
    this.prefetchEnd = this.num(this.h[H_PREFETCH_END]);
  }

  /** Parses `json` (the TOC bytes) inside the core. Throws CoreError(code, byte position) on bad input. */
  static build(core: Core, json: Uint8Array, opts: TocBuildOptions = {}): TocIndex {
    const ex = core.exports as unknown as TocExports;
    if (json.length > MAX_TOC_BYTES) {
      throw new CoreError(`TOC: ${json.length} bytes is more than the ${MAX_TOC_BYTES} a TOC may have`, TocErrorCode.limit, 0);
    }
    const input = ex.toc_input(json.length);
    let hdr = 0;
    try {
      core.bytes.set(json, input);
      hdr = ex.toc_build(input, json.length, opts.tocOffset ?? -1);
    } finally {
      ex.free(input);
    }
    if (hdr === 0) {
      const code = ex.toc_error_code();
      const pos = ex.toc_error_pos();
      throw new CoreError(`TOC: ${tocErrorText(code)} at byte ${pos}${context(json, pos)}`, code, pos);
    }
    return new TocIndex(core, hdr);
  }

  /** Frees the index's Wasm memory; the object is unusable afterwards. Idempotent. */
  dispose(): void {
    if (this.hdr !== 0) this.ex.toc_free(this.hdr);
    this.hdr = 0;
  }

  private refresh(): void {
    const buf = this.ex.memory.buffer;
    // indexes of one core share the views of its memory
    if (views?.buf !== buf) views = { buf, u32: new Uint32Array(buf), f64: new Float64Array(buf), u8: new Uint8Array(buf) };
    this.u32 = views.u32;
    this.f64 = views.f64;
    this.u8 = views.u8;
  }

  /**
   * The u32 view, re-made if memory grew since the last call. Growing detaches the old buffer, and a
   * view of a detached buffer has length 0: that test is a field read, where comparing
   * `memory.buffer` (a getter into V8's runtime) was the largest cost of every accessor.
   */
  private w(): Uint32Array {
    if (this.hdr === 0) throw new Error("TocIndex used after dispose()");
    if (this.u32.length === 0) this.refresh();
    return this.u32;
  }

  private num(word: number): number {
    return word < NUM_BIG ? word : (this.w(), this.f64[this.numsF + (word & 0x7fffffff)]);
  }

  private node(id: number, word: number): number {
    return this.w()[this.nodesW + id * NODE_WORDS + word];
  }

  private str(ref: number): string {
    if (ref === NONE) return "";
    const u32 = this.w();
    const at = this.pool + ref;
    return utf8.decode(this.u8.subarray(at, at + u32[(at - 4) >>> 2]));
  }

  private bytesAt(ref: number): Uint8Array {
    const u32 = this.w();
    const at = this.pool + ref;
    return this.u8.slice(at, at + u32[(at - 4) >>> 2]);
  }

  private digestAt(table: number, d: number): Uint8Array {
    this.w();
    const at = table + d * 32;
    return this.u8.slice(at, at + 32);
  }

  /** Node id of a path (cleaned like TOC names: `./`, `/`, `//`, trailing `/`), or -1. */
  lookup(path: string): number {
    this.w();
    const s = this.h[H_SCRATCH];
    const { read, written } = utf8Encoder.encodeInto(path, this.u8.subarray(s, s + this.h[H_SCRATCH_CAP]));
    if (read < path.length) return -1;
    return this.ex.toc_lookup(this.hdr, written);
  }

  type(id: number): TocType {
    return this.w()[this.attrsW + this.node(id, N_ATTR) * ATTR_WORDS] as TocType;
  }
  /** The TOC's type string ("dir", "reg", ...). */
  typeName(id: number): string {
    return TYPE_NAMES[this.type(id)];
  }
  mode(id: number): number {
    return this.w()[this.attrsW + this.node(id, N_ATTR) * ATTR_WORDS + 1];
  }
  uid(id: number): number {
    return this.w()[this.attrsW + this.node(id, N_ATTR) * ATTR_WORDS + 2];
  }
  gid(id: number): number {
    return this.w()[this.attrsW + this.node(id, N_ATTR) * ATTR_WORDS + 3];
  }
  userName(id: number): string {
    return this.str(this.w()[this.attrsW + this.node(id, N_ATTR) * ATTR_WORDS + 4]);
  }
  groupName(id: number): string {
    return this.str(this.w()[this.attrsW + this.node(id, N_ATTR) * ATTR_WORDS + 5]);
  }
  /** Size of a regular file; 0 for other types (a hardlink: `size(resolveHardlink(id))`). */
  size(id: number): number {
    return this.num(this.node(id, N_SIZE));
  }
  mtimeSec(id: number): number {
    const w = this.node(id, N_MTIME);
    return w < NUM_BIG ? w : this.f64[this.numsF + (w & 0x7fffffff)];
  }
  mtimeNsec(id: number): number {
    const w = this.node(id, N_MTIME);
    return w < NUM_BIG ? 0 : this.f64[this.numsF + (w & 0x7fffffff) + 1];
  }
  devMajor(id: number): number {
    const t = this.type(id);
    return t === TocType.char || t === TocType.block ? this.node(id, N_A) : 0;
  }
  devMinor(id: number): number {
    const t = this.type(id);
    return t === TocType.char || t === TocType.block ? this.node(id, N_B) : 0;
  }
  /** Link count: directories 2 + subdirectories; files 1 + hardlinks to them (a hardlink: its target's). */
  nlink(id: number): number {
    return this.node(id, N_BITS) & 0xffffff;
  }
  /** Created because a deeper name needed it (no TOC entry of its own; mode 0755, owner 0). */
  isImplicit(id: number): boolean {
    return ((this.node(id, N_BITS) >>> 24) & F_IMPLICIT) !== 0;
  }
  /** Replaced by a later entry of the same name (kept for TOC-order walks; not in lookup/children). */
  isShadowed(id: number): boolean {
    return ((this.node(id, N_BITS) >>> 24) & F_SHADOWED) !== 0;
  }
  /** Cleaned full path ("" for the root). */
  name(id: number): string {
    return this.str(this.node(id, N_NAME));
  }
  baseName(id: number): string {
    const ref = this.node(id, N_NAME);
    const at = this.pool + ref;
    const bytes = this.u8.subarray(at, at + this.u32[(at - 4) >>> 2]);
    return utf8.decode(bytes.subarray(bytes.lastIndexOf(0x2f) + 1));
  }
  /** Raw `linkName` of a symlink or hardlink; "" otherwise. */
  linkName(id: number): string {
    const t = this.type(id);
    return t === TocType.symlink || t === TocType.hardlink ? this.str(this.node(id, N_B)) : "";
  }
  /** Content digest (raw 32 bytes of `digest`) of a regular file, or null. */
  digest(id: number): Uint8Array | null {
    if (this.type(id) !== TocType.reg) return null;
    const d = this.node(id, N_B);
    if (d === NONE) return null;
    return d === SAME_DIGEST ? this.chunkDigest(id, 0) : this.digestAt(this.h[H_FILE_DIGESTS], d);
  }
  /** Extended attributes in TOC order, values base64-decoded. */
  xattrs(id: number): Array<{ name: string; value: Uint8Array }> {
    let first: number, count: number;
    if (id === 0) {
      first = this.h[H_ROOT_XFIRST];
      count = this.h[H_ROOT_XCOUNT];
    } else {
      if (((this.node(id, N_BITS) >>> 24) & F_XATTRS) === 0) return [];
      const u32 = this.u32, base = this.h[H_XINDEX] >>> 2;
      let lo = 0, hi = this.h[H_XINDEX_COUNT];
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (u32[base + mid * 3] < id) lo = mid + 1;
        else hi = mid;
      }
      first = u32[base + lo * 3 + 1];
      count = u32[base + lo * 3 + 2];
    }
    const out: Array<{ name: string; value: Uint8Array }> = [];
    const xb = this.h[H_XATTRS] >>> 2;
    for (let i = 0; i < count; i++) {
      const u32 = this.w();
      out.push({ name: this.str(u32[xb + (first + i) * 2]), value: this.bytesAt(u32[xb + (first + i) * 2 + 1]) });
    }
    return out;
  }
  /** Parent directory (the root's parent is the root). */
  parent(id: number): number {
    return id === 0 ? 0 : this.ex.toc_parent(this.hdr, id);
  }
  /** First child in TOC order, or -1. */
  firstChild(id: number): number {
    if (this.type(id) !== TocType.dir) return -1;
    const c = this.node(id, N_A);
    return c === NONE ? -1 : c;
  }
  /** Next sibling in TOC order, or -1. */
  nextSibling(id: number): number {
    const c = this.node(id, N_NEXT);
    return c === NONE ? -1 : c;
  }
  *children(id: number): IterableIterator<number> {
    for (let c = this.firstChild(id); c !== -1; c = this.nextSibling(c)) yield c;
  }
  /** The final non-hardlink target of a hardlink; id itself for other nodes. */
  resolveHardlink(id: number): number {
    return this.type(id) === TocType.hardlink ? this.node(id, N_A) : id;
  }

  private chunkBase(id: number): number {
    if (this.type(id) !== TocType.reg) return -1;
    const a = this.node(id, N_A);
    return a === NONE ? -1 : a;
  }
  /** Position of chunk k of node `id` in the chunk table, or a RangeError. */
  private chunkIndex(id: number, k: number): number {
    const a = this.chunkBase(id);
    if (a < 0 || k < 0 || k >= this.u32[this.chunksW + a * CHUNK_WORDS + C_OFFSET]) throw new RangeError(`chunk ${k} of node ${id} does not exist`);
    return a + k;
  }
  // Decoders of chunk record c of the table (views current: callers went through w()), shared by the
  // accessors below and chunkTable.
  private cw(c: number, word: number): number {
    return this.u32[this.chunksW + c * CHUNK_WORDS + word];
  }
  private offsetAt(c: number, k: number): number {
    return k === 0 ? 0 : this.num(this.cw(c, C_OFFSET)); // chunk 0's offset word holds the file's chunk count
  }
  private memberAt(c: number): number {
    return this.cw(c, C_MEMBER) + (this.cw(c, C_HIGH) & 0xffff) * 2 ** 32;
  }
  private endAt(c: number): number {
    const lo = this.cw(c, C_END);
    const hi = (this.cw(c, C_HIGH) >>> 16) & 0x7fff;
    return hi === 0x7fff && lo === 0xffffffff ? -1 : lo + hi * 2 ** 32;
  }
  private hasDigestAt(c: number): boolean {
    return (this.cw(c, C_HIGH) & 0x80000000) !== 0;
  }
  /** Decompressed size of record c, chunk k of node `id`: to the next chunk's offset, or to the file's end. */
  private sizeAt(id: number, c: number, k: number): number {
    const end = k + 1 < this.cw(c - k, C_OFFSET) ? this.offsetAt(c + 1, k + 1) : this.size(id);
    return end - this.offsetAt(c, k);
  }
  /** Chunks of a regular file (0 for an empty file and for other types). */
  chunkCount(id: number): number {
    const a = this.chunkBase(id);
    return a < 0 ? 0 : this.cw(a, C_OFFSET);
  }
  /** Offset of chunk k within the file. */
  chunkOffset(id: number, k: number): number {
    return this.offsetAt(this.chunkIndex(id, k), k);
  }
  /** Decompressed size of chunk k (resolved: never 0). */
  chunkSize(id: number, k: number): number {
    return this.sizeAt(id, this.chunkIndex(id, k), k);
  }
  /** Blob offset of the gzip member holding chunk k. */
  chunkMemberOffset(id: number, k: number): number {
    return this.memberAt(this.chunkIndex(id, k));
  }
  /** Offset of chunk k inside its decompressed member. */
  chunkInnerOffset(id: number, k: number): number {
    return this.num(this.cw(this.chunkIndex(id, k), C_INNER));
  }
  /** Blob offset where chunk k's member ends: the next distinct member offset, or tocOffset (-1 if not given). */
  chunkCompressedEnd(id: number, k: number): number {
    return this.endAt(this.chunkIndex(id, k));
  }
  /** Raw 32-byte `chunkDigest` of chunk k, or null if the TOC has none. */
  chunkDigest(id: number, k: number): Uint8Array | null {
    const c = this.chunkIndex(id, k);
    return this.hasDigestAt(c) ? this.digestAt(this.h[H_DIGESTS], c) : null;
  }
  /**
   * Every chunk entry in TOC order, in one pass over the tables: what the store's chunk map is built
   * from when it opens a layer. (Asked chunk by chunk through the accessors above, that took ~8 ms
   * for 850 chunks on a layer's first open, where the code still runs in V8's interpreter.)
   */
  chunkTable(): ChunkTable {
    const u32 = this.w();
    const entry = (i: number, word: number) => u32[this.entriesW + i * ENTRY_WORDS + word];
    let n = 0;
    for (let i = 0; i < this.entryCount; i++) if ((entry(i, 2) & CHUNK_NONE) !== CHUNK_NONE) n++;
    const t: ChunkTable = {
      node: new Int32Array(n), k: new Int32Array(n), memberStart: new Float64Array(n), memberEnd: new Float64Array(n),
      innerOffset: new Float64Array(n), size: new Float64Array(n), digests: new Uint8Array(n * 32),
    };
    const digestsAt = this.h[H_DIGESTS];
    for (let i = 0, j = 0; i < this.entryCount; i++) {
      const c = entry(i, 2) & CHUNK_NONE;
      if (c === CHUNK_NONE) continue;
      const id = entry(i, 1);
      const k = c - this.node(id, N_A);
      t.node[j] = id;
      t.k[j] = k;
      t.memberStart[j] = this.memberAt(c);
      t.memberEnd[j] = this.endAt(c);
      t.innerOffset[j] = this.num(this.cw(c, C_INNER));
      t.size[j] = this.sizeAt(id, c, k);
      if (this.hasDigestAt(c)) t.digests.set(this.u8.subarray(digestsAt + c * 32, digestsAt + c * 32 + 32), j * 32);
      j++;
    }
    return t;
  }
  /** Index of the chunk holding byte `fileOffset` of a regular file, or -1 past its end. */
  findChunk(id: number, fileOffset: number): number {
    const n = this.chunkCount(id);
    if (n === 0 || fileOffset < 0 || fileOffset >= this.size(id)) return -1;
    let lo = 0, hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.chunkOffset(id, mid) <= fileOffset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Node of TOC entry i (JSON order); a chunk entry's node is its file. */
  entryNode(i: number): number {
    return this.w()[this.entriesW + i * ENTRY_WORDS + 1];
  }
  /** Chunk index k (within entryNode(i)) of TOC entry i, or -1 for entries without content. */
  entryChunk(i: number): number {
    const c = this.w()[this.entriesW + i * ENTRY_WORDS + 2] & CHUNK_NONE;
    return c === CHUNK_NONE ? -1 : c - this.node(this.entryNode(i), N_A);
  }
  /** The entry's type as written in the TOC (TocType.chunk for chunk entries). */
  entryType(i: number): TocType {
    return (this.w()[this.entriesW + i * ENTRY_WORDS + 2] >>> 28) as TocType;
  }
  /** Byte offset of the entry's `{` in the TOC JSON. */
  entryPosition(i: number): number {
    return this.w()[this.entriesW + i * ENTRY_WORDS];
  }

  stats(): TocStats {
    const h = this.h;
    const indexBytes = HEADER_WORDS * 4 + h[H_NODE_COUNT] * NODE_WORDS * 4 + h[H_CHUNK_COUNT] * CHUNK_WORDS * 4 +
      h[H_ENTRY_COUNT] * ENTRY_WORDS * 4 + h[H_ATTR_COUNT] * ATTR_WORDS * 4 + h[H_XINDEX_COUNT] * 12 +
      h[H_XATTR_COUNT] * 8 + h[H_NUM_COUNT] * 8 + (h[H_HASH_MASK] + 1) * 4 + h[H_SCRATCH_CAP];
    return {
      nodes: h[H_NODE_COUNT], chunks: h[H_CHUNK_COUNT], entries: h[H_ENTRY_COUNT], indexBytes,
      stringBytes: h[H_POOL_BYTES], digestBytes: (h[H_DIGEST_COUNT] + h[H_FILE_DIGEST_COUNT]) * 32,
    };
  }
}

/** A short quote of the JSON around a byte position, for error messages. */
function context(json: Uint8Array, pos: number): string {
  if (pos < 0 || pos > json.length) return "";
  const from = Math.max(0, pos - 24), to = Math.min(json.length, pos + 24);
  const text = utf8.decode(json.subarray(from, to)).replace(/\s+/g, " ");
  return `: ${JSON.stringify(text)}`;
}
