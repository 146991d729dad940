// After the last entry: the passes that need the whole TOC (hardlink targets, chunk sizes, member
// ends, children lists, landmarks), then the tables shrunk to size and handed over under a Header.
import { reject, E_LINK_MISSING, E_LINK_LOOP, E_LINK_DIR, E_ESCAPE, E_CHUNK_SIZES, E_OFFSET } from "./errors";
import { cleanName, hashBytes } from "./path";
import {
  Header, Node, Chunk, Entry, Attr, XIndex, Xattr, NONE, NLINK_MASK, MAX_BLOB_OFFSET, HIGH_MEMBER_MASK,
  HIGH_END_SHIFT, HIGH_HAS_DIGEST, DIGEST_BYTES, F_SHADOWED, T_DIR, T_REG, T_HARDLINK,
} from "./layout";
import { B, nodeAt, tempAt, chunkAt, chunkPosAt, typeOf, freeTemps, SCRATCH_SLACK } from "./state";
import { ensureScratch, decNum, encNum } from "./tables";
import { lookupName, rebuildTable, hasFlag } from "./tree";

/** The passes after the last entry; false on error (recorded in errors.ts). */
export function completeTree(tocOffset: f64): bool {
  if (!resolveHardlinks() || !resolveChunks() || !compressedEnds(tocOffset)) return false;
  linkChildren();
  findLandmarks();
  return true;
}

// ---- hardlinks --------------------------------------------------------------------------------------

function resolveHardlinks(): bool {
  const n = B.nodeCount;
  // direct targets first
  for (let id: u32 = 1; id < n; id++) {
    if (typeOf(id) != T_HARDLINK) continue;
    const at = B.input + tempAt(id).pos;
    const link = nodeAt(id).b;
    if (link == NONE) return reject(E_LINK_MISSING, at);
    const len = load<u32>(B.pool + link - 4);
    ensureScratch(len);
    const s = B.scratch;
    memory.copy(s, B.pool + link, len);
    const c = cleanName(s, len);
    if (c == -1) return reject(E_ESCAPE, at);
    if (c < 0) return reject(E_LINK_MISSING, at);
    const t = c == 0 ? 0 : lookupName(s, <u32>c, hashBytes(s, <u32>c));
    if (t == NONE) return reject(E_LINK_MISSING, at);
    nodeAt(id).a = t;
  }
  // then follow chains of hardlinks to a final target
  for (let id: u32 = 1; id < n; id++) {
    if (typeOf(id) != T_HARDLINK) continue;
    const at = B.input + tempAt(id).pos;
    let t = nodeAt(id).a;
    let steps: u32 = 0;
    while (typeOf(t) == T_HARDLINK) {
      if (++steps > n) return reject(E_LINK_LOOP, at);
      t = nodeAt(t).a;
    }
    if (typeOf(t) == T_DIR) return reject(E_LINK_DIR, at);
    let c = id;
    while (typeOf(c) == T_HARDLINK) {
      const next = nodeAt(c).a;
      nodeAt(c).a = t;
      c = next;
    }
  }
  // a target's link count: 1 + live hardlinks to it; each hardlink reports its target's
  for (let id: u32 = 1; id < n; id++) {
    if (typeOf(id) != T_HARDLINK || hasFlag(id, F_SHADOWED)) continue;
    nodeAt(nodeAt(id).a).bits++;
  }
  for (let id: u32 = 1; id < n; id++) {
    if (typeOf(id) != T_HARDLINK) continue;
    const node = nodeAt(id);
    node.bits = (node.bits & ~NLINK_MASK) | (nodeAt(node.a).bits & NLINK_MASK);
  }
  return true;
}

// ---- children ---------------------------------------------------------------------------------------

/** The directory that finally holds the children of id (following duplicate-directory winners). */
function winnerOf(id: u32): u32 {
  let w = id;
  while (true) {
    const n = tempAt(w).winner;
    if (n == NONE) break;
    w = n;
  }
  // compress the chain
  let c = id;
  while (c != w) {
    const n = tempAt(c).winner;
    tempAt(c).winner = w;
    c = n;
  }
  return w;
}

