// TOC index: eStargz TOC JSON bytes ({"version":1,"entries":[...]}) → the binary index of
// toc/layout.ts, in one pass over the bytes plus passes over the nodes; these are the exports the
// host (src/core/toc.ts) calls. The stages, each in toc/: parse.ts reads the JSON (primitives in
// scan.ts), build.ts commits each entry into the tables (tree.ts: paths and parents, intern.ts:
// attributes and owners, tables.ts: growth), finish.ts completes and hands over the index, query.ts
// answers lookups in a finished one. A build's state is gathered in state.ts.
import { failed, errorCode, errorAt, resetError } from "./toc/errors";
import { PAD, setInputEnd } from "./toc/scan";
import {
  Header, Node, Chunk, Entry, Attr, XIndex, Xattr, DIGEST_BYTES, NONE, SAME_DIGEST, NUM_BIG, NLINK_MASK, FLAG_SHIFT,
  F_IMPLICIT, F_SHADOWED, F_XATTRS, CHUNK_NONE, ENTRY_TYPE_SHIFT, HIGH_MEMBER_MASK, HIGH_END_SHIFT, HIGH_END_MASK,
  HIGH_HAS_DIGEST, MAX_BLOB_OFFSET, T_DIR, T_REG, T_SYMLINK, T_HARDLINK, T_CHAR, T_BLOCK, T_FIFO, T_CHUNK_ENTRY,
} from "./toc/layout";
import { B, resetBuild, freeAll } from "./toc/state";
import { makeRoot } from "./toc/tree";
import { parseDocument } from "./toc/parse";
import { completeTree, handOver } from "./toc/finish";
import { lookupPath, parentOf, freeIndex } from "./toc/query";

/** Allocates an input buffer for `len` JSON bytes (plus the zero padding the scanner relies on). */
export function toc_input(len: usize): usize {
  return heap.alloc(len + PAD);
}

/**
 * Builds the index of the JSON at [input, input+len) (a toc_input buffer). tocOffset: blob offset of
 * the TOC member, or negative if unknown. Returns the index header, or 0 with toc_error_code/pos set.
 */
export function toc_build(input: usize, len: usize, tocOffset: f64): usize {
  resetError();
  memory.fill(input + len, 0, PAD);
  setInputEnd(input + len);
  resetBuild(input, len);
  makeRoot();
  parseDocument(input);
  if (failed() || !completeTree(tocOffset)) {
    freeAll();
    return 0;
  }
  return handOver();
}

export function toc_error_code(): i32 {
  return errorCode();
}

/** Byte offset in the JSON of the last build error. */
export function toc_error_pos(): usize {
  return errorAt() - B.input;
}

/** Frees an index and all its tables. */
export function toc_free(hdr: usize): void {
  if (hdr != 0) freeIndex(changetype<Header>(hdr));
}

/**
 * Looks up the path whose UTF-8 bytes the host wrote to the index's scratch buffer (len bytes);
 * cleans it like TOC names. Returns the node id, or -1 if absent or escaping the root.
 */
export function toc_lookup(hdr: usize, len: usize): i32 {
  return lookupPath(changetype<Header>(hdr), len);
}

/** The parent directory of node id (root → 0). */
export function toc_parent(hdr: usize, id: u32): i32 {
  return parentOf(changetype<Header>(hdr), id);
}

