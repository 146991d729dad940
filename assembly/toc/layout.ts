// Binary layout of a built TOC index. Every table is a heap block of u32 words (nums: f64);
// src/core/toc.ts reads the same offsets through typed views, so change both together.

/** Header words (u32) at the pointer toc_build returns. */
export const H_NODES = 0; // node table pointer
export const H_NODE_COUNT = 1;
export const H_CHUNKS = 2; // chunk table pointer
export const H_CHUNK_COUNT = 3;
export const H_ENTRIES = 4; // TOC-order entry table pointer
export const H_ENTRY_COUNT = 5;
export const H_ATTRS = 6; // interned (type, mode, uid, gid, userName, groupName)
export const H_ATTR_COUNT = 7;
export const H_XINDEX = 8; // (node, first xattr, count), ascending node
export const H_XINDEX_COUNT = 9;
export const H_XATTRS = 10; // (name ref, value ref)
export const H_XATTR_COUNT = 11;
export const H_DIGESTS = 12; // chunk digests: 32 raw bytes per chunk, by chunk index
export const H_DIGEST_COUNT = 13; // = chunk count
export const H_POOL = 14; // string pool: [u32 length][bytes], refs point at the bytes
export const H_POOL_BYTES = 15;
export const H_NUMS = 16; // f64 side table for numbers that do not fit 31 bits
export const H_NUM_COUNT = 17;
export const H_HASH = 18; // open-addressing table of node ids (NONE = empty)
export const H_HASH_MASK = 19;
export const H_LANDMARK = 20; // 0 none, 1 prefetch, 2 no-prefetch
export const H_PREFETCH_END = 21; // num
export const H_ROOT_XFIRST = 22;
export const H_ROOT_XCOUNT = 23;
export const H_SCRATCH = 24; // lookup buffer
export const H_SCRATCH_CAP = 25;
export const H_FILE_DIGESTS = 26; // file digests that differ from their chunk 0's: 32 raw bytes each
export const H_FILE_DIGEST_COUNT = 27;
export const HEADER_WORDS = 28;

/** Node record: 8 words. */
export const NODE_WORDS: u32 = 8;
export const N_ATTR = 0;
export const N_BITS = 1; // nlink (low 24 bits) | flags << 24
export const N_SIZE = 2; // num
export const N_MTIME = 3; // num-encoded time: inline seconds, or index of (sec, nsec) in nums
export const N_NAME = 4; // pool ref of the cleaned full path
export const N_NEXT = 5; // next sibling
export const N_A = 6; // dir: first child; reg: first chunk; hardlink: target; char/block: devMajor
export const N_B = 7; // reg: file digest index, SAME_DIGEST, or NONE; symlink/hardlink: linkName ref; char/block: devMinor
export const SAME_DIGEST: u32 = 0xfffffffe; // the file's digest equals its chunk 0's

export const F_IMPLICIT: u32 = 1;
export const F_SHADOWED: u32 = 2;
export const F_XATTRS: u32 = 4;
export const F_HASCHILD: u32 = 8;
export const NLINK_MASK: u32 = 0xffffff;

/**
 * Chunk record: 5 words, a file's chunks consecutive. Blob offsets are 48-bit (low word + 16 bits in
 * C_HIGH), so blobs beyond 4 GiB cost nothing extra; compressedEnd 0x7fff_ffffffff = unknown (-1).
 */
export const CHUNK_WORDS: u32 = 5;
export const C_MEMBER = 0; // low 32 bits of the member's blob offset
export const C_END = 1; // low 32 bits of compressedEnd (during the build: the raw chunkSize, num)
export const C_HIGH = 2; // member high 16 bits | compressedEnd high 15 bits << 16 | has-digest << 31
export const C_INNER = 3; // num: innerOffset
export const C_OFFSET = 4; // num: chunkOffset; in a file's chunk 0 (always offset 0) the chunk count
export const MAX_BLOB_OFFSET: u64 = 0x7fffffffffff; // 2^47 - 1

/** TOC-order entry: 3 words. */
export const ENTRY_WORDS: u32 = 3;
export const T_POS = 0; // byte offset of '{' in the JSON
export const T_NODE = 1;
export const T_CHUNK = 2; // chunk index (low 28 bits, 0x0fffffff = none) | type << 28

export const ATTR_WORDS: u32 = 6; // type, mode, uid, gid, userName ref, groupName ref
export const XINDEX_WORDS: u32 = 3;
export const XATTR_WORDS: u32 = 2;

export const NONE: u32 = 0xffffffff;
export const CHUNK_NONE: u32 = 0x0fffffff;
export const NUM_BIG: u32 = 0x80000000;

export const T_DIR: u32 = 1;
export const T_REG: u32 = 2;
export const T_SYMLINK: u32 = 3;
export const T_HARDLINK: u32 = 4;
export const T_CHAR: u32 = 5;
export const T_BLOCK: u32 = 6;
export const T_FIFO: u32 = 7;
export const T_CHUNK_ENTRY: u32 = 8;
