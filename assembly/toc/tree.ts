// The directory tree during the build: the path table (cleaned name → live node), new nodes, and
// parent directories (created implicitly, mode 0755, when a name's parent has no entry of its own).
import { fail, E_LIMIT, E_PARENT } from "./errors";
import { hashBytes, lastSlash, sameBytes } from "./path";
import { Node, NONE, T_DIR, FLAG_SHIFT, F_IMPLICIT, F_SHADOWED, F_HASCHILD, HASH_ID_MASK, HASH_TAG_MASK } from "./layout";
import { B, NodeTemp, nodeAt, tempAt, typeOf } from "./state";
import { newNode, ensurePool, poolAppend } from "./tables";
import { internAttr } from "./intern";

// ---- the path table -------------------------------------------------------------------------------

/** The live node named [p, p+n) (h = its hashBytes), or NONE. */
export function lookupName(p: usize, n: u32, h: u32): u32 {
  const table = B.hash, mask = B.hashMask, temps = B.temps, nodes = B.nodes, pool = B.pool;
  let i = h & mask;
  const tag = h & HASH_TAG_MASK;
  while (true) {
    const slot = load<u32>(table + (<usize>i << 2));
    if (slot == NONE) return NONE;
    if ((slot & HASH_TAG_MASK) == tag) {
      const id = slot & HASH_ID_MASK;
      // the build keeps every node's full hash: compare names only when it agrees
      if (changetype<NodeTemp>(temps + <usize>id * offsetof<NodeTemp>()).hash == h) {
        const name = pool + changetype<Node>(nodes + <usize>id * offsetof<Node>()).name;
        if (load<u32>(name - 4) == n && sameBytes(name, p, n)) return id;
      }
    }
    i = (i + 1) & mask;
  }
}

/** Re-creates the table with mask `mask` from the live nodes' hashes (all but `skip`). */
export function rebuildTable(mask: u32, skip: u32): void {
  if (B.hash) heap.free(B.hash);
  B.hashMask = mask;
  const table = heap.alloc((<usize>mask + 1) << 2);
  B.hash = table;
  memory.fill(table, 0xff, (<usize>mask + 1) << 2);
  for (let j: u32 = 0; j < B.nodeCount; j++) {
    if (j == skip || hasFlag(j, F_SHADOWED)) continue;
    const h = tempAt(j).hash;
    let k = h & mask;
    while (load<u32>(table + (<usize>k << 2)) != NONE) k = (k + 1) & mask;
    store<u32>(table + (<usize>k << 2), (h & HASH_TAG_MASK) | j);
  }
}

/** Adds node id (hash h) to the table, growing it past 3/4 full. */
export function tableInsert(id: u32, h: u32): void {
  if ((<u64>B.nodeCount << 2) > (<u64>B.hashMask + 1) * 3) rebuildTable(B.hashMask * 2 + 1, id);
  const mask = B.hashMask;
  let i = h & mask;
  while (load<u32>(B.hash + (<usize>i << 2)) != NONE) i = (i + 1) & mask;
  store<u32>(B.hash + (<usize>i << 2), (h & HASH_TAG_MASK) | id);
}

/** Points the slot of node `old` at node `id` (same name, hash h). */
export function tableReplace(old: u32, id: u32, h: u32): void {
  const mask = B.hashMask;
  let i = h & mask;
  while ((load<u32>(B.hash + (<usize>i << 2)) & HASH_ID_MASK) != old) i = (i + 1) & mask;
  store<u32>(B.hash + (<usize>i << 2), (h & HASH_TAG_MASK) | id);
}

// ---- nodes ----------------------------------------------------------------------------------------

export function initNode(id: u32, attr: u32, bits: u32, size: u32, mtime: u32, name: u32, a: u32, b: u32): void {
  const n = nodeAt(id);
  n.attr = attr;
  n.bits = bits;
  n.size = size;
  n.mtime = mtime;
  n.name = name;
  n.next = NONE;
  n.a = a;
  n.b = b;
}

export function initTemp(id: u32, h: u32, parent: u32, aux: u32, pos: u32): void {
  const t = tempAt(id);
  t.hash = h;
  t.parent = parent;
  t.winner = NONE;
  t.aux = aux;
  t.pos = pos;
}

