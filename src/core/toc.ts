// The TOC index: eStargz TOC JSON → a binary index built and held in Wasm memory (assembly/toc.ts).
// Accessors read typed views over the index tables: no JavaScript object per entry. The record
// layout is read from the core's exports (tocLayout), not copied here. Browser-safe: no `node:` imports.
import { Core, CoreError } from "./wasm.js";
import { SHA256_DIGEST_SIZE } from "./sha256.js";

interface TocExports {
  memory: WebAssembly.Memory;
  alloc(size: number): number;
  free(ptr: number): void;
  toc_input(len: number): number;
  toc_build(input: number, len: number, tocOffset: number): number;
  toc_error_code(): number;
  toc_error_pos(): number;
  toc_free(hdr: number): void;
  toc_lookup(hdr: number, len: number): number;
  toc_parent(hdr: number, id: number): number;
}

/** Entry types as numbers (`type(id)`, `entryType(i)`): the core's numbering, checked when it loads (tocLayout). */
export const TocType = { dir: 1, reg: 2, symlink: 3, hardlink: 4, char: 5, block: 6, fifo: 7, chunk: 8 } as const;
export type TocType = (typeof TocType)[keyof typeof TocType];
const TYPE_NAMES: string[] = [""];
for (const [name, value] of Object.entries(TocType)) TYPE_NAMES[value] = name;

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

/**
 * The index layout as the core exports it (assembly/toc/layout.ts, exported as TOC_* by
 * assembly/toc.ts): per record, the fields the accessors read; then the markers and bit fields.
 * Export names follow from these keys: record `header`, field `nodeCount` → TOC_HEADER_NODE_COUNT
 * (byte offset), TOC_HEADER_BYTES (record size); constant `fImplicit` → TOC_F_IMPLICIT.
 */
const RECORDS = {
  header: [
    "nodes", "nodeCount", "chunks", "chunkCount", "entries", "entryCount", "attrs", "attrCount", "xindex", "xindexCount",
    "xattrs", "xattrCount", "digests", "digestCount", "pool", "poolBytes", "nums", "numCount", "hash", "hashMask", "landmark",
    "prefetchEnd", "rootXFirst", "rootXCount", "scratch", "scratchCap", "fileDigests", "fileDigestCount",
  ],
  node: ["attr", "bits", "size", "mtime", "name", "next", "a", "b"],
  chunk: ["member", "end", "high", "inner", "offset"],
  entry: ["pos", "node", "chunk"],
  attr: ["type", "mode", "uid", "gid", "user", "group"],
  xindex: ["node", "first", "count"],
  xattr: ["name", "value"],
} as const;
const CONSTANTS = [
  "digestBytes", "none", "sameDigest", "numBig", "nlinkMask", "flagShift", "fImplicit", "fShadowed", "fXattrs",
  "chunkNone", "entryTypeShift", "highMemberMask", "highEndShift", "highEndMask", "highHasDigest", "endUnknown",
] as const;

type RecordLayout<F extends readonly string[]> = { readonly [K in F[number]]: number } & { readonly words: number };

/**
 * One core's index layout: per record its size in u32 words (`words`) and each field's word index;
 * the markers and bit fields as numbers; `exports` = every TOC_* value read, by export name.
 */
export type TocLayout = { readonly [R in keyof typeof RECORDS]: RecordLayout<(typeof RECORDS)[R]> } &
  { readonly [C in (typeof CONSTANTS)[number]]: number } & { readonly exports: Readonly<Record<string, number>> };

const layouts = new WeakMap<Core, TocLayout>();

/**
 * The index layout of `core`, read from its exports once and kept. Throws if an export is missing,
 * if a field is not a whole u32 word inside its record, or if the core numbers entry types other
 * than `TocType`: such a core and this host are from different builds.
 */