// ---- the index layout, for the host ------------------------------------------------------------
// src/core/toc.ts reads these once per core (it keeps no copy of toc/layout.ts): each record's size
// and the byte offsets of the fields it reads (TOC_<RECORD>_BYTES, TOC_<RECORD>_<FIELD>), then the
// markers and bit fields it decodes. A test checks that the host reads every one of them.
export const TOC_HEADER_BYTES: usize = offsetof<Header>();
export const TOC_HEADER_NODES: usize = offsetof<Header>("nodes");
export const TOC_HEADER_NODE_COUNT: usize = offsetof<Header>("nodeCount");
export const TOC_HEADER_CHUNKS: usize = offsetof<Header>("chunks");
export const TOC_HEADER_CHUNK_COUNT: usize = offsetof<Header>("chunkCount");
export const TOC_HEADER_ENTRIES: usize = offsetof<Header>("entries");
export const TOC_HEADER_ENTRY_COUNT: usize = offsetof<Header>("entryCount");
export const TOC_HEADER_ATTRS: usize = offsetof<Header>("attrs");
export const TOC_HEADER_ATTR_COUNT: usize = offsetof<Header>("attrCount");
export const TOC_HEADER_XINDEX: usize = offsetof<Header>("xindex");
export const TOC_HEADER_XINDEX_COUNT: usize = offsetof<Header>("xindexCount");
export const TOC_HEADER_XATTRS: usize = offsetof<Header>("xattrs");
export const TOC_HEADER_XATTR_COUNT: usize = offsetof<Header>("xattrCount");
export const TOC_HEADER_DIGESTS: usize = offsetof<Header>("digests");
export const TOC_HEADER_DIGEST_COUNT: usize = offsetof<Header>("digestCount");
export const TOC_HEADER_POOL: usize = offsetof<Header>("pool");
export const TOC_HEADER_POOL_BYTES: usize = offsetof<Header>("poolBytes");
export const TOC_HEADER_NUMS: usize = offsetof<Header>("nums");
export const TOC_HEADER_NUM_COUNT: usize = offsetof<Header>("numCount");
export const TOC_HEADER_HASH: usize = offsetof<Header>("hash");
export const TOC_HEADER_HASH_MASK: usize = offsetof<Header>("hashMask");
export const TOC_HEADER_LANDMARK: usize = offsetof<Header>("landmark");
export const TOC_HEADER_PREFETCH_END: usize = offsetof<Header>("prefetchEnd");
export const TOC_HEADER_ROOT_X_FIRST: usize = offsetof<Header>("rootXFirst");
export const TOC_HEADER_ROOT_X_COUNT: usize = offsetof<Header>("rootXCount");
export const TOC_HEADER_SCRATCH: usize = offsetof<Header>("scratch");
export const TOC_HEADER_SCRATCH_CAP: usize = offsetof<Header>("scratchCap");
export const TOC_HEADER_FILE_DIGESTS: usize = offsetof<Header>("fileDigests");
export const TOC_HEADER_FILE_DIGEST_COUNT: usize = offsetof<Header>("fileDigestCount");
export const TOC_NODE_BYTES: usize = offsetof<Node>();
export const TOC_NODE_ATTR: usize = offsetof<Node>("attr");
export const TOC_NODE_BITS: usize = offsetof<Node>("bits");
export const TOC_NODE_SIZE: usize = offsetof<Node>("size");
export const TOC_NODE_MTIME: usize = offsetof<Node>("mtime");
export const TOC_NODE_NAME: usize = offsetof<Node>("name");
export const TOC_NODE_NEXT: usize = offsetof<Node>("next");
export const TOC_NODE_A: usize = offsetof<Node>("a");
export const TOC_NODE_B: usize = offsetof<Node>("b");
export const TOC_CHUNK_BYTES: usize = offsetof<Chunk>();
export const TOC_CHUNK_MEMBER: usize = offsetof<Chunk>("member");
export const TOC_CHUNK_END: usize = offsetof<Chunk>("end");
export const TOC_CHUNK_HIGH: usize = offsetof<Chunk>("high");
export const TOC_CHUNK_INNER: usize = offsetof<Chunk>("inner");
export const TOC_CHUNK_OFFSET: usize = offsetof<Chunk>("offset");
export const TOC_ENTRY_BYTES: usize = offsetof<Entry>();
export const TOC_ENTRY_POS: usize = offsetof<Entry>("pos");
export const TOC_ENTRY_NODE: usize = offsetof<Entry>("node");
export const TOC_ENTRY_CHUNK: usize = offsetof<Entry>("chunk");
export const TOC_ATTR_BYTES: usize = offsetof<Attr>();
export const TOC_ATTR_TYPE: usize = offsetof<Attr>("type");
export const TOC_ATTR_MODE: usize = offsetof<Attr>("mode");
export const TOC_ATTR_UID: usize = offsetof<Attr>("uid");
export const TOC_ATTR_GID: usize = offsetof<Attr>("gid");
export const TOC_ATTR_USER: usize = offsetof<Attr>("user");
export const TOC_ATTR_GROUP: usize = offsetof<Attr>("group");
export const TOC_XINDEX_BYTES: usize = offsetof<XIndex>();
export const TOC_XINDEX_NODE: usize = offsetof<XIndex>("node");
export const TOC_XINDEX_FIRST: usize = offsetof<XIndex>("first");
export const TOC_XINDEX_COUNT: usize = offsetof<XIndex>("count");
export const TOC_XATTR_BYTES: usize = offsetof<Xattr>();
export const TOC_XATTR_NAME: usize = offsetof<Xattr>("name");
export const TOC_XATTR_VALUE: usize = offsetof<Xattr>("value");
export const TOC_DIGEST_BYTES: u32 = DIGEST_BYTES;
export const TOC_NONE: u32 = NONE;
export const TOC_SAME_DIGEST: u32 = SAME_DIGEST;
export const TOC_NUM_BIG: u32 = NUM_BIG;
export const TOC_NLINK_MASK: u32 = NLINK_MASK;
export const TOC_FLAG_SHIFT: u32 = FLAG_SHIFT;
export const TOC_F_IMPLICIT: u32 = F_IMPLICIT;
export const TOC_F_SHADOWED: u32 = F_SHADOWED;
export const TOC_F_XATTRS: u32 = F_XATTRS;
export const TOC_CHUNK_NONE: u32 = CHUNK_NONE;
export const TOC_ENTRY_TYPE_SHIFT: u32 = ENTRY_TYPE_SHIFT;
export const TOC_HIGH_MEMBER_MASK: u32 = HIGH_MEMBER_MASK;
export const TOC_HIGH_END_SHIFT: u32 = HIGH_END_SHIFT;
export const TOC_HIGH_END_MASK: u32 = HIGH_END_MASK;
export const TOC_HIGH_HAS_DIGEST: u32 = HIGH_HAS_DIGEST;
/** A compressedEnd that is not known (no tocOffset given): the host reports -1. */
export const TOC_END_UNKNOWN: u64 = MAX_BLOB_OFFSET;
// entry types: the host checks them against its TocType
export const TOC_TYPE_DIR: u32 = T_DIR;
export const TOC_TYPE_REG: u32 = T_REG;
export const TOC_TYPE_SYMLINK: u32 = T_SYMLINK;
export const TOC_TYPE_HARDLINK: u32 = T_HARDLINK;
export const TOC_TYPE_CHAR: u32 = T_CHAR;
export const TOC_TYPE_BLOCK: u32 = T_BLOCK;
export const TOC_TYPE_FIFO: u32 = T_FIFO;
export const TOC_TYPE_CHUNK: u32 = T_CHUNK_ENTRY;