@inline export function setFlag(id: u32, f: u32): void {
  const n = nodeAt(id);
  n.bits |= f << FLAG_SHIFT;
}
@inline export function hasFlag(id: u32, f: u32): bool {
  return (nodeAt(id).bits & (f << FLAG_SHIFT)) != 0;
}

/** Node bits of a new directory: nlink 2 (itself and "."), no flags. */
export const DIR_BITS: u32 = 2;

/** The root: node 0, an implicit directory until the TOC gives it an entry. */
export function makeRoot(): void {
  B.implicitDirAttr = internAttr(T_DIR, 0o755, 0, 0, NONE, NONE);
  const root = newNode();
  ensurePool(8);
  const ref = poolAppend(0);
  const h = hashBytes(B.pool + ref, 0);
  initNode(root, B.implicitDirAttr, DIR_BITS | (F_IMPLICIT << FLAG_SHIFT), 0, 0, ref, NONE, NONE);
  initTemp(root, h, 0, NONE, 0);
  tableInsert(root, h);
}

/** An implicit directory named by the first len bytes of the pool string at src, under parent. */
function makeImplicitDir(src: u32, len: u32, parent: u32, pos: u32): u32 {
  B.implicitBytes += len;
  if (B.implicitBytes > B.implicitBudget) return <u32>fail(E_LIMIT, B.input + pos) | NONE;
  ensurePool(<usize>len + 8);
  const ref = poolAppend(len);
  memory.copy(B.pool + ref, B.pool + src, len);
  const id = newNode();
  if (id == NONE) return <u32>fail(E_LIMIT, B.input + pos) | NONE;
  const h = hashBytes(B.pool + ref, len);
  initNode(id, B.implicitDirAttr, DIR_BITS | (F_IMPLICIT << FLAG_SHIFT), 0, 0, ref, NONE, NONE);
  initTemp(id, h, parent, NONE, pos);
  setFlag(parent, F_HASCHILD);
  tableInsert(id, h);
  return id;
}

/** Whether live node id is named by the first plen bytes of the pool string at ref. */
@inline function isParent(id: u32, ref: u32, plen: u32): bool {
  const n = nodeAt(id), pool = B.pool;
  const name = pool + n.name;
  return load<u32>(name - 4) == plen && (n.bits & (F_SHADOWED << FLAG_SHIFT)) == 0 && sameBytes(name, pool + ref, plen);
}

/** The parent directory of the name at pool ref (len n), created (implicit) if missing; NONE on error. */
export function ensureParent(ref: u32, n: u32, pos: u32): u32 {
  const ls = lastSlash(B.pool + ref, n);
  if (ls < 0) return 0;
  const plen = <u32>ls;
  // entries come in tar order: usually the same parent as the previous entry
  const last = B.lastParent;
  if (isParent(last, ref, plen)) return last;
  // or the directory created last (tar order descends into it)
  const dir = B.lastDir;
  if (dir != last && isParent(dir, ref, plen)) {
    B.lastParent = dir;
    return dir;
  }
  const id = ensureParentSlow(ref, plen, pos);
  if (id != NONE) B.lastParent = id;
  return id;
}

function ensureParentSlow(ref: u32, plen: u32, pos: u32): u32 {
  const p = B.pool + ref;
  let id = lookupName(p, plen, hashBytes(p, plen));
  if (id != NONE) {
    if (typeOf(id) != T_DIR) return <u32>fail(E_PARENT, B.input + pos) | NONE;
    return id;
  }
  // the deepest ancestor that exists, then every directory below it
  let top = plen;
  let anc: u32 = 0;
  while (true) {
    const s2 = lastSlash(p, top);
    if (s2 < 0) break;
    const l2 = <u32>s2;
    const id2 = lookupName(p, l2, hashBytes(p, l2));
    if (id2 != NONE) {
      if (typeOf(id2) != T_DIR) return <u32>fail(E_PARENT, B.input + pos) | NONE;
      anc = id2;
      break;
    }
    top = l2;
  }
  let cur = anc;
  let len = top;
  while (true) {
    cur = makeImplicitDir(ref, len, cur, pos); // may move the pool
    if (cur == NONE) return NONE;
    if (len == plen) return cur;
    let q = len + 1;
    while (load<u8>(B.pool + ref + q) != 0x2f) q++;
    len = q;
  }
}