export function tocLayout(core: Core): TocLayout {
  let layout = layouts.get(core);
  if (layout) return layout;
  const exports: Record<string, number> = {};
  const bad = (what: string) => new Error(`esgz-fast core: ${what}: the core and src/core/toc.ts are from different builds`);
  const read = (...parts: string[]): number => {
    const name = `TOC_${parts.map((p) => p.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()).join("_")}`;
    const g = core.exports[name];
    if (!(g instanceof WebAssembly.Global)) throw bad(`no export ${name}`);
    const v = typeof g.value === "bigint" ? Number(g.value) : g.value >>> 0;
    exports[name] = v;
    return v;
  };
  const out: Record<string, unknown> = { exports };
  for (const [record, fields] of Object.entries(RECORDS)) {
    const bytes = read(record, "bytes");
    if (bytes % 4 !== 0) throw bad(`a ${record} record is ${bytes} bytes, not whole u32 words`);
    const r: Record<string, number> = { words: bytes / 4 };
    for (const f of fields) {
      const at = read(record, f);
      if (at % 4 !== 0 || at + 4 > bytes) throw bad(`${record}.${f} at byte ${at} of ${bytes} is not a u32 word of the record`);
      r[f] = at / 4;
    }
    out[record] = r;
  }
  for (const c of CONSTANTS) out[c] = read(c);
  for (const [name, value] of Object.entries(TocType)) {
    const theirs = read("type", name);
    if (theirs !== value) throw bad(`entry type ${name} is ${theirs} in the core, ${value} here`);
  }
  layout = out as TocLayout;
  layouts.set(core, layout);
  return layout;
}

/** The largest TOC accepted (about 3 million entries): input, pool and tables must fit in 4 GiB of Wasm memory. */
export const MAX_TOC_BYTES = 1 << 30;

