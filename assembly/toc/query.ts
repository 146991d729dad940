// The query stage: lookups in a finished index, through its Header only (no build state).
import { cleanName, hashBytes, lastSlash, sameBytes } from "./path";
import { Header, Node, NONE, HASH_ID_MASK, HASH_TAG_MASK } from "./layout";

@inline function nameOf(h: Header, id: u32): usize {
  return <usize>h.pool + changetype<Node>(<usize>h.nodes + <usize>id * offsetof<Node>()).name;
}

/** The live node named [p, p+n) (a cleaned name), or NONE. */
function lookupIn(h: Header, p: usize, n: u32): u32 {
  const tab = <usize>h.hash, mask = h.hashMask;
  const hash = hashBytes(p, n);
  const tag = hash & HASH_TAG_MASK;
  let i = hash & mask;
  while (true) {
    const slot = load<u32>(tab + (<usize>i << 2));
    if (slot == NONE) return NONE;
    if ((slot & HASH_TAG_MASK) == tag) {
      const id = slot & HASH_ID_MASK;
      const name = nameOf(h, id);
      if (load<u32>(name - 4) == n && sameBytes(name, p, n)) return id;
    }
    i = (i + 1) & mask;
  }
}

/** The node of the path in the index's scratch buffer (len bytes, cleaned there), or -1. */
export function lookupPath(h: Header, len: usize): i32 {
  const s = <usize>h.scratch;
  const n = cleanName(s, len);
  if (n < 0) return -1;
  if (n == 0) return 0;
  return <i32>lookupIn(h, s, <u32>n);
}

/** The parent directory of node id (root → 0). */
export function parentOf(h: Header, id: u32): i32 {
  const name = nameOf(h, id);
  const ls = lastSlash(name, load<u32>(name - 4));
  if (ls <= 0) return 0;
  return <i32>lookupIn(h, name, <u32>ls);
}

/** Frees the index and all its tables. */
export function freeIndex(h: Header): void {
  freeTable(h.nodes);
  freeTable(h.chunks);
  freeTable(h.entries);
  freeTable(h.attrs);
  freeTable(h.xindex);
  freeTable(h.xattrs);
  freeTable(h.digests);
  freeTable(h.fileDigests);
  freeTable(h.pool);
  freeTable(h.nums);
  freeTable(h.hash);
  freeTable(h.scratch);
  heap.free(changetype<usize>(h));
}

@inline function freeTable(p: u32): void {
  if (p) heap.free(<usize>p);
}
