// Binary layout of a built TOC index, defined here only: every table is a heap block of records
// whose fields are u32 words (numbers that may not fit 31 bits go to the f64 side table `nums`, see
// NUM_BIG). The host (src/core/toc.ts) reads the tables through a Uint32Array, with the offsets,
// sizes and bit fields that assembly/toc.ts exports from this file as TOC_* (read once per core).

/** At the pointer toc_build returns: where each table is, and the facts of the whole index. */
@unmanaged export class Header {
  nodes: u32; // node table
  nodeCount: u32;
  chunks: u32; // chunk table
  chunkCount: u32;
  entries: u32; // TOC-order entry table
  entryCount: u32;
  attrs: u32; // interned attributes
  attrCount: u32;
  xindex: u32; // which nodes have xattrs, ascending node
  xindexCount: u32;
  xattrs: u32; // (name, value) pool refs
  xattrCount: u32;
  digests: u32; // chunk digests: DIGEST_BYTES raw bytes per chunk, by chunk index
  digestCount: u32; // = chunk count
  pool: u32; // string pool: [u32 length][bytes], refs point at the bytes
  poolBytes: u32;
  nums: u32; // f64 side table
  numCount: u32;
  hash: u32; // path table: open addressing, slots HASH_TAG_MASK bits of the name's hash | node id, NONE = empty
  hashMask: u32;
  landmark: u32; // 0 none, 1 prefetch, 2 no-prefetch
  prefetchEnd: u32; // num
  rootXFirst: u32; // the root's xattrs (the root has no xindex row)
  rootXCount: u32;
  scratch: u32; // buffer the host writes a path to for toc_lookup
  scratchCap: u32;
  fileDigests: u32; // file digests that differ from their chunk 0's: DIGEST_BYTES raw bytes each
  fileDigestCount: u32;
}

// A path table slot holds the top 8 bits of the name's hash and the node id, so most probes that
// miss are settled without touching the node or its name. NONE (id 0xffffff, tag 0xff) is never a node.
export const HASH_TAG_MASK: u32 = 0xff000000;
export const HASH_ID_MASK: u32 = 0x00ffffff;

/** A path (one TOC entry, an implicit directory, or an entry a later one of its name shadowed). */
@unmanaged export class Node {
  attr: u32; // index in the attribute table
  bits: u32; // nlink & NLINK_MASK | flags (F_*) << FLAG_SHIFT
  size: u32; // num
  mtime: u32; // inline seconds, or NUM_BIG | index of (sec, nsec) in nums
  name: u32; // pool ref of the cleaned full path
  next: u32; // next sibling, NONE at the end
  a: u32; // dir: first child; reg: first chunk; hardlink: final target; char/block: devMajor
  b: u32; // reg: file digest index, SAME_DIGEST or NONE; symlink/hardlink: linkName ref; char/block: devMinor
}

export const NLINK_MASK: u32 = 0xffffff;
export const FLAG_SHIFT: u32 = 24;
export const F_IMPLICIT: u32 = 1; // created because a deeper name needed it
export const F_SHADOWED: u32 = 2; // replaced by a later entry of the same name
export const F_XATTRS: u32 = 4; // has a row in the xindex
export const F_HASCHILD: u32 = 8; // (build only) some later name lies below it
export const SAME_DIGEST: u32 = 0xfffffffe; // Node.b of a file whose digest equals its chunk 0's

/**
 * A chunk: a file's chunks are consecutive, chunk 0 is the reg entry itself. Blob offsets are 48-bit
 * (a low word + 16 bits of `high`), so blobs beyond 4 GiB cost nothing extra.
 */
@unmanaged export class Chunk {
  member: u32; // low 32 bits of the blob offset of the chunk's gzip member
  end: u32; // low 32 bits of compressedEnd (while building: the raw chunkSize, num)
  high: u32; // member bits 32-47 & HIGH_MEMBER_MASK | compressedEnd bits 32-46 << HIGH_END_SHIFT | HIGH_HAS_DIGEST
  inner: u32; // num: innerOffset
  offset: u32; // num: chunkOffset; in a file's chunk 0 (always at offset 0) the file's chunk count
}

export const HIGH_MEMBER_MASK: u32 = 0xffff;
export const HIGH_END_SHIFT: u32 = 16;
export const HIGH_END_MASK: u32 = 0x7fff;
export const HIGH_HAS_DIGEST: u32 = 0x80000000;
/** The largest blob offset (2^47 - 1); as a compressedEnd (all bits set): unknown, the host's -1. */
export const MAX_BLOB_OFFSET: u64 = 0x7fffffffffff;

/** One TOC entry (a JSON array element), in TOC order. */
@unmanaged export class Entry {
  pos: u32; // byte offset of its '{' in the JSON
  node: u32; // its node; a chunk entry's node is its file
  chunk: u32; // chunk index (& CHUNK_NONE; CHUNK_NONE = no content) | type << ENTRY_TYPE_SHIFT
}

export const CHUNK_NONE: u32 = 0x0fffffff;
export const ENTRY_TYPE_SHIFT: u32 = 28;

/** Attributes, interned: nodes with equal ones share a row. user/group: pool refs or NONE. */
@unmanaged export class Attr {
  type: u32;
  mode: u32;
  uid: u32;
  gid: u32;
  user: u32;
  group: u32;
}

/** A node with xattrs: its first row in the xattr table and how many. */
@unmanaged export class XIndex {
  node: u32;
  first: u32;
  count: u32;
}

@unmanaged export class Xattr {
  name: u32; // pool ref
  value: u32; // pool ref of the base64-decoded bytes
}

export const DIGEST_BYTES: u32 = 32;
export const NONE: u32 = 0xffffffff; // no node, no ref
export const NUM_BIG: u32 = 0x80000000; // a num word at or above it is NUM_BIG | index in nums

// entry types (Attr.type; T_CHUNK_ENTRY only in Entry.chunk)
export const T_DIR: u32 = 1;
export const T_REG: u32 = 2;
export const T_SYMLINK: u32 = 3;
export const T_HARDLINK: u32 = 4;
export const T_CHAR: u32 = 5;
export const T_BLOCK: u32 = 6;
export const T_FIFO: u32 = 7;
export const T_CHUNK_ENTRY: u32 = 8;