const utf8 = new TextDecoder();
// Per memory buffer (weakly: a dropped core's memory is not kept alive by its views).
const views = new WeakMap<ArrayBuffer, { u32: Uint32Array; f64: Float64Array; u8: Uint8Array }>();
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
  private readonly L: TocLayout; // read by the cold paths (xattrs, stats); the hot ones use the fields below
  private readonly h: Uint32Array; // copy of the header words (the tables never move)
  private readonly numsF: number;
  private readonly pool: number;
  // The layout as plain numbers, so that an accessor costs no more than with constants: field f of
  // record r of a table is u32[column + r * stride], the column being the table's word index plus
  // f's word index in the record.
  private readonly nodeStride: number;
  private readonly nAttr: number;
  private readonly nBits: number;
  private readonly nSize: number;
  private readonly nMtime: number;
  private readonly nName: number;
  private readonly nNext: number;
  private readonly nA: number;
  private readonly nB: number;
  private readonly attrStride: number;
  private readonly aType: number;
  private readonly aMode: number;
  private readonly aUid: number;
  private readonly aGid: number;
  private readonly aUser: number;
  private readonly aGroup: number;
  private readonly chunkStride: number;
  private readonly cMember: number;
  private readonly cEnd: number;
  private readonly cHigh: number;
  private readonly cInner: number;
  private readonly cOffset: number;
  private readonly entryStride: number;
  private readonly ePos: number;
  private readonly eNode: number;
  private readonly eChunk: number;
  private readonly none: number;
  private readonly numBig: number;
  private readonly nlinkMask: number;
  private readonly flagShift: number;
  private readonly fImplicit: number;
  private readonly fShadowed: number;
  private readonly sameDigest: number;
  private readonly chunkNone: number;
  private readonly typeShift: number;
  private readonly highMemberMask: number;
  private readonly highEndShift: number;
  private readonly highEndMask: number;
  private readonly highHasDigest: number;
  private readonly endUnknown: number;
  private readonly digestStride: number;
  private readonly digests: number; // byte offsets of the digest tables and the lookup buffer
  private readonly fileDigests: number;
  private readonly scratch: number;
  private readonly scratchCap: number;
  /** Number of nodes: ids are 0 .. count-1. */
  readonly count: number;
  /** Number of TOC entries (JSON array elements, chunk entries included). */
  readonly entryCount: number;
  /** 0 none, 1 `.prefetch.landmark`, 2 `.no.prefetch.landmark`. */
  readonly landmark: 0 | 1 | 2;
  /** Blob offset where prefetching ends (the prefetch landmark's member offset), 0 otherwise. */
  readonly prefetchEnd: number;

  private constructor(core: Core, layout: TocLayout, hdr: number) {
    this.ex = core.exports as unknown as TocExports;
    this.hdr = hdr;
    this.refresh();
    const L = (this.L = layout), H = L.header;
    const h = (this.h = this.u32.slice(hdr >>> 2, (hdr >>> 2) + H.words));
    this.numsF = h[H.nums] >>> 3;
    this.pool = h[H.pool];
    const nodes = h[H.nodes] >>> 2, attrs = h[H.attrs] >>> 2, chunks = h[H.chunks] >>> 2, entries = h[H.entries] >>> 2;
    this.nodeStride = L.node.words;
    this.nAttr = nodes + L.node.attr;
    this.nBits = nodes + L.node.bits;
    this.nSize = nodes + L.node.size;
    this.nMtime = nodes + L.node.mtime;
    this.nName = nodes + L.node.name;
    this.nNext = nodes + L.node.next;
    this.nA = nodes + L.node.a;
    this.nB = nodes + L.node.b;
    this.attrStride = L.attr.words;
    this.aType = attrs + L.attr.type;
    this.aMode = attrs + L.attr.mode;
    this.aUid = attrs + L.attr.uid;
    this.aGid = attrs + L.attr.gid;
    this.aUser = attrs + L.attr.user;
    this.aGroup = attrs + L.attr.group;
    this.chunkStride = L.chunk.words;
    this.cMember = chunks + L.chunk.member;
    this.cEnd = chunks + L.chunk.end;
    this.cHigh = chunks + L.chunk.high;
    this.cInner = chunks + L.chunk.inner;
    this.cOffset = chunks + L.chunk.offset;
    this.entryStride = L.entry.words;
    this.ePos = entries + L.entry.pos;
    this.eNode = entries + L.entry.node;
    this.eChunk = entries + L.entry.chunk;
    this.none = L.none;
    this.numBig = L.numBig;
    this.nlinkMask = L.nlinkMask;
    this.flagShift = L.flagShift;
    this.fImplicit = L.fImplicit;
    this.fShadowed = L.fShadowed;
    this.sameDigest = L.sameDigest;
    this.chunkNone = L.chunkNone;
    this.typeShift = L.entryTypeShift;
    this.highMemberMask = L.highMemberMask;
    this.highEndShift = L.highEndShift;
    this.highEndMask = L.highEndMask;
    this.highHasDigest = L.highHasDigest;
    this.endUnknown = L.endUnknown;
    this.digestStride = L.digestBytes;
    this.digests = h[H.digests];
    this.fileDigests = h[H.fileDigests];
    this.scratch = h[H.scratch];
    this.scratchCap = h[H.scratchCap];
    this.count = h[H.nodeCount];
    this.entryCount = h[H.entryCount];
    this.landmark = h[H.landmark] as 0 | 1 | 2;
    this.prefetchEnd = this.num(h[H.prefetchEnd]);
  }

  /** Parses `json` (the TOC bytes) inside the core. Throws CoreError(code, byte position) on bad input. */
  static build(core: Core, json: Uint8Array, opts: TocBuildOptions = {}): TocIndex {
    const ex = core.exports as unknown as TocExports;
    const layout = tocLayout(core);
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
    return new TocIndex(core, layout, hdr);
  }

  /** Frees the index's Wasm memory; the object is unusable afterwards. Idempotent. */
  dispose(): void {
    if (this.hdr !== 0) this.ex.toc_free(this.hdr);
    this.hdr = 0;
  }

  /**
   * The same index in `to`, another core instance, and this one disposed. Every table is copied at its
   * used size: they hold no absolute pointers (pool refs, node and chunk ids are relative), only the
   * header points at them. Leaves the build's high-water mark (the TOC JSON, growth slack) behind in a
   * core that can then be dropped, as a Wasm memory never shrinks.
   */
  moveTo(to: Core): TocIndex {
    const dst = to.exports as unknown as TocExports;
    const h = this.h, L = this.L;
    const hdr = dst.alloc(L.header.words * 4);
    const header = h.slice();
    for (const [word, bytes] of tableSizes(h, L)) {
      if (h[word] === 0) continue;
      const at = dst.alloc(bytes);
      this.w(); // (refreshed in case `to` is this core and the alloc grew it)
      to.bytes.set(this.u8.subarray(h[word], h[word] + bytes), at); // to.bytes after the alloc: growing detaches
      header[word] = at;
    }
    new Uint32Array(to.bytes.buffer, hdr, L.header.words).set(header);
    this.dispose();
    return new TocIndex(to, tocLayout(to), hdr);
  }

  private refresh(): void {
    const buf = this.ex.memory.buffer;
    // indexes of one core share the views of its memory
    let v = views.get(buf);
    if (!v) views.set(buf, (v = { u32: new Uint32Array(buf), f64: new Float64Array(buf), u8: new Uint8Array(buf) }));
    this.u32 = v.u32;
    this.f64 = v.f64;
    this.u8 = v.u8;
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

  /** A num word: the value itself below numBig, else an index into the f64 side table. */
  private num(word: number): number {
    return word < this.numBig ? word : (this.w(), this.f64[this.numsF + word - this.numBig]);
  }

  /** Word `column` (nAttr, nBits, ...) of node id. */
  private node(id: number, column: number): number {
    return this.w()[column + id * this.nodeStride];
  }

  /** Word `column` (aType, aMode, ...) of node id's attributes. */
  private attr(id: number, column: number): number {
    const u32 = this.w();
    return u32[column + u32[this.nAttr + id * this.nodeStride] * this.attrStride];
  }

  private flag(id: number, f: number): boolean {
    return ((this.node(id, this.nBits) >>> this.flagShift) & f) !== 0;
  }

  private str(ref: number): string {
    if (ref === this.none) return "";
    const u32 = this.w();
    const at = this.pool + ref;
    return utf8.decode(this.u8.subarray(at, at + u32[(at - 4) >>> 2]));
  }

  private bytesAt(ref: number): Uint8Array {
    const u32 = this.w();
    const at = this.pool + ref;
    return this.u8.slice(at, at + u32[(at - 4) >>> 2]);
  }

  /** Digest d of a digest table (the stride is the layout's, the digest SHA-256's). */
  private digestAt(table: number, d: number): Uint8Array {
    this.w();
    const at = table + d * this.digestStride;
    return this.u8.slice(at, at + SHA256_DIGEST_SIZE);
  }

  /** Node id of a path (cleaned like TOC names: `./`, `/`, `//`, trailing `/`), or -1. */
  lookup(path: string): number {
    this.w();
    const s = this.scratch;
    const { read, written } = utf8Encoder.encodeInto(path, this.u8.subarray(s, s + this.scratchCap));
    if (read < path.length) return -1;
    return this.ex.toc_lookup(this.hdr, written);
  }

  type(id: number): TocType {
    return this.attr(id, this.aType) as TocType;
  }
  /** The TOC's type string ("dir", "reg", ...). */
  typeName(id: number): string {
    return TYPE_NAMES[this.type(id)];
  }
  mode(id: number): number {
    return this.attr(id, this.aMode);
  }
  uid(id: number): number {
    return this.attr(id, this.aUid);
  }
  gid(id: number): number {
    return this.attr(id, this.aGid);
  }
  userName(id: number): string {
    return this.str(this.attr(id, this.aUser));
  }
  groupName(id: number): string {
    return this.str(this.attr(id, this.aGroup));
  }
  /** Size of a regular file; 0 for other types (a hardlink: `size(resolveHardlink(id))`). */
  size(id: number): number {
    return this.num(this.node(id, this.nSize));
  }
  mtimeSec(id: number): number {
    const w = this.node(id, this.nMtime);
    return w < this.numBig ? w : this.f64[this.numsF + w - this.numBig];
  }
  mtimeNsec(id: number): number {
    // a time that is not whole seconds in 31 bits is a (sec, nsec) pair of nums
    const w = this.node(id, this.nMtime);
    return w < this.numBig ? 0 : this.f64[this.numsF + w - this.numBig + 1];
  }
  devMajor(id: number): number {
    const t = this.type(id);
    return t === TocType.char || t === TocType.block ? this.node(id, this.nA) : 0;
  }
  devMinor(id: number): number {
    const t = this.type(id);
    return t === TocType.char || t === TocType.block ? this.node(id, this.nB) : 0;
  }
  /** Link count: directories 2 + subdirectories; files 1 + hardlinks to them (a hardlink: its target's). */
  nlink(id: number): number {
    return this.node(id, this.nBits) & this.nlinkMask;
  }
  /** Created because a deeper name needed it (no TOC entry of its own; mode 0755, owner 0). */
  isImplicit(id: number): boolean {
    return this.flag(id, this.fImplicit);
  }
  /** Replaced by a later entry of the same name (kept for TOC-order walks; not in lookup/children). */
  isShadowed(id: number): boolean {
    return this.flag(id, this.fShadowed);
  }
  /** Cleaned full path ("" for the root). */
  name(id: number): string {
    return this.str(this.node(id, this.nName));
  }
  baseName(id: number): string {
    const ref = this.node(id, this.nName);
    const at = this.pool + ref;
    const bytes = this.u8.subarray(at, at + this.u32[(at - 4) >>> 2]);
    return utf8.decode(bytes.subarray(bytes.lastIndexOf(0x2f) + 1));
  }
  /** Raw `linkName` of a symlink or hardlink; "" otherwise. */
  linkName(id: number): string {
    const t = this.type(id);
    return t === TocType.symlink || t === TocType.hardlink ? this.str(this.node(id, this.nB)) : "";
  }
  /** Content digest (raw 32 bytes of `digest`) of a regular file, or null. */
  digest(id: number): Uint8Array | null {
    if (this.type(id) !== TocType.reg) return null;
    const d = this.node(id, this.nB);
    if (d === this.none) return null;
    return d === this.sameDigest ? this.chunkDigest(id, 0) : this.digestAt(this.fileDigests, d);
  }
  /** Extended attributes in TOC order, values base64-decoded. */
  xattrs(id: number): Array<{ name: string; value: Uint8Array }> {
    const L = this.L, H = L.header, X = L.xindex;
    let first: number, count: number;
    if (id === 0) {
      first = this.h[H.rootXFirst];
      count = this.h[H.rootXCount];
    } else {
      if (!this.flag(id, L.fXattrs)) return [];
      // the rows of nodes with xattrs, ascending node id
      const u32 = this.u32, base = this.h[H.xindex] >>> 2;
      let lo = 0, hi = this.h[H.xindexCount];
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (u32[base + mid * X.words + X.node] < id) lo = mid + 1;
        else hi = mid;
      }
      first = u32[base + lo * X.words + X.first];
      count = u32[base + lo * X.words + X.count];
    }
    const out: Array<{ name: string; value: Uint8Array }> = [];
    const xb = this.h[H.xattrs] >>> 2, A = L.xattr;
    for (let i = 0; i < count; i++) {
      const u32 = this.w(), row = xb + (first + i) * A.words;
      out.push({ name: this.str(u32[row + A.name]), value: this.bytesAt(u32[row + A.value]) });
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
    const c = this.node(id, this.nA);
    return c === this.none ? -1 : c;
  }
  /** Next sibling in TOC order, or -1. */
  nextSibling(id: number): number {
    const c = this.node(id, this.nNext);
    return c === this.none ? -1 : c;
  }
  *children(id: number): IterableIterator<number> {
    for (let c = this.firstChild(id); c !== -1; c = this.nextSibling(c)) yield c;
  }
  /** The final non-hardlink target of a hardlink; id itself for other nodes. */
  resolveHardlink(id: number): number {
    return this.type(id) === TocType.hardlink ? this.node(id, this.nA) : id;
  }

  private chunkBase(id: number): number {
    if (this.type(id) !== TocType.reg) return -1;
    const a = this.node(id, this.nA);
    return a === this.none ? -1 : a;
  }
  /** Position of chunk k of node `id` in the chunk table, or a RangeError. */
  private chunkIndex(id: number, k: number): number {
    const a = this.chunkBase(id);
    if (a < 0 || k < 0 || k >= this.cw(a, this.cOffset)) throw new RangeError(`chunk ${k} of node ${id} does not exist`);
    return a + k;
  }
  // Decoders of chunk record c of the table (views current: callers went through w()), shared by the
  // accessors below and chunkTable.
  private cw(c: number, column: number): number {
    return this.u32[column + c * this.chunkStride];
  }
  private offsetAt(c: number, k: number): number {
    return k === 0 ? 0 : this.num(this.cw(c, this.cOffset)); // chunk 0's offset word holds the file's chunk count
  }
  private memberAt(c: number): number {
    return this.cw(c, this.cMember) + (this.cw(c, this.cHigh) & this.highMemberMask) * 2 ** 32;
  }
  private endAt(c: number): number {
    const end = this.cw(c, this.cEnd) + ((this.cw(c, this.cHigh) >>> this.highEndShift) & this.highEndMask) * 2 ** 32;
    return end === this.endUnknown ? -1 : end;
  }
  private hasDigestAt(c: number): boolean {
    return (this.cw(c, this.cHigh) & this.highHasDigest) !== 0;
  }
  /** Decompressed size of record c, chunk k of node `id`: to the next chunk's offset, or to the file's end. */
  private sizeAt(id: number, c: number, k: number): number {
    const end = k + 1 < this.cw(c - k, this.cOffset) ? this.offsetAt(c + 1, k + 1) : this.size(id);
    return end - this.offsetAt(c, k);
  }
  /** Chunks of a regular file (0 for an empty file and for other types). */
  chunkCount(id: number): number {
    const a = this.chunkBase(id);
    return a < 0 ? 0 : this.cw(a, this.cOffset);
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
    return this.num(this.cw(this.chunkIndex(id, k), this.cInner));
  }
  /** Blob offset where chunk k's member ends: the next distinct member offset, or tocOffset (-1 if not given). */
  chunkCompressedEnd(id: number, k: number): number {
    return this.endAt(this.chunkIndex(id, k));
  }
  /** Raw 32-byte `chunkDigest` of chunk k, or null if the TOC has none. */
  chunkDigest(id: number, k: number): Uint8Array | null {
    const c = this.chunkIndex(id, k);
    return this.hasDigestAt(c) ? this.digestAt(this.digests, c) : null;
  }
  /**
   * Every chunk entry in TOC order, in one pass over the tables: what the store's chunk map is built
   * from when it opens a layer. (Asked chunk by chunk through the accessors above, that took ~8 ms
   * for 850 chunks on a layer's first open, where the code still runs in V8's interpreter.)
   */
  chunkTable(): ChunkTable {
    const u32 = this.w();
    const stride = this.entryStride, none = this.chunkNone;
    let n = 0;
    for (let i = 0; i < this.entryCount; i++) if ((u32[this.eChunk + i * stride] & none) !== none) n++;
    const t: ChunkTable = {
      node: new Int32Array(n), k: new Int32Array(n), memberStart: new Float64Array(n), memberEnd: new Float64Array(n),
      innerOffset: new Float64Array(n), size: new Float64Array(n), digests: new Uint8Array(n * SHA256_DIGEST_SIZE),
    };
    const digestsAt = this.digests, db = this.digestStride;
    for (let i = 0, j = 0; i < this.entryCount; i++) {
      const c = u32[this.eChunk + i * stride] & none;
      if (c === none) continue;
      const id = u32[this.eNode + i * stride];
      const k = c - this.node(id, this.nA);
      t.node[j] = id;
      t.k[j] = k;
      t.memberStart[j] = this.memberAt(c);
      t.memberEnd[j] = this.endAt(c);
      t.innerOffset[j] = this.num(this.cw(c, this.cInner));
      t.size[j] = this.sizeAt(id, c, k);
      const at = digestsAt + c * db;
      if (this.hasDigestAt(c)) t.digests.set(this.u8.subarray(at, at + SHA256_DIGEST_SIZE), j * SHA256_DIGEST_SIZE);
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
    return this.w()[this.eNode + i * this.entryStride];
  }
  /** Chunk index k (within entryNode(i)) of TOC entry i, or -1 for entries without content. */
  entryChunk(i: number): number {
    const c = this.w()[this.eChunk + i * this.entryStride] & this.chunkNone;
    return c === this.chunkNone ? -1 : c - this.node(this.entryNode(i), this.nA);
  }
  /** The entry's type as written in the TOC (TocType.chunk for chunk entries). */
  entryType(i: number): TocType {
    return (this.w()[this.eChunk + i * this.entryStride] >>> this.typeShift) as TocType;
  }
  /** Byte offset of the entry's `{` in the TOC JSON. */
  entryPosition(i: number): number {
    return this.w()[this.ePos + i * this.entryStride];
  }

  stats(): TocStats {
    const h = this.h, L = this.L, H = L.header;
    const bytes = (count: number, words: number) => count * words * 4;
    const indexBytes = bytes(1, H.words) + bytes(h[H.nodeCount], L.node.words) + bytes(h[H.chunkCount], L.chunk.words) +
      bytes(h[H.entryCount], L.entry.words) + bytes(h[H.attrCount], L.attr.words) + bytes(h[H.xindexCount], L.xindex.words) +
      bytes(h[H.xattrCount], L.xattr.words) + h[H.numCount] * 8 + bytes(h[H.hashMask] + 1, 1) + h[H.scratchCap];
    return {
      nodes: h[H.nodeCount], chunks: h[H.chunkCount], entries: h[H.entryCount], indexBytes,
      stringBytes: h[H.poolBytes], digestBytes: (h[H.digestCount] + h[H.fileDigestCount]) * L.digestBytes,
    };
  }
}

/** Header word of each table's pointer, and the table's bytes (as toc_build shrinks them; scratch: + 32). */
function tableSizes(h: Uint32Array, L: TocLayout): Array<[number, number]> {
  const H = L.header, bytes = (count: number, words: number) => count * words * 4;
  return [
    [H.nodes, bytes(h[H.nodeCount], L.node.words)], [H.chunks, bytes(h[H.chunkCount], L.chunk.words)],
    [H.entries, bytes(h[H.entryCount], L.entry.words)], [H.attrs, bytes(h[H.attrCount], L.attr.words)],
    [H.xindex, bytes(h[H.xindexCount], L.xindex.words)], [H.xattrs, bytes(h[H.xattrCount], L.xattr.words)],
    [H.digests, h[H.digestCount] * L.digestBytes], [H.fileDigests, h[H.fileDigestCount] * L.digestBytes],
    [H.pool, h[H.poolBytes]], [H.nums, h[H.numCount] * 8], [H.hash, (h[H.hashMask] + 1) * 4], [H.scratch, h[H.scratchCap] + 32],
  ];
}

/** A short quote of the JSON around a byte position, for error messages. */
function context(json: Uint8Array, pos: number): string {
  if (pos < 0 || pos > json.length) return "";
  const from = Math.max(0, pos - 24), to = Math.min(json.length, pos + 24);
  const text = utf8.decode(json.subarray(from, to)).replace(/\s+/g, " ");
  return `: ${JSON.stringify(text)}`;
}