/** Children lists in TOC order, and each directory's nlink (2 + subdirectories). */
function linkChildren(): void {
  // aux holds the last child of each directory while linking
  for (let id: u32 = 1; id < B.nodeCount; id++) {
    if (hasFlag(id, F_SHADOWED)) continue;
    const parent = winnerOf(tempAt(id).parent);
    const pt = tempAt(parent);
    const last = pt.aux;
    if (last == NONE) nodeAt(parent).a = id;
    else nodeAt(last).next = id;
    pt.aux = id;
    if (typeOf(id) == T_DIR) nodeAt(parent).bits++;
  }
}

// ---- chunks -----------------------------------------------------------------------------------------

@inline function memberOf(c: u32): u64 {
  const r = chunkAt(c);
  return <u64>r.member | (<u64>(r.high & HIGH_MEMBER_MASK) << 32);
}

/** Checks each file's chunk offsets and sizes against its size; its chunk 0 then holds the count. */
function resolveChunks(): bool {
  for (let id: u32 = 1; id < B.nodeCount; id++) {
    if (typeOf(id) != T_REG) continue;
    const count = tempAt(id).aux;
    if (count == 0) continue;
    const first = nodeAt(id).a;
    const size = decNum(nodeAt(id).size);
    let running: u64 = 0;
    for (let k: u32 = 0; k < count; k++) {
      const c = chunkAt(first + k);
      const at = B.input + load<u32>(chunkPosAt(first + k));
      if (decNum(c.offset) != running) return reject(E_CHUNK_SIZES, at);
      let sz = decNum(c.end);
      if (sz == 0) {
        if (k != count - 1) return reject(E_CHUNK_SIZES, at);
        sz = size - running;
      }
      if (sz == 0 || sz > size - running) return reject(E_CHUNK_SIZES, at);
      running += sz;
    }
    if (running != size) return reject(E_CHUNK_SIZES, B.input + load<u32>(chunkPosAt(first + count - 1)));
    chunkAt(first).offset = count;
  }
  return true;
}

/** Sorts n u64 values in place (heapsort: no recursion, no extra memory). */
function sortU64(a: usize, n: usize): void {
  if (n < 2) return;
  let start = n >> 1;
  let end = n;
  while (end > 1) {
    let root: usize;
    if (start > 0) {
      start--;
      root = start;
    } else {
      end--;
      const t = load<u64>(a + (end << 3));
      store<u64>(a + (end << 3), load<u64>(a));
      store<u64>(a, t);
      root = 0;
    }
    while (true) {
      let child: usize = 2 * root + 1;
      if (child >= end) break;
      if (child + 1 < end && load<u64>(a + ((child + 1) << 3)) > load<u64>(a + (child << 3))) child++;
      const rv = load<u64>(a + (root << 3)), cv = load<u64>(a + (child << 3));
      if (rv >= cv) break;
      store<u64>(a + (root << 3), cv);
      store<u64>(a + (child << 3), rv);
      root = child;
    }
  }
}

/** Each chunk's compressedEnd: the next distinct member offset of the blob, or tocOffset for the last. */
function compressedEnds(tocOffset: f64): bool {
  const n = <usize>B.chunkCount;
  if (n == 0) return true;
  if (tocOffset > <f64>MAX_BLOB_OFFSET) return reject(E_OFFSET, B.input);
  const offs = heap.alloc(n << 3);
  let sorted = true;
  for (let c: usize = 0; c < n; c++) {
    const o = memberOf(<u32>c);
    if (tocOffset >= 0 && <f64>o >= tocOffset) {
      heap.free(offs);
      return reject(E_OFFSET, B.input + load<u32>(chunkPosAt(<u32>c)));
    }
    if (c > 0 && o < load<u64>(offs + ((c - 1) << 3))) sorted = false;
    store<u64>(offs + (c << 3), o);
  }
  if (!sorted) sortU64(offs, n);
  const last: u64 = tocOffset >= 0 ? <u64>tocOffset : MAX_BLOB_OFFSET; // all ones: unknown
  for (let c: usize = 0; c < n; c++) {
    const o = memberOf(<u32>c);
    // first sorted offset > o
    let lo: usize = 0, hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (load<u64>(offs + (mid << 3)) <= o) lo = mid + 1;
      else hi = mid;
    }
    const end = lo < n ? load<u64>(offs + (lo << 3)) : last;
    const r = chunkAt(<u32>c);
    r.end = <u32>end;
    r.high = (r.high & (HIGH_HAS_DIGEST | HIGH_MEMBER_MASK)) | (<u32>(end >> 32) << HIGH_END_SHIFT);
  }
  heap.free(offs);
  return true;
}

