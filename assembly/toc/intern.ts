// Interning during the build: attribute rows shared by equal (type, mode, uid, gid, owners), owner
// names stored once, and the last owner name given for each uid / gid.
import { hashBytes } from "./path";
import { Attr, NONE } from "./layout";
import { B, attrAt } from "./state";
import { grown, dropString, refLen } from "./tables";

@inline function w32(base: usize, word: u32): usize {
  return base + (<usize>word << 2);
}

// ---- owner names by id ----------------------------------------------------------------------------
// Go's writer names an owner only on the first entry with its id (and again when the name changes);
// Go's reader gives an entry without a name the last one seen for its id, in TOC order. Table:
// [mask, count, (id, ref) × (mask + 1)], open addressing, ref NONE = empty slot.

@inline function idSlot(t: usize, i: u32): usize {
  return t + 8 + (<usize>i << 3);
}

@inline function idHash(id: u32): u32 {
  const h = id * 0x9e3779b1;
  return h ^ (h >>> 15);
}

/** The ref stored for id in table t (0: no table yet), or NONE. */
export function idGet(t: usize, id: u32): u32 {
  if (t == 0) return NONE;
  const mask = load<u32>(t);
  let i = idHash(id) & mask;
  while (true) {
    const p = idSlot(t, i);
    const r = load<u32>(p, 4);
    if (r == NONE || load<u32>(p) == id) return r;
    i = (i + 1) & mask;
  }
}

/** Sets id → ref; returns the table (made or grown when needed). */
export function idSet(t: usize, id: u32, ref: u32): usize {
  if (t == 0 || (load<u32>(t, 4) + 1) * 2 > load<u32>(t)) {
    const old = t, oldMask: u32 = old ? load<u32>(old) : 0;
    const mask: u32 = old ? oldMask * 2 + 1 : 15;
    t = heap.alloc(8 + ((<usize>mask + 1) << 3));
    memory.fill(t + 8, 0xff, (<usize>mask + 1) << 3);
    store<u32>(t, mask);
    store<u32>(t, 0, 4);
    if (old) {
      for (let i: u32 = 0; i <= oldMask; i++) {
        const r = load<u32>(idSlot(old, i), 4);
        if (r != NONE) idSet(t, load<u32>(idSlot(old, i)), r);
      }
      heap.free(old);
    }
  }
  const mask = load<u32>(t);
  let i = idHash(id) & mask;
  while (true) {
    const p = idSlot(t, i);
    const r = load<u32>(p, 4);
    if (r == NONE) {
      store<u32>(p, id);
      store<u32>(p, ref, 4);
      store<u32>(t, load<u32>(t, 4) + 1, 4);
      return t;
    }
    if (load<u32>(p) == id) {
      store<u32>(p, ref, 4);
      return t;
    }
    i = (i + 1) & mask;
  }
}

// ---- owner names ----------------------------------------------------------------------------------

/** Returns the ref of an earlier equal owner name (dropping the new copy), else interns ref. */
export function internOwner(ref: u32, len: u32): u32 {
  if ((B.ownerCount + 1) * 2 > B.ownerMask) {
    const old = B.ownerHash, oldMask = B.ownerMask;
    B.ownerMask = B.ownerMask ? B.ownerMask * 2 + 1 : 63;
    B.ownerHash = heap.alloc((<usize>B.ownerMask + 1) << 2);
    memory.fill(B.ownerHash, 0xff, (<usize>B.ownerMask + 1) << 2);
    if (old) {
      for (let i: u32 = 0; i <= oldMask; i++) {
        const r = load<u32>(w32(old, i));
        if (r != NONE) ownerInsert(r);
      }
      heap.free(old);
    }
  }
  const pool = B.pool, mask = B.ownerMask;
  let i = hashBytes(pool + ref, len) & mask;
  while (true) {
    const r = load<u32>(w32(B.ownerHash, i));
    if (r == NONE) break;
    if (refLen(r) == len && memory.compare(pool + r, pool + ref, len) == 0) {
      dropString(ref, len);
      return r;
    }
    i = (i + 1) & mask;
  }
  store<u32>(w32(B.ownerHash, i), ref);
  B.ownerCount++;
  return ref;
}

function ownerInsert(r: u32): void {
  const mask = B.ownerMask;
  let i = hashBytes(B.pool + r, refLen(r)) & mask;
  while (load<u32>(w32(B.ownerHash, i)) != NONE) i = (i + 1) & mask;
  store<u32>(w32(B.ownerHash, i), r);
}

// ---- attributes -----------------------------------------------------------------------------------

/** The attribute row of (type, mode, uid, gid, user, group): an existing equal one, else a new one. */
export function internAttr(type: u32, mode: u32, uid: u32, gid: u32, user: u32, group: u32): u32 {
  if ((B.attrCount + 1) * 2 > B.attrMask) {
    if (B.attrHash) heap.free(B.attrHash);
    B.attrMask = B.attrMask ? B.attrMask * 2 + 1 : 63;
    B.attrHash = heap.alloc((<usize>B.attrMask + 1) << 2);
    memory.fill(B.attrHash, 0xff, (<usize>B.attrMask + 1) << 2);
    for (let a: u32 = 0; a < B.attrCount; a++) {
      const r = attrAt(a);
      let i = attrHashOf(r.type, r.mode, r.uid, r.gid, r.user, r.group) & B.attrMask;
      while (load<u32>(w32(B.attrHash, i)) != NONE) i = (i + 1) & B.attrMask;
      store<u32>(w32(B.attrHash, i), a);
    }
  }
  const mask = B.attrMask;
  let i = attrHashOf(type, mode, uid, gid, user, group) & mask;
  while (true) {
    const a = load<u32>(w32(B.attrHash, i));
    if (a == NONE) break;
    const r = attrAt(a);
    if (r.type == type && r.mode == mode && r.uid == uid && r.gid == gid && r.user == user && r.group == group) return a;
    i = (i + 1) & mask;
  }
  if (B.attrCount == B.attrCap) {
    B.attrCap = B.attrCap ? B.attrCap * 2 : 64;
    B.attrs = grown(B.attrs, <usize>B.attrCap * offsetof<Attr>());
  }
  const a = B.attrCount++;
  const r = attrAt(a);
  r.type = type;
  r.mode = mode;
  r.uid = uid;
  r.gid = gid;
  r.user = user;
  r.group = group;
  store<u32>(w32(B.attrHash, i), a);
  return a;
}

function attrHashOf(a: u32, b: u32, c: u32, d: u32, e: u32, f: u32): u32 {
  let h: u32 = a * 0x9e3779b1;
  h = (rotl<u32>(h, 7) ^ b) * 0x85ebca6b;
  h = (rotl<u32>(h, 7) ^ c) * 0xc2b2ae35;
  h = (rotl<u32>(h, 7) ^ d) * 0x9e3779b1;
  h = (rotl<u32>(h, 7) ^ e) * 0x85ebca6b;
  h = (rotl<u32>(h, 7) ^ f) * 0xc2b2ae35;
  return h ^ (h >> 15);
}
