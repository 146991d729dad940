// The state of a TOC index build: the tables of the index while they grow and the facts gathered on
// the way (B), and the TOC entry being parsed (E). Both live in static memory, reset at the start of
// every toc_build; a finished index owns its tables (its Header points at them) and keeps nothing
// here, so several indexes live side by side. The stages: parse.ts reads the JSON into E, build.ts
// commits E into B's tables, finish.ts completes them after the last entry. Beside this, only the
// first error (errors.ts) and what the JSON helpers hand back beside their return value (scan.ts,
// parse.ts; time.ts, which also keeps its last answer) are module variables.
import { Node, Chunk, Entry, Attr, NONE, DIGEST_BYTES } from "./layout";

/** The index under construction. Counts and capacities are in records; pointers are heap blocks. */
@unmanaged export class Build {
  // tables of the finished index (layout.ts)
  nodes: usize;
  nodeCount: u32;
  nodeCap: u32;
  chunks: usize;
  chunkCount: u32;
  chunkCap: u32; // also the capacity of chunkPos and digests
  digests: usize; // DIGEST_BYTES per chunk, by chunk index
  entries: usize;
  entryCount: u32;
  entryCap: u32;
  attrs: usize;
  attrCount: u32;
  attrCap: u32;
  xindex: usize;
  xindexCount: u32;
  xindexCap: u32;
  xattrs: usize;
  xattrCount: u32;
  xattrCap: u32;
  fileDigests: usize;
  fileDigestCount: u32;
  fileDigestCap: u32;
  pool: usize; // string pool
  poolLen: u32; // bytes used
  poolCap: u32;
  nums: usize; // f64 side table
  numCount: u32;
  numCap: u32;
  hash: usize; // path table (tree.ts)
  hashMask: u32;
  scratch: usize; // decoded escapes, repaired UTF-8, hardlink targets; in the index: toc_lookup's buffer
  scratchCap: usize;
  // tables of the build only, freed before the index is handed over
  temps: usize; // a NodeTemp per node (capacity nodeCap)
  chunkPos: usize; // u32 per chunk: JSON position of its entry, for errors (capacity chunkCap)
  attrHash: usize; // attribute interning (intern.ts)
  attrMask: u32;
  ownerHash: usize; // owner name interning (intern.ts)
  ownerMask: u32;
  ownerCount: u32;
  userIds: usize; // uid → last userName given for it (intern.ts)
  groupIds: usize; // gid → last groupName
  // the input and facts of the whole index
  input: usize; // the JSON (positions in errors and entries are relative to it)
  implicitBytes: u64; // name bytes of implicit directories so far
  implicitBudget: u64; // ... and the most allowed: memory stays proportional to the input
  maxNameLen: u32; // sizes the index's lookup buffer
  implicitDirAttr: u32; // attribute row of implicit directories (0755, owner 0)
  rootXFirst: u32; // the root entry's xattrs
  rootXCount: u32;
  landmark: u32; // Header.landmark
  prefetchEnd: u32; // Header.prefetchEnd (num)
  // hints that spare hash lookups for entries in tar order
  lastChunkNode: u32; // the reg node whose chunk came last (where a chunk entry usually belongs)
  lastParent: u32; // parent directory of the previous entry
  lastDir: u32; // the directory created last
}

export const B = changetype<Build>(memory.data(<i32>offsetof<Build>(), 16));

/** Per node, during the build only. */
@unmanaged export class NodeTemp {
  hash: u32; // hashBytes of its name
  parent: u32; // its parent directory when it was committed
  winner: u32; // a directory shadowed by a later one: that one (which then holds its children)
  aux: u32; // reg: chunk count so far; while linking a directory: its last child
  pos: u32; // JSON position of its entry
}

/** The TOC entry being parsed: its fields, until build.ts commits it. Absent fields stay 0 / NONE. */
@unmanaged export class Current {
  pos: usize; // pointer to its '{'
  name: u32; // pool ref of the cleaned name, NONE if none
  nameLen: u32;
  type: u32; // T_*, 0 if none
  mode: u32;
  size: u64;
  uid: u32;
  gid: u32;
  user: u32; // pool ref (interned) or NONE
  group: u32;
  link: u32; // linkName pool ref or NONE
  mtNsec: u32;
  mtSec: i64;
  devMajor: u32;
  devMinor: u32;
  offset: u64;
  inner: u64;
  chunkOffset: u64;
  chunkSize: u64;
  xFirst: u32; // its xattrs: rows of B.xattrs
  xCount: u32;
  hasDigest: bool; // digest in E_DIGEST_BUF
  hasChunkDigest: bool; // chunkDigest in E_CHUNK_DIGEST_BUF
}

export const E = changetype<Current>(memory.data(<i32>offsetof<Current>(), 16));
/** The entry's digest and chunkDigest, decoded. */
export const E_DIGEST_BUF: usize = memory.data(32);
export const E_CHUNK_DIGEST_BUF: usize = memory.data(32);