// ---- landmarks --------------------------------------------------------------------------------------

const PREFETCH_LANDMARK: usize = memory.data<u8>([46, 112, 114, 101, 102, 101, 116, 99, 104, 46, 108, 97, 110, 100, 109, 97, 114, 107]);
const NO_PREFETCH_LANDMARK: usize = memory.data<u8>([46, 110, 111, 46, 112, 114, 101, 102, 101, 116, 99, 104, 46, 108, 97, 110, 100, 109, 97, 114, 107]);

function findLandmarks(): void {
  B.landmark = 0;
  B.prefetchEnd = 0;
  if (lookupName(NO_PREFETCH_LANDMARK, 21, hashBytes(NO_PREFETCH_LANDMARK, 21)) != NONE) {
    B.landmark = 2;
    return;
  }
  const id = lookupName(PREFETCH_LANDMARK, 18, hashBytes(PREFETCH_LANDMARK, 18));
  if (id != NONE) {
    B.landmark = 1;
    if (typeOf(id) == T_REG && nodeAt(id).a != NONE) B.prefetchEnd = encNum(memberOf(nodeAt(id).a));
  }
}

// ---- the finished index ------------------------------------------------------------------------------

function shrink(p: usize, bytes: usize): usize {
  if (bytes < 16) bytes = 16;
  return p == 0 ? heap.alloc(bytes) : heap.realloc(p, bytes);
}

/** Shrinks the tables to size, frees the build's own, and returns the index's Header (B keeps nothing). */
export function handOver(): usize {
  // the final path table: load at most 3/4
  let cap: u32 = 64;
  while (<u64>cap * 3 < <u64>B.nodeCount * 4) cap <<= 1;
  if (cap - 1 != B.hashMask) rebuildTable(cap - 1, NONE);
  freeTemps();
  const h = changetype<Header>(heap.alloc(offsetof<Header>()));
  h.nodes = <u32>shrink(B.nodes, <usize>B.nodeCount * offsetof<Node>());
  h.nodeCount = B.nodeCount;
  h.chunks = <u32>shrink(B.chunks, <usize>B.chunkCount * offsetof<Chunk>());
  h.chunkCount = B.chunkCount;
  h.entries = <u32>shrink(B.entries, <usize>B.entryCount * offsetof<Entry>());
  h.entryCount = B.entryCount;
  h.attrs = <u32>shrink(B.attrs, <usize>B.attrCount * offsetof<Attr>());
  h.attrCount = B.attrCount;
  h.xindex = B.xindex ? <u32>shrink(B.xindex, <usize>B.xindexCount * offsetof<XIndex>()) : 0;
  h.xindexCount = B.xindexCount;
  h.xattrs = B.xattrs ? <u32>shrink(B.xattrs, <usize>B.xattrCount * offsetof<Xattr>()) : 0;
  h.xattrCount = B.xattrCount;
  h.digests = <u32>shrink(B.digests, <usize>B.chunkCount * DIGEST_BYTES);
  h.digestCount = B.chunkCount;
  h.fileDigests = B.fileDigests ? <u32>shrink(B.fileDigests, <usize>B.fileDigestCount * DIGEST_BYTES) : 0;
  h.fileDigestCount = B.fileDigestCount;
  h.pool = <u32>shrink(B.pool, B.poolLen);
  h.poolBytes = B.poolLen;
  h.nums = B.nums ? <u32>shrink(B.nums, <usize>B.numCount << 3) : 0;
  h.numCount = B.numCount;
  h.hash = <u32>B.hash;
  h.hashMask = B.hashMask;
  h.landmark = B.landmark;
  h.prefetchEnd = B.prefetchEnd;
  h.rootXFirst = B.rootXFirst;
  h.rootXCount = B.rootXCount;
  // toc_lookup's buffer: twice the longest name (a longer path the host looks up counts as absent)
  heap.free(B.scratch);
  h.scratchCap = B.maxNameLen * 2 + 64;
  h.scratch = <u32>heap.alloc(<usize>h.scratchCap + SCRATCH_SLACK);
  B.nodes = B.chunks = B.entries = B.attrs = B.xindex = B.xattrs = B.digests = B.fileDigests = 0;
  B.pool = B.nums = B.hash = B.scratch = 0;
  return changetype<usize>(h);
}