export function resetEntry(p: usize): void {
  E.pos = p;
  E.name = NONE;
  E.nameLen = 0;
  E.type = 0;
  E.mode = 0;
  E.size = 0;
  E.uid = 0;
  E.gid = 0;
  E.user = NONE;
  E.group = NONE;
  E.link = NONE;
  E.mtNsec = 0;
  E.mtSec = 0;
  E.devMajor = 0;
  E.devMinor = 0;
  E.offset = 0;
  E.inner = 0;
  E.chunkOffset = 0;
  E.chunkSize = 0;
  E.xFirst = 0;
  E.xCount = 0;
  E.hasDigest = false;
  E.hasChunkDigest = false;
}

// ---- records of the tables being built ---------------------------------------------------------

@inline export function nodeAt(id: u32): Node {
  return changetype<Node>(B.nodes + <usize>id * offsetof<Node>());
}
@inline export function tempAt(id: u32): NodeTemp {
  return changetype<NodeTemp>(B.temps + <usize>id * offsetof<NodeTemp>());
}
@inline export function chunkAt(c: u32): Chunk {
  return changetype<Chunk>(B.chunks + <usize>c * offsetof<Chunk>());
}
@inline export function attrAt(a: u32): Attr {
  return changetype<Attr>(B.attrs + <usize>a * offsetof<Attr>());
}
@inline export function typeOf(id: u32): u32 {
  return attrAt(nodeAt(id).attr).type;
}
/** JSON position (a u32 offset from B.input) of chunk c's entry. */
@inline export function chunkPosAt(c: u32): usize {
  return B.chunkPos + (<usize>c << 2);
}

// ---- start and end of a build ------------------------------------------------------------------

/** The largest node count: nlink shares its word with the flags. */
export const MAX_NODES: u32 = 0xffffff;
/** Bytes kept free past the used part of the pool and scratch: SIMD reads run up to 16 bytes past a string. */
export const POOL_SLACK: u32 = 32;
export const SCRATCH_SLACK: usize = 32;

/** Clears B for a build of `len` JSON bytes at `input` and allocates its first tables. */
export function resetBuild(input: usize, len: usize): void {
  memory.fill(changetype<usize>(B), 0, offsetof<Build>());
  B.input = input;
  B.implicitBudget = <u64>len * 2 + 65536;
  B.lastChunkNode = NONE;
  // a Go-written TOC spends 250-400 bytes per entry: size the tables once for that
  let guess = <u32>(len / 320) + 16;
  if (guess > MAX_NODES) guess = MAX_NODES;
  B.nodeCap = guess;
  B.nodes = heap.alloc(<usize>guess * offsetof<Node>());
  B.temps = heap.alloc(<usize>guess * offsetof<NodeTemp>());
  B.entryCap = guess;
  B.entries = heap.alloc(<usize>guess * offsetof<Entry>());
  B.chunkCap = guess;
  B.chunks = heap.alloc(<usize>guess * offsetof<Chunk>());
  B.chunkPos = heap.alloc(<usize>guess << 2);
  B.digests = heap.alloc(<usize>guess * DIGEST_BYTES);
  let cap: u32 = 64;
  while (cap < guess) cap <<= 1;
  B.hashMask = cap * 2 - 1;
  B.hash = heap.alloc((<usize>B.hashMask + 1) << 2);
  memory.fill(B.hash, 0xff, (<usize>B.hashMask + 1) << 2);
  B.poolCap = <u32>(len / 2) + POOL_SLACK + 64; // names and strings take about half of the JSON
  B.pool = heap.alloc(B.poolCap);
  B.scratchCap = 256 + SCRATCH_SLACK;
  B.scratch = heap.alloc(B.scratchCap);
}

/** Frees the tables of the build only. */
export function freeTemps(): void {
  if (B.temps) heap.free(B.temps);
  if (B.chunkPos) heap.free(B.chunkPos);
  if (B.attrHash) heap.free(B.attrHash);
  if (B.ownerHash) heap.free(B.ownerHash);
  if (B.userIds) heap.free(B.userIds);
  if (B.groupIds) heap.free(B.groupIds);
  B.temps = B.chunkPos = B.attrHash = B.ownerHash = B.userIds = B.groupIds = 0;
}

/** Frees every table of a failed build. */
export function freeAll(): void {
  freeTemps();
  if (B.nodes) heap.free(B.nodes);
  if (B.chunks) heap.free(B.chunks);
  if (B.entries) heap.free(B.entries);
  if (B.attrs) heap.free(B.attrs);
  if (B.xindex) heap.free(B.xindex);
  if (B.xattrs) heap.free(B.xattrs);
  if (B.digests) heap.free(B.digests);
  if (B.fileDigests) heap.free(B.fileDigests);
  if (B.pool) heap.free(B.pool);
  if (B.nums) heap.free(B.nums);
  if (B.hash) heap.free(B.hash);
  if (B.scratch) heap.free(B.scratch);
  B.nodes = B.chunks = B.entries = B.attrs = B.xindex = B.xattrs = B.digests = B.fileDigests = 0;
  B.pool = B.nums = B.hash = B.scratch = 0;
}
