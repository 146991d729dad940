// TOC index: parses eStargz TOC JSON bytes ({"version":1,"entries":[...]}) into the binary index
// described in toc/layout.ts, in one pass over the bytes plus one pass over the nodes. All state
// of a build lives in module globals and heap blocks; the finished index is self-contained (its
// header points at its tables), so several indexes can live side by side.
import {
  fail, failed, errorCode, errorAt, resetError, E_SYNTAX, E_VERSION, E_SHAPE, E_FIELD, E_NUMBER, E_TYPE,
  E_MISSING, E_ESCAPE, E_NAME, E_DIGEST, E_TIME, E_BASE64, E_HUGE, E_ROOT, E_PARENT, E_DIR_REPLACED,
  E_CHUNK_ORPHAN, E_CHUNK_ORDER, E_CHUNK_SIZES, E_LINK_MISSING, E_LINK_LOOP, E_LINK_DIR, E_OFFSET,
  E_LIMIT, E_DUP_ENTRIES, E_TRAILING,
} from "./toc/errors";
import { PAD, setInputEnd, inputEnd, unexpected, skipWs, scanString, hadEscape, hadHigh, validUtf8, repairUtf8, decodeString, parseUint, numValue, skipValue, isNull } from "./toc/scan";
import { cleanName, cleanNameFast, hashBytes, lastSlash, sameBytes } from "./toc/path";
import { parseTime, timeSec, timeNsec } from "./toc/time";
import { base64Decode } from "./toc/base64";
import * as L from "./toc/layout";

const NONE = L.NONE;
const MAX_NODES: u32 = 0xffffff; // nlink and flags share a word
const MAX_NAME: usize = 65535; // bytes of a cleaned name or link target
const MAX_OWNER: usize = 4096; // userName / groupName
const MAX_XATTR_NAME: usize = 1024;
const MAX_XATTR_VALUE: usize = 1 << 20;

// ---- growable tables of the build ----------------------------------------------------------

let nodes: usize = 0, nodeCount: u32 = 0, nodeCap: u32 = 0;
let ntemp: usize = 0; // per node: hash, parent, winner, aux, json pos
const NT_WORDS: u32 = 5;
const NT_HASH = 0, NT_PARENT = 1, NT_WINNER = 2, NT_AUX = 3, NT_POS = 4;
let chunks: usize = 0, chunkCount: u32 = 0, chunkCap: u32 = 0;
let chunkPos: usize = 0; // per chunk: json pos of its entry
let ents: usize = 0, entCount: u32 = 0, entCap: u32 = 0;
let attrs: usize = 0, attrCount: u32 = 0, attrCap: u32 = 0;
let attrHash: usize = 0, attrMask: u32 = 0;
let ownerHash: usize = 0, ownerMask: u32 = 0, ownerCount: u32 = 0;
// uid / gid → the owner name (pool ref) of the last entry that named it, for entries that omit theirs
let userIds: usize = 0, groupIds: usize = 0;
let xindex: usize = 0, xindexCount: u32 = 0, xindexCap: u32 = 0;
let xattrs: usize = 0, xattrCount: u32 = 0, xattrCap: u32 = 0;
let digests: usize = 0; // 32 bytes per chunk, grown with the chunk table
let fileDigests: usize = 0, fileDigestCount: u32 = 0, fileDigestCap: u32 = 0;
let pool: usize = 0, poolLen: u32 = 0, poolCap: u32 = 0;
let nums: usize = 0, numCount: u32 = 0, numCap: u32 = 0;
let table: usize = 0, tableMask: u32 = 0;
let scratch: usize = 0, scratchCap: usize = 0;

let inputBase: usize = 0;
let implicitBytes: u64 = 0, implicitBudget: u64 = 0;
let maxNameLen: u32 = 0;
let lastChunkNode: u32 = NONE;
let rootXFirst: u32 = 0, rootXCount: u32 = 0;

@inline function w32(base: usize, word: u32): usize {
  return base + (<usize>word << 2);
}
@inline function nodeAt(id: u32): usize {
  return nodes + (<usize>id << 5);
}
@inline function ntAt(id: u32): usize {
  return ntemp + <usize>id * 20;
}
@inline function chunkAt(c: u32): usize {
  return chunks + <usize>c * 20;
}
@inline function attrAt(a: u32): usize {
  return attrs + <usize>a * 24;
}

function grown(ptr: usize, bytes: usize): usize {
  return ptr == 0 ? heap.alloc(bytes) : heap.realloc(ptr, bytes);
}

function newNode(): u32 {
  if (nodeCount == nodeCap) {
    if (nodeCap >= MAX_NODES) return NONE;
    const cap = nodeCap ? nodeCap * 2 : 256;
    nodes = grown(nodes, <usize>cap << 5);
    ntemp = grown(ntemp, <usize>cap * 20);
    nodeCap = cap;
  }
  if (nodeCount >= MAX_NODES) return NONE;
  return nodeCount++;
}

function newChunk(): u32 {
  if (chunkCount == chunkCap) {
    const cap = chunkCap ? chunkCap * 2 : 256;
    chunks = grown(chunks, <usize>cap * 20);
    chunkPos = grown(chunkPos, <usize>cap << 2);
    digests = grown(digests, <usize>cap << 5);
    chunkCap = cap;
  }
  return chunkCount++;
}

function pushEntry(pos: u32, node: u32, chunkWord: u32): void {
  if (entCount == entCap) {
    const cap = entCap ? entCap * 2 : 256;
    ents = grown(ents, <usize>cap * 12);
    entCap = cap;
  }
  const at = ents + <usize>entCount * 12;
  store<u32>(at, pos);
  store<u32>(at, node, 4);
  store<u32>(at, chunkWord, 8);
  entCount++;
}

function ensurePool(extra: usize): void {
  const need = <usize>poolLen + extra + 32; // slack: SIMD reads run up to 16 bytes past a string
  if (need > <usize>poolCap) {
    let cap = <usize>poolCap * 2;
    if (cap < need) cap = need;
    pool = grown(pool, cap);
    poolCap = <u32>cap;
  }
}

function ensureScratch(n: usize): void {
  if (n + 32 > scratchCap) {
    scratchCap = n + 32 > scratchCap * 2 ? n + 32 : scratchCap * 2;
    if (scratch) heap.free(scratch);
    scratch = heap.alloc(scratchCap);
  }
}

function pushNum(v: f64): u32 {
  if (numCount == numCap) {
    const cap = numCap ? numCap * 2 : 64;
    nums = grown(nums, <usize>cap << 3);
    numCap = cap;
  }
  store<f64>(nums + (<usize>numCount << 3), v);
  return L.NUM_BIG | numCount++;
}

@inline function encNum(v: u64): u32 {
  return v < 0x80000000 ? <u32>v : pushNum(<f64>v);
}

@inline function decNum(w: u32): u64 {
  return w < L.NUM_BIG ? <u64>w : <u64>load<f64>(nums + (<usize>(w & 0x7fffffff) << 3));
}

function encTime(sec: i64, nsec: u32): u32 {
  if (nsec == 0 && sec >= 0 && sec < 0x80000000) return <u32>sec;
  const i = pushNum(<f64>sec);
  pushNum(<f64>nsec);
  return i;
}

// ---- strings ---------------------------------------------------------------------------------

let strLen: u32 = 0;

/** Copies the JSON string body [s, e) (decoding escapes if esc) into the pool; returns its ref. */
function poolString(s: usize, e: usize, esc: bool, limit: usize, at: usize): u32 {
  const raw = e - s;
  if (!esc && raw > limit) return <u32>fail(E_HUGE, at) | NONE;
  ensurePool(raw + 8);
  const hdr = (poolLen + 3) & ~3;
  const dst = pool + hdr + 4;
  let n: usize;
  if (esc) {
    n = decodeString(s, e, dst) - dst;
    if (n > limit) return <u32>fail(E_HUGE, at) | NONE;
  } else {
    memory.copy(dst, s, raw);
    n = raw;
  }
  if (hadHigh && !validUtf8(dst, n)) {
    // invalid UTF-8 becomes U+FFFD per byte, as Go reads it: repair through the scratch buffer
    ensureScratch(n);
    memory.copy(scratch, dst, n);
    ensurePool(n * 3 + 8);
    n = repairUtf8(scratch, n, pool + hdr + 4) - (pool + hdr + 4);
    if (n > limit) return <u32>fail(E_HUGE, at) | NONE;
  }
  store<u32>(pool + hdr, <u32>n);
  poolLen = hdr + 4 + <u32>n;
  strLen = <u32>n;
  return hdr + 4;
}

/** Drops the most recent pool string if nothing was appended after it. */
function dropString(ref: u32, len: u32): void {
  if (ref != NONE && poolLen == ref + len) poolLen = ref - 4;
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

function idGet(t: usize, id: u32): u32 {
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
function idSet(t: usize, id: u32, ref: u32): usize {
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

/** Returns the ref of an earlier equal owner name (dropping the new copy), else interns ref. */
function internOwner(ref: u32, len: u32): u32 {
  if ((ownerCount + 1) * 2 > ownerMask) {
    const old = ownerHash, oldMask = ownerMask;
    ownerMask = ownerMask ? ownerMask * 2 + 1 : 63;
    ownerHash = heap.alloc((<usize>ownerMask + 1) << 2);
    memory.fill(ownerHash, 0xff, (<usize>ownerMask + 1) << 2);
    if (old) {
      for (let i: u32 = 0; i <= oldMask; i++) {
        const r = load<u32>(w32(old, i));
        if (r != NONE) ownerInsert(r);
      }
      heap.free(old);
    }
  }
  const h = hashBytes(pool + ref, len);
  let i = h & ownerMask;
  while (true) {
    const r = load<u32>(w32(ownerHash, i));
    if (r == NONE) break;
    if (load<u32>(pool + r - 4) == len && memory.compare(pool + r, pool + ref, len) == 0) {
      dropString(ref, len);
      return r;
    }
    i = (i + 1) & ownerMask;
  }
  store<u32>(w32(ownerHash, i), ref);
  ownerCount++;
  return ref;
}

function ownerInsert(r: u32): void {
  let i = hashBytes(pool + r, load<u32>(pool + r - 4)) & ownerMask;
  while (load<u32>(w32(ownerHash, i)) != NONE) i = (i + 1) & ownerMask;
  store<u32>(w32(ownerHash, i), r);
}

// ---- attributes (type, mode, uid, gid, owner names), interned ---------------------------------

function internAttr(type: u32, mode: u32, uid: u32, gid: u32, user: u32, group: u32): u32 {
  if ((attrCount + 1) * 2 > attrMask) {
    if (attrHash) heap.free(attrHash);
    attrMask = attrMask ? attrMask * 2 + 1 : 63;
    attrHash = heap.alloc((<usize>attrMask + 1) << 2);
    memory.fill(attrHash, 0xff, (<usize>attrMask + 1) << 2);
    for (let a: u32 = 0; a < attrCount; a++) {
      const p = attrAt(a);
      let i = attrHashOf(load<u32>(p), load<u32>(p, 4), load<u32>(p, 8), load<u32>(p, 12), load<u32>(p, 16), load<u32>(p, 20)) & attrMask;
      while (load<u32>(w32(attrHash, i)) != NONE) i = (i + 1) & attrMask;
      store<u32>(w32(attrHash, i), a);
    }
  }
  let i = attrHashOf(type, mode, uid, gid, user, group) & attrMask;
  while (true) {
    const a = load<u32>(w32(attrHash, i));
    if (a == NONE) break;
    const p = attrAt(a);
    if (load<u32>(p) == type && load<u32>(p, 4) == mode && load<u32>(p, 8) == uid && load<u32>(p, 12) == gid &&
        load<u32>(p, 16) == user && load<u32>(p, 20) == group) return a;
    i = (i + 1) & attrMask;
  }
  if (attrCount == attrCap) {
    attrCap = attrCap ? attrCap * 2 : 64;
    attrs = grown(attrs, <usize>attrCap * 24);
  }
  const a = attrCount++;
  const p = attrAt(a);
  store<u32>(p, type);
  store<u32>(p, mode, 4);
  store<u32>(p, uid, 8);
  store<u32>(p, gid, 12);
  store<u32>(p, user, 16);
  store<u32>(p, group, 20);
  store<u32>(w32(attrHash, i), a);
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

@inline function typeOf(id: u32): u32 {
  return load<u32>(attrAt(load<u32>(nodeAt(id))));
}

// ---- the path hash table --------------------------------------------------------------------

// Table slots hold (top 8 bits of the name's hash) << 24 | node id, so most probes that miss are
// settled without touching the node or its name. NONE (id 0xffffff, tag 0xff) is never a node.
const ID_MASK: u32 = 0x00ffffff;
const TAG_MASK: u32 = 0xff000000;

function lookupName(p: usize, n: u32, h: u32): u32 {
  let i = h & tableMask;
  const tag = h & TAG_MASK;
  while (true) {
    const slot = load<u32>(w32(table, i));
    if (slot == NONE) return NONE;
    if ((slot & TAG_MASK) == tag) {
      const id = slot & ID_MASK;
      // the build keeps every node's full hash: compare names only when it agrees
      if (load<u32>(ntAt(id)) == h) {
        const name = pool + load<u32>(nodeAt(id), N_NAME_OFF);
        if (load<u32>(name - 4) == n && sameBytes(name, p, n)) return id;
      }
    }
    i = (i + 1) & tableMask;
  }
}

const N_NAME_OFF: usize = L.N_NAME * 4;

/** Re-creates the table with mask `mask` from the live nodes' hashes (all but `skip`). */
function rebuildTable(mask: u32, skip: u32): void {
  if (table) heap.free(table);
  tableMask = mask;
  table = heap.alloc((<usize>mask + 1) << 2);
  memory.fill(table, 0xff, (<usize>mask + 1) << 2);
  for (let j: u32 = 0; j < nodeCount; j++) {
    if (j == skip) continue;
    if (load<u32>(nodeAt(j), L.N_BITS * 4) & (L.F_SHADOWED << 24)) continue;
    const h = load<u32>(ntAt(j));
    let k = h & mask;
    while (load<u32>(w32(table, k)) != NONE) k = (k + 1) & mask;
    store<u32>(w32(table, k), (h & TAG_MASK) | j);
  }
}

function tableInsert(id: u32, h: u32): void {
  if ((<u64>nodeCount << 2) > (<u64>tableMask + 1) * 3) rebuildTable(tableMask * 2 + 1, id);
  let i = h & tableMask;
  while (load<u32>(w32(table, i)) != NONE) i = (i + 1) & tableMask;
  store<u32>(w32(table, i), (h & TAG_MASK) | id);
}

function tableReplace(old: u32, id: u32, h: u32): void {
  let i = h & tableMask;
  while ((load<u32>(w32(table, i)) & ID_MASK) != old) i = (i + 1) & tableMask;
  store<u32>(w32(table, i), (h & TAG_MASK) | id);
}

// ---- nodes ------------------------------------------------------------------------------------

function initNode(id: u32, attr: u32, bits: u32, size: u32, mtime: u32, name: u32, a: u32, b: u32): void {
  const p = nodeAt(id);
  store<u32>(p, attr);
  store<u32>(p, bits, 4);
  store<u32>(p, size, 8);
  store<u32>(p, mtime, 12);
  store<u32>(p, name, 16);
  store<u32>(p, NONE, 20);
  store<u32>(p, a, 24);
  store<u32>(p, b, 28);
}

function initTemp(id: u32, h: u32, parent: u32, aux: u32, pos: u32): void {
  const t = ntAt(id);
  store<u32>(t, h);
  store<u32>(t, parent, 4);
  store<u32>(t, NONE, 8);
  store<u32>(t, aux, 12);
  store<u32>(t, pos, 16);
}

@inline function setFlag(id: u32, f: u32): void {
  const p = nodeAt(id) + 4;
  store<u32>(p, load<u32>(p) | (f << 24));
}
@inline function hasFlag(id: u32, f: u32): bool {
  return (load<u32>(nodeAt(id), 4) & (f << 24)) != 0;
}

let implicitDirAttr: u32 = 0;

function makeImplicitDir(src: u32, len: u32, parent: u32, pos: u32): u32 {
  implicitBytes += len;
  if (implicitBytes > implicitBudget) return <u32>fail(E_LIMIT, inputBase + pos) | NONE;
  ensurePool(<usize>len + 8);
  const hdr = (poolLen + 3) & ~3;
  store<u32>(pool + hdr, len);
  memory.copy(pool + hdr + 4, pool + src, len);
  poolLen = hdr + 4 + len;
  const id = newNode();
  if (id == NONE) return <u32>fail(E_LIMIT, inputBase + pos) | NONE;
  const h = hashBytes(pool + hdr + 4, len);
  initNode(id, implicitDirAttr, 2 | (L.F_IMPLICIT << 24), 0, 0, hdr + 4, NONE, NONE);
  initTemp(id, h, parent, NONE, pos);
  setFlag(parent, L.F_HASCHILD);
  tableInsert(id, h);
  return id;
}

/** The parent directory of the name at pool ref (len n), created (implicit, 0755) if missing. */
let lastParent: u32 = 0;
let lastDir: u32 = 0;

/** Whether live node id is named by the first plen bytes of the pool string at ref. */
@inline function isParent(id: u32, ref: u32, plen: u32): bool {
  const p = nodeAt(id);
  const name = pool + load<u32>(p, N_NAME_OFF);
  return load<u32>(name - 4) == plen && (load<u32>(p, 4) & (L.F_SHADOWED << 24)) == 0 && sameBytes(name, pool + ref, plen);
}

function ensureParent(ref: u32, n: u32, pos: u32): u32 {
  const ls = lastSlash(pool + ref, n);
  if (ls < 0) return 0;
  const plen = <u32>ls;
  // entries come in tar order: usually the same parent as the previous entry
  if (isParent(lastParent, ref, plen)) return lastParent;
  // or the directory created last (tar order descends into it)
  if (lastDir != lastParent && isParent(lastDir, ref, plen)) {
    lastParent = lastDir;
    return lastDir;
  }
  const id = ensureParentSlow(ref, plen, pos);
  if (id != NONE) lastParent = id;
  return id;
}

function ensureParentSlow(ref: u32, plen: u32, pos: u32): u32 {
  let id = lookupName(pool + ref, plen, hashBytes(pool + ref, plen));
  if (id != NONE) {
    if (typeOf(id) != L.T_DIR) return <u32>fail(E_PARENT, inputBase + pos) | NONE;
    return id;
  }
  let top = plen;
  let anc: u32 = 0;
  while (true) {
    const s2 = lastSlash(pool + ref, top);
    if (s2 < 0) break;
    const l2 = <u32>s2;
    const id2 = lookupName(pool + ref, l2, hashBytes(pool + ref, l2));
    if (id2 != NONE) {
      if (typeOf(id2) != L.T_DIR) return <u32>fail(E_PARENT, inputBase + pos) | NONE;
      anc = id2;
      break;
    }
    top = l2;
  }
  let cur = anc;
  let len = top;
  while (true) {
    cur = makeImplicitDir(ref, len, cur, pos);
    if (cur == NONE) return NONE;
    if (len == plen) return cur;
    let q = len + 1;
    while (load<u8>(pool + ref + q) != 0x2f) q++;
    len = q;
  }
}

// ---- the entry being parsed -------------------------------------------------------------------

let ePos: usize = 0;
let eName: u32 = NONE, eNameLen: u32 = 0;
let eType: u32 = 0;
let eSize: u64 = 0, eMode: u32 = 0, eUid: u32 = 0, eGid: u32 = 0;
let eUser: u32 = NONE, eGroup: u32 = NONE, eLink: u32 = NONE;
let eMtSec: i64 = 0, eMtNsec: u32 = 0;
let eDevMajor: u32 = 0, eDevMinor: u32 = 0;
// digests of the entry being parsed, decoded into static buffers until the entry is committed
let eHasDigest = false, eHasChunkDigest = false;
const E_DIGEST_BUF: usize = memory.data(32);
const E_CHUNK_DIGEST_BUF: usize = memory.data(32);
let eOffset: u64 = 0, eInner: u64 = 0, eChunkOffset: u64 = 0, eChunkSize: u64 = 0;
let eXFirst: u32 = 0, eXCount: u32 = 0;

function resetEntry(p: usize): void {
  ePos = p;
  eName = NONE;
  eNameLen = 0;
  eType = 0;
  eSize = 0;
  eMode = 0;
  eUid = 0;
  eGid = 0;
  eUser = NONE;
  eGroup = NONE;
  eLink = NONE;
  eMtSec = 0;
  eMtNsec = 0;
  eDevMajor = 0;
  eDevMinor = 0;
  eHasDigest = false;
  eHasChunkDigest = false;
  eOffset = 0;
  eInner = 0;
  eChunkOffset = 0;
  eChunkSize = 0;
  eXFirst = 0;
  eXCount = 0;
}

function pushChunk(pos: u32): u32 {
  if (eOffset > L.MAX_BLOB_OFFSET) return <u32>fail(E_OFFSET, ePos) | NONE;
  const c = newChunk();
  const p = chunkAt(c);
  store<u32>(p, <u32>eOffset);
  store<u32>(p, encNum(eChunkSize), 4); // raw chunkSize until resolveChunks; then compressedEnd
  store<u32>(p, <u32>(eOffset >> 32) | (eHasChunkDigest ? 0x80000000 : 0), 8);
  store<u32>(p, encNum(eInner), 12);
  store<u32>(p, encNum(eChunkOffset), 16);
  if (eHasChunkDigest) memory.copy(digests + (<usize>c << 5), E_CHUNK_DIGEST_BUF, 32);
  store<u32>(chunkPos + (<usize>c << 2), pos);
  return c;
}

@inline function memberOf(c: u32): u64 {
  const p = chunkAt(c);
  return <u64>load<u32>(p) | (<u64>(load<u32>(p, 8) & 0xffff) << 32);
}

/** The file digest of the entry being committed: SAME_DIGEST, an index into fileDigests, or NONE. */
function fileDigest(): u32 {
  if (!eHasDigest) return NONE;
  if (eSize > 0 && eHasChunkDigest && sameBytes(E_DIGEST_BUF, E_CHUNK_DIGEST_BUF, 32)) return L.SAME_DIGEST;
  if (fileDigestCount == fileDigestCap) {
    fileDigestCap = fileDigestCap ? fileDigestCap * 2 : 64;
    fileDigests = grown(fileDigests, <usize>fileDigestCap << 5);
  }
  memory.copy(fileDigests + (<usize>fileDigestCount << 5), E_DIGEST_BUF, 32);
  return fileDigestCount++;
}

function commitEntry(): bool {
  const pos = <u32>(ePos - inputBase);
  if (eName == NONE || eType == 0) return !fail(E_MISSING, ePos);
  if (eType == L.T_CHUNK_ENTRY) {
    // the usual case: the file whose chunk came last
    let id = lastChunkNode;
    if (id != NONE) {
      const name = pool + load<u32>(nodeAt(id), N_NAME_OFF);
      if (load<u32>(name - 4) != eNameLen || hasFlag(id, L.F_SHADOWED) || !sameBytes(name, pool + eName, eNameLen)) id = NONE;
    }
    if (id == NONE) {
      id = lookupName(pool + eName, eNameLen, hashBytes(pool + eName, eNameLen));
      if (id == NONE || typeOf(id) != L.T_REG) return !fail(E_CHUNK_ORPHAN, ePos);
      return !fail(E_CHUNK_ORDER, ePos);
    }
    const c = pushChunk(pos);
    if (c == NONE) return false;
    const t = ntAt(id) + 12;
    store<u32>(t, load<u32>(t) + 1);
    pushEntry(pos, id, c | (L.T_CHUNK_ENTRY << 28));
    dropString(eName, eNameLen);
    return true;
  }
  // An omitted (or empty) name is the last one given for the id, as Go's reader fills it.
  if (eUser == NONE) eUser = idGet(userIds, eUid);
  else userIds = idSet(userIds, eUid, eUser);
  if (eGroup == NONE) eGroup = idGet(groupIds, eGid);
  else groupIds = idSet(groupIds, eGid, eGroup);
  const attr = internAttr(eType, eMode, eUid, eGid, eUser, eGroup);
  const mtime = encTime(eMtSec, eMtNsec);
  if (eNameLen == 0) {
    if (eType != L.T_DIR) return !fail(E_ROOT, ePos);
    const p = nodeAt(0);
    store<u32>(p, attr);
    store<u32>(p, load<u32>(p, 4) & ~(L.F_IMPLICIT << 24), 4);
    store<u32>(p, mtime, 12);
    store<u32>(ntAt(0), pos, 16);
    rootXFirst = eXFirst;
    rootXCount = eXCount;
    pushEntry(pos, 0, L.CHUNK_NONE | (L.T_DIR << 28));
    dropString(eName, eNameLen);
    return true;
  }
  if (eNameLen > maxNameLen) maxNameLen = eNameLen;
  const parent = ensureParent(eName, eNameLen, pos);
  if (parent == NONE) return false;
  const h = hashBytes(pool + eName, eNameLen);
  const old = lookupName(pool + eName, eNameLen, h);
  const id = newNode();
  if (id == NONE) return !fail(E_LIMIT, ePos);
  let bits: u32 = eType == L.T_DIR ? 2 : 1;
  if (old != NONE) {
    const oldDir = typeOf(old) == L.T_DIR;
    if (oldDir && hasFlag(old, L.F_HASCHILD)) {
      if (eType != L.T_DIR) return !fail(E_DIR_REPLACED, ePos);
      bits |= L.F_HASCHILD << 24;
    }
    setFlag(old, L.F_SHADOWED);
    store<u32>(ntAt(old), id, 8);
    tableReplace(old, id, h);
  } else {
    tableInsert(id, h);
  }
  let a = NONE, b = NONE, aux = NONE;
  let size: u32 = 0;
  let chunkWord = L.CHUNK_NONE;
  if (eType == L.T_REG) {
    size = encNum(eSize);
    b = fileDigest();
    aux = 0;
    lastChunkNode = NONE;
    if (eSize > 0) {
      a = pushChunk(pos);
      if (a == NONE) return false;
      aux = 1;
      chunkWord = a;
      lastChunkNode = id;
    }
  } else if (eType == L.T_SYMLINK || eType == L.T_HARDLINK) {
    b = eLink;
  } else if (eType == L.T_CHAR || eType == L.T_BLOCK) {
    a = eDevMajor;
    b = eDevMinor;
  }
  if (eXCount) {
    bits |= L.F_XATTRS << 24;
    if (xindexCount == xindexCap) {
      xindexCap = xindexCap ? xindexCap * 2 : 64;
      xindex = grown(xindex, <usize>xindexCap * 12);
    }
    const x = xindex + <usize>xindexCount * 12;
    store<u32>(x, id);
    store<u32>(x, eXFirst, 4);
    store<u32>(x, eXCount, 8);
    xindexCount++;
  }
  initNode(id, attr, bits, size, mtime, eName, a, b);
  initTemp(id, h, parent, aux, pos);
  if (eType == L.T_DIR) lastDir = id;
  setFlag(parent, L.F_HASCHILD);
  pushEntry(pos, id, chunkWord | (eType << 28));
  return true;
}

// ---- fields -----------------------------------------------------------------------------------

const K_NAME = 1, K_TYPE = 2, K_SIZE = 3, K_MODE = 4, K_UID = 5, K_GID = 6, K_DIGEST = 7, K_OFFSET = 8;
const K_XATTRS = 9, K_MODTIME = 10, K_VERSION = 11, K_ENTRIES = 12, K_LINKNAME = 13, K_USERNAME = 14;
const K_DEVMAJOR = 15, K_DEVMINOR = 16, K_GROUPNAME = 17, K_CHUNKSIZE = 18, K_INNEROFFSET = 19;
const K_CHUNKOFFSET = 20, K_CHUNKDIGEST = 21;

/** Identifies a key from its bytes [p, p+n) (16 readable bytes at p). 0 = unknown. */
function keyId(p: usize, n: usize): i32 {
  if (n > 11 || n < 3) return 0;
  const lo = load<u64>(p);
  if (n <= 8) {
    const v = n == 8 ? lo : lo & ((<u64>1 << (<u64>n << 3)) - 1);
    switch (<i32>n) {
      case 3:
        if (v == 0x646975) return K_UID;
        if (v == 0x646967) return K_GID;
        return 0;
      case 4:
        if (v == 0x656d616e) return K_NAME;
        if (v == 0x65707974) return K_TYPE;
        if (v == 0x657a6973) return K_SIZE;
        if (v == 0x65646f6d) return K_MODE;
        return 0;
      case 6:
        if (v == 0x747365676964) return K_DIGEST;
        if (v == 0x74657366666f) return K_OFFSET;
        if (v == 0x737274746178) return K_XATTRS;
        return 0;
      case 7:
        if (v == 0x656d6974646f6d) return K_MODTIME;
        if (v == 0x6e6f6973726576) return K_VERSION;
        if (v == 0x73656972746e65) return K_ENTRIES;
        return 0;
      case 8:
        if (v == 0x656d614e6b6e696c) return K_LINKNAME;
        if (v == 0x656d614e72657375) return K_USERNAME;
        if (v == 0x726f6a614d766564) return K_DEVMAJOR;
        if (v == 0x726f6e694d766564) return K_DEVMINOR;
        return 0;
    }
    return 0;
  }
  const hi = load<u64>(p, 8) & ((<u64>1 << (<u64>(n - 8) << 3)) - 1);
  if (n == 9) {
    if (lo == 0x6d614e70756f7267 && hi == 0x65) return K_GROUPNAME;
    if (lo == 0x7a69536b6e756863 && hi == 0x65) return K_CHUNKSIZE;
    return 0;
  }
  if (n == 11) {
    if (lo == 0x66664f72656e6e69 && hi == 0x746573) return K_INNEROFFSET;
    if (lo == 0x66664f6b6e756863 && hi == 0x746573) return K_CHUNKOFFSET;
    if (lo == 0x6769446b6e756863 && hi == 0x747365) return K_CHUNKDIGEST;
  }
  return 0;
}

/** Entry type from its bytes [p, p+n) (16 readable bytes at p). 0 = unknown. */
function typeId(p: usize, n: usize): u32 {
  if (n > 8 || n < 3) return 0;
  const lo = load<u64>(p);
  const v = n == 8 ? lo : lo & ((<u64>1 << (<u64>n << 3)) - 1);
  if (v == 0x726964) return L.T_DIR;
  if (v == 0x676572) return L.T_REG;
  if (v == 0x6b6e756863) return L.T_CHUNK_ENTRY;
  if (v == 0x6b6e696c6d7973) return L.T_SYMLINK;
  if (v == 0x6b6e696c64726168) return L.T_HARDLINK;
  if (v == 0x72616863) return L.T_CHAR;
  if (v == 0x6b636f6c62) return L.T_BLOCK;
  if (v == 0x6f666966) return L.T_FIFO;
  return 0;
}

// A string value's body after readString: [strStart, strEnd), escapes decoded into scratch if any.
let strStart: usize = 0, strEnd: usize = 0;

/** p at a string value: sets strStart/strEnd to its (escape-free) bytes; returns the position after it. */
function readString(p: usize): usize {
  if (load<u8>(p) != 0x22) return fail(E_FIELD, p);
  const s = p + 1;
  const e = scanString(s);
  if (e == 0) return 0;
  if (hadEscape) {
    ensureScratch(e - s);
    strStart = scratch;
    strEnd = decodeString(s, e, scratch);
    memory.fill(strEnd, 0, 16);
  } else {
    strStart = s;
    strEnd = e;
  }
  return e + 1;
}

/** p at a string value: copies it into the pool; returns the position after it (ref in lastRef). */
let lastRef: u32 = NONE;
function readPoolString(p: usize, limit: usize): usize {
  if (load<u8>(p) != 0x22) return fail(E_FIELD, p);
  const s = p + 1;
  const e = scanString(s);
  if (e == 0) return 0;
  const ref = poolString(s, e, hadEscape, limit, p);
  if (ref == NONE) return 0;
  lastRef = ref;
  return e + 1;
}

/** Decodes 64 lowercase hex digits at s to 32 bytes at d with SIMD; false if any is not [0-9a-f]. */
function hex32(s: usize, d: usize): bool {
  const c0 = i8x16.splat(0x30), ca = i8x16.splat(0x61), ten = i8x16.splat(10), six = i8x16.splat(6);
  const lowByte = i16x8.splat(0xff);
  let ok = i8x16.splat(-1);
  let prev = i8x16.splat(0);
  for (let k: usize = 0; k < 4; k++) {
    const v = v128.load(s + (k << 4));
    const dg = i8x16.sub(v, c0);
    const lt = i8x16.sub(v, ca);
    const isDigit = i8x16.lt_u(dg, ten);
    ok = v128.and(ok, v128.or(isDigit, i8x16.lt_u(lt, six)));
    const nib = v128.bitselect(dg, i8x16.add(lt, ten), isDigit);
    // lane i16 = first char (high nibble) in its low byte, second char in its high byte
    const byte = v128.or(i16x8.shl(v128.and(nib, lowByte), 4), i16x8.shr_u(nib, 8));
    if (k & 1) v128.store(d + ((k >> 1) << 4), i8x16.narrow_i16x8_u(prev, byte));
    else prev = byte;
  }
  return i8x16.all_true(ok);
}

/** 32 raw bytes from "sha256:<64 lowercase hex>" at p; returns the position after the value. */
function readDigest(p: usize, dst: usize): usize {
  const v = p;
  p = readString(p);
  if (p == 0) return 0;
  const s = strStart;
  if (strEnd - s != 71 || (load<u64>(s) & 0x00ffffffffffffff) != 0x003a363532616873) return fail(E_DIGEST, v);
  if (!hex32(s + 7, dst)) return fail(E_DIGEST, v);
  return p;
}

let lastU32: u32 = 0;
/** p at a number ≤ 2^32-1 (or null: 0); returns the position after it. */
function readU32(p: usize): usize {
  if (isNull(p)) {
    lastU32 = 0;
    return p + 4;
  }
  const v = p;
  p = parseUint(p);
  if (p == 0) return 0;
  if (numValue > 0xffffffff) return fail(E_NUMBER, v);
  lastU32 = <u32>numValue;
  return p;
}

let lastU64: u64 = 0;
function readU53(p: usize): usize {
  if (isNull(p)) {
    lastU64 = 0;
    return p + 4;
  }
  p = parseUint(p);
  lastU64 = numValue;
  return p;
}

function readXattrs(p: usize): usize {
  if (isNull(p)) return p + 4;
  if (load<u8>(p) != 0x7b) return fail(E_FIELD, p);
  eXFirst = xattrCount;
  eXCount = 0;
  p = skipWs(p + 1);
  if (load<u8>(p) == 0x7d) return p + 1;
  while (true) {
    if (load<u8>(p) != 0x22) return unexpected(p);
    p = readPoolString(p, MAX_XATTR_NAME);
    if (p == 0) return 0;
    const nameRef = lastRef;
    p = skipWs(p);
    if (load<u8>(p) != 0x3a) return unexpected(p);
    p = skipWs(p + 1);
    const v = p;
    let valueRef: u32;
    if (isNull(p)) {
      ensurePool(8);
      const hdr = (poolLen + 3) & ~3;
      store<u32>(pool + hdr, 0);
      poolLen = hdr + 4;
      valueRef = hdr + 4;
      p += 4;
    } else {
      p = readString(p);
      if (p == 0) return 0;
      const n = strEnd - strStart;
      if (n > MAX_XATTR_VALUE * 4 / 3 + 8) return fail(E_HUGE, v);
      ensurePool(n + 8);
      const hdr = (poolLen + 3) & ~3;
      const got = base64Decode(strStart, n, pool + hdr + 4);
      if (got < 0) return fail(E_BASE64, v);
      store<u32>(pool + hdr, <u32>got);
      poolLen = hdr + 4 + <u32>got;
      valueRef = hdr + 4;
    }
    if (xattrCount == xattrCap) {
      xattrCap = xattrCap ? xattrCap * 2 : 64;
      xattrs = grown(xattrs, <usize>xattrCap << 3);
    }
    store<u32>(xattrs + (<usize>xattrCount << 3), nameRef);
    store<u32>(xattrs + (<usize>xattrCount << 3), valueRef, 4);
    xattrCount++;
    eXCount++;
    p = skipWs(p);
    const c = load<u8>(p);
    if (c == 0x2c) {
      p = skipWs(p + 1);
      continue;
    }
    if (c == 0x7d) return p + 1;
    return unexpected(p);
  }
}

/** Parses the value of field `key` at p into the current entry; returns the position after it. */
function readField(key: i32, p: usize): usize {
  const v = p;
  switch (key) {
    case K_NAME: {
      if (isNull(p)) return p + 4;
      p = readPoolString(p, MAX_NAME);
      if (p == 0) return 0;
      let n = cleanNameFast(pool + lastRef, strLen);
      if (n == -3) n = cleanName(pool + lastRef, strLen);
      if (n == -1) return fail(E_ESCAPE, v);
      if (n < 0) return fail(E_NAME, v);
      store<u32>(pool + lastRef - 4, <u32>n);
      poolLen = lastRef + <u32>n;
      eName = lastRef;
      eNameLen = <u32>n;
      return p;
    }
    case K_TYPE: {
      p = readString(p);
      if (p == 0) return 0;
      eType = typeId(strStart, strEnd - strStart);
      if (eType == 0) return fail(E_TYPE, v);
      return p;
    }
    case K_SIZE:
      p = readU53(p);
      eSize = lastU64;
      return p;
    case K_MODE:
      p = readU32(p);
      eMode = lastU32;
      return p;
    case K_UID:
      p = readU32(p);
      eUid = lastU32;
      return p;
    case K_GID:
      p = readU32(p);
      eGid = lastU32;
      return p;
    case K_DEVMAJOR:
      p = readU32(p);
      eDevMajor = lastU32;
      return p;
    case K_DEVMINOR:
      p = readU32(p);
      eDevMinor = lastU32;
      return p;
    case K_OFFSET:
      p = readU53(p);
      eOffset = lastU64;
      return p;
    case K_INNEROFFSET:
      p = readU53(p);
      eInner = lastU64;
      return p;
    case K_CHUNKOFFSET:
      p = readU53(p);
      eChunkOffset = lastU64;
      return p;
    case K_CHUNKSIZE:
      p = readU53(p);
      eChunkSize = lastU64;
      return p;
    case K_DIGEST:
      if (isNull(p)) return p + 4;
      p = readDigest(p, E_DIGEST_BUF);
      eHasDigest = true;
      return p;
    case K_CHUNKDIGEST:
      if (isNull(p)) return p + 4;
      p = readDigest(p, E_CHUNK_DIGEST_BUF);
      eHasChunkDigest = true;
      return p;
    case K_MODTIME: {
      if (isNull(p)) return p + 4;
      p = readString(p);
      if (p == 0) return 0;
      if (strEnd == strStart) {
        eMtSec = 0;
        eMtNsec = 0;
        return p;
      }
      if (!parseTime(strStart, strEnd - strStart)) return fail(E_TIME, v);
      eMtSec = timeSec;
      eMtNsec = timeNsec;
      return p;
    }
    case K_LINKNAME: {
      if (isNull(p)) return p + 4;
      p = readPoolString(p, MAX_NAME);
      if (p == 0) return 0;
      eLink = strLen ? lastRef : NONE;
      if (!strLen) dropString(lastRef, 0);
      return p;
    }
    case K_USERNAME:
    case K_GROUPNAME: {
      if (isNull(p)) return p + 4;
      p = readPoolString(p, MAX_OWNER);
      if (p == 0) return 0;
      let ref = NONE;
      if (strLen) ref = internOwner(lastRef, strLen);
      else dropString(lastRef, 0);
      if (key == K_USERNAME) eUser = ref;
      else eGroup = ref;
      return p;
    }
    case K_XATTRS:
      return readXattrs(p);
  }
  return skipValue(p);
}

function parseEntry(p: usize): usize {
  resetEntry(p);
  p = skipWs(p + 1);
  if (load<u8>(p) != 0x7d) {
    while (true) {
      if (load<u8>(p) != 0x22) return unexpected(p);
      const ks = p + 1;
      const ke = scanString(ks);
      if (ke == 0) return 0;
      let key: i32;
      if (hadEscape) {
        ensureScratch(ke - ks);
        const e = decodeString(ks, ke, scratch);
        memory.fill(e, 0, 16);
        key = keyId(scratch, e - scratch);
      } else {
        key = keyId(ks, ke - ks);
      }
      p = skipWs(ke + 1);
      if (load<u8>(p) != 0x3a) return unexpected(p);
      p = readField(key, skipWs(p + 1));
      if (p == 0) return 0;
      p = skipWs(p);
      const c = load<u8>(p);
      if (c == 0x2c) {
        p = skipWs(p + 1);
        continue;
      }
      if (c == 0x7d) break;
      return unexpected(p);
    }
  }
  if (!commitEntry()) return 0;
  return p + 1;
}

function parseEntries(p: usize): usize {
  p = skipWs(p + 1);
  if (load<u8>(p) == 0x5d) return p + 1;
  while (true) {
    if (load<u8>(p) != 0x7b) return p >= inputEnd ? unexpected(p) : fail(E_SHAPE, p);
    p = parseEntry(p);
    if (p == 0) return 0;
    p = skipWs(p);
    const c = load<u8>(p);
    if (c == 0x2c) {
      p = skipWs(p + 1);
      continue;
    }
    if (c == 0x5d) return p + 1;
    return unexpected(p);
  }
}

// ---- after the last entry ---------------------------------------------------------------------

/** The directory that finally holds the children of id (following duplicate-directory winners). */
function winnerOf(id: u32): u32 {
  let w = id;
  while (true) {
    const n = load<u32>(ntAt(w), 8);
    if (n == NONE) break;
    w = n;
  }
  // compress the chain
  let c = id;
  while (c != w) {
    const n = load<u32>(ntAt(c), 8);
    store<u32>(ntAt(c), w, 8);
    c = n;
  }
  return w;
}

function resolveHardlinks(): bool {
  // direct targets first
  for (let id: u32 = 1; id < nodeCount; id++) {
    if (typeOf(id) != L.T_HARDLINK) continue;
    const at = inputBase + load<u32>(ntAt(id), 16);
    const link = load<u32>(nodeAt(id), 28);
    if (link == NONE) return !fail(E_LINK_MISSING, at);
    const n = load<u32>(pool + link - 4);
    ensureScratch(n);
    memory.copy(scratch, pool + link, n);
    const c = cleanName(scratch, n);
    if (c == -1) return !fail(E_ESCAPE, at);
    if (c < 0) return !fail(E_LINK_MISSING, at);
    const t = c == 0 ? 0 : lookupName(scratch, <u32>c, hashBytes(scratch, <u32>c));
    if (t == NONE) return !fail(E_LINK_MISSING, at);
    store<u32>(nodeAt(id), t, 24);
  }
  // then follow chains of hardlinks to a final target
  for (let id: u32 = 1; id < nodeCount; id++) {
    if (typeOf(id) != L.T_HARDLINK) continue;
    const at = inputBase + load<u32>(ntAt(id), 16);
    let t = load<u32>(nodeAt(id), 24);
    let steps: u32 = 0;
    while (typeOf(t) == L.T_HARDLINK) {
      if (++steps > nodeCount) return !fail(E_LINK_LOOP, at);
      t = load<u32>(nodeAt(t), 24);
    }
    if (typeOf(t) == L.T_DIR) return !fail(E_LINK_DIR, at);
    let c = id;
    while (typeOf(c) == L.T_HARDLINK) {
      const n = load<u32>(nodeAt(c), 24);
      store<u32>(nodeAt(c), t, 24);
      c = n;
    }
  }
  for (let id: u32 = 1; id < nodeCount; id++) {
    if (typeOf(id) != L.T_HARDLINK || hasFlag(id, L.F_SHADOWED)) continue;
    const t = nodeAt(load<u32>(nodeAt(id), 24)) + 4;
    store<u32>(t, load<u32>(t) + 1);
  }
  for (let id: u32 = 1; id < nodeCount; id++) {
    if (typeOf(id) != L.T_HARDLINK) continue;
    const t = load<u32>(nodeAt(load<u32>(nodeAt(id), 24)), 4) & L.NLINK_MASK;
    const p = nodeAt(id) + 4;
    store<u32>(p, (load<u32>(p) & ~L.NLINK_MASK) | t);
  }
  return true;
}

function linkChildren(): void {
  // aux holds the last child of each directory while linking
  for (let id: u32 = 1; id < nodeCount; id++) {
    if (hasFlag(id, L.F_SHADOWED)) continue;
    const parent = winnerOf(load<u32>(ntAt(id), 4));
    const last = load<u32>(ntAt(parent), 12);
    if (last == NONE) store<u32>(nodeAt(parent), id, 24);
    else store<u32>(nodeAt(last), id, 20);
    store<u32>(ntAt(parent), id, 12);
    if (typeOf(id) == L.T_DIR) {
      const p = nodeAt(parent) + 4;
      store<u32>(p, load<u32>(p) + 1);
    }
  }
}

function resolveChunks(): bool {
  for (let id: u32 = 1; id < nodeCount; id++) {
    if (typeOf(id) != L.T_REG) continue;
    const count = load<u32>(ntAt(id), 12);
    if (count == 0) continue;
    const first = load<u32>(nodeAt(id), 24);
    const size = decNum(load<u32>(nodeAt(id), 8));
    let running: u64 = 0;
    for (let k: u32 = 0; k < count; k++) {
      const c = chunkAt(first + k);
      const at = inputBase + load<u32>(chunkPos + (<usize>(first + k) << 2));
      if (decNum(load<u32>(c, 16)) != running) return !fail(E_CHUNK_SIZES, at);
      let sz = decNum(load<u32>(c, 4));
      if (sz == 0) {
        if (k != count - 1) return !fail(E_CHUNK_SIZES, at);
        sz = size - running;
      }
      if (sz == 0 || sz > size - running) return !fail(E_CHUNK_SIZES, at);
      running += sz;
    }
    if (running != size) return !fail(E_CHUNK_SIZES, inputBase + load<u32>(chunkPos + (<usize>(first + count - 1) << 2)));
    store<u32>(chunkAt(first), count, 16);
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

function compressedEnds(tocOffset: f64): bool {
  const n = <usize>chunkCount;
  if (n == 0) return true;
  if (tocOffset > <f64>L.MAX_BLOB_OFFSET) return !fail(E_OFFSET, inputBase);
  const offs = heap.alloc(n << 3);
  let sorted = true;
  for (let c: usize = 0; c < n; c++) {
    const o = memberOf(<u32>c);
    if (tocOffset >= 0 && <f64>o >= tocOffset) {
      heap.free(offs);
      return !fail(E_OFFSET, inputBase + load<u32>(chunkPos + (c << 2)));
    }
    if (c > 0 && o < load<u64>(offs + ((c - 1) << 3))) sorted = false;
    store<u64>(offs + (c << 3), o);
  }
  if (!sorted) sortU64(offs, n);
  const last: u64 = tocOffset >= 0 ? <u64>tocOffset : L.MAX_BLOB_OFFSET; // all ones: unknown
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
    const p = chunkAt(<u32>c);
    store<u32>(p, <u32>end, 4);
    store<u32>(p, (load<u32>(p, 8) & 0x8000ffff) | (<u32>(end >> 32) << 16), 8);
  }
  heap.free(offs);
  return true;
}

const PREFETCH_LANDMARK: usize = memory.data<u8>([46, 112, 114, 101, 102, 101, 116, 99, 104, 46, 108, 97, 110, 100, 109, 97, 114, 107]);
const NO_PREFETCH_LANDMARK: usize = memory.data<u8>([46, 110, 111, 46, 112, 114, 101, 102, 101, 116, 99, 104, 46, 108, 97, 110, 100, 109, 97, 114, 107]);

let landmark: u32 = 0, prefetchEnd: u32 = 0;

function findLandmarks(): void {
  landmark = 0;
  prefetchEnd = 0;
  if (lookupName(NO_PREFETCH_LANDMARK, 21, hashBytes(NO_PREFETCH_LANDMARK, 21)) != NONE) {
    landmark = 2;
    return;
  }
  const id = lookupName(PREFETCH_LANDMARK, 18, hashBytes(PREFETCH_LANDMARK, 18));
  if (id != NONE) {
    landmark = 1;
    if (typeOf(id) == L.T_REG && load<u32>(nodeAt(id), 24) != NONE) {
      prefetchEnd = encNum(memberOf(load<u32>(nodeAt(id), 24)));
    }
  }
}

function shrink(p: usize, bytes: usize): usize {
  if (bytes < 16) bytes = 16;
  return p == 0 ? heap.alloc(bytes) : heap.realloc(p, bytes);
}

function freeTemps(): void {
  if (ntemp) heap.free(ntemp);
  if (chunkPos) heap.free(chunkPos);
  if (attrHash) heap.free(attrHash);
  if (ownerHash) heap.free(ownerHash);
  if (userIds) heap.free(userIds);
  if (groupIds) heap.free(groupIds);
  ntemp = chunkPos = attrHash = ownerHash = userIds = groupIds = 0;
}

function freeAll(): void {
  freeTemps();
  if (nodes) heap.free(nodes);
  if (chunks) heap.free(chunks);
  if (ents) heap.free(ents);
  if (attrs) heap.free(attrs);
  if (xindex) heap.free(xindex);
  if (xattrs) heap.free(xattrs);
  if (digests) heap.free(digests);
  if (fileDigests) heap.free(fileDigests);
  if (pool) heap.free(pool);
  if (nums) heap.free(nums);
  if (table) heap.free(table);
  if (scratch) heap.free(scratch);
  nodes = chunks = ents = attrs = xindex = xattrs = digests = fileDigests = pool = nums = table = scratch = 0;
}

function resetBuild(len: usize): void {
  userIds = groupIds = 0;
  nodes = ntemp = chunks = chunkPos = ents = attrs = attrHash = ownerHash = xindex = xattrs = digests = fileDigests = pool = nums = table = scratch = 0;
  nodeCount = nodeCap = chunkCount = chunkCap = entCount = entCap = attrCount = attrCap = 0;
  attrMask = ownerMask = ownerCount = xindexCount = xindexCap = xattrCount = xattrCap = 0;
  fileDigestCount = fileDigestCap = poolLen = poolCap = numCount = numCap = 0;
  scratchCap = 0;
  maxNameLen = 0;
  lastChunkNode = NONE;
  rootXFirst = rootXCount = 0;
  implicitBytes = 0;
  implicitBudget = <u64>len * 2 + 65536;
  lastParent = 0;
  lastDir = 0;
  // a Go-written TOC spends 250-400 bytes per entry: size the tables once for that
  let guess = <u32>(len / 320) + 16;
  if (guess > MAX_NODES) guess = MAX_NODES;
  nodeCap = guess;
  nodes = heap.alloc(<usize>guess << 5);
  ntemp = heap.alloc(<usize>guess * 20);
  entCap = guess;
  ents = heap.alloc(<usize>guess * 12);
  chunkCap = guess;
  chunks = heap.alloc(<usize>guess * 20);
  chunkPos = heap.alloc(<usize>guess << 2);
  digests = heap.alloc(<usize>guess << 5);
  let cap: u32 = 64;
  while (cap < guess) cap <<= 1;
  tableMask = cap * 2 - 1;
  table = heap.alloc((<usize>tableMask + 1) << 2);
  memory.fill(table, 0xff, (<usize>tableMask + 1) << 2);
  ensurePool(<usize>len / 2 + 64);
  ensureScratch(256);
}

// ---- exports ----------------------------------------------------------------------------------

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
  inputBase = input;
  setInputEnd(input + len);
  resetBuild(len);
  implicitDirAttr = internAttr(L.T_DIR, 0o755, 0, 0, NONE, NONE);
  const root = newNode();
  ensurePool(8);
  store<u32>(pool, 0);
  poolLen = 4;
  initNode(root, implicitDirAttr, 2 | (L.F_IMPLICIT << 24), 0, 0, 4, NONE, NONE);
  initTemp(root, hashBytes(pool + 4, 0), 0, NONE, 0);
  tableInsert(root, hashBytes(pool + 4, 0));

  let versionSeen = false, entriesSeen = false;
  let p = skipWs(input);
  if (load<u8>(p) != 0x7b) {
    if (p >= inputEnd) unexpected(p);
    else fail(E_SHAPE, p);
  } else {
    p = skipWs(p + 1);
    if (load<u8>(p) == 0x7d) p++;
    else {
      while (true) {
        if (load<u8>(p) != 0x22) {
          unexpected(p);
          break;
        }
        const ks = p + 1;
        const ke = scanString(ks);
        if (ke == 0) break;
        let key: i32;
        if (hadEscape) {
          ensureScratch(ke - ks);
          const e = decodeString(ks, ke, scratch);
          memory.fill(e, 0, 16);
          key = keyId(scratch, e - scratch);
        } else key = keyId(ks, ke - ks);
        p = skipWs(ke + 1);
        if (load<u8>(p) != 0x3a) {
          unexpected(p);
          break;
        }
        p = skipWs(p + 1);
        if (key == K_VERSION) {
          const v = p;
          if (<u32>load<u8>(p) - 0x30 > 9) {
            fail(E_VERSION, v);
            break;
          }
          p = parseUint(p);
          if (p == 0) break;
          if (numValue != 1) {
            fail(E_VERSION, v);
            break;
          }
          versionSeen = true;
        } else if (key == K_ENTRIES) {
          if (entriesSeen) {
            fail(E_DUP_ENTRIES, p);
            break;
          }
          if (load<u8>(p) != 0x5b) {
            if (p >= inputEnd) unexpected(p);
            else fail(E_SHAPE, p);
            break;
          }
          p = parseEntries(p);
          entriesSeen = true;
        } else {
          p = skipValue(p);
        }
        if (p == 0) break;
        p = skipWs(p);
        const c = load<u8>(p);
        if (c == 0x2c) {
          p = skipWs(p + 1);
          continue;
        }
        if (c == 0x7d) {
          p++;
          break;
        }
        unexpected(p);
        break;
      }
    }
    if (!failed()) {
      p = skipWs(p);
      if (p < inputEnd) fail(E_TRAILING, p);
      else if (!versionSeen) fail(E_VERSION, input);
      else if (!entriesSeen) fail(E_SHAPE, input);
    }
  }
  if (!failed() && resolveHardlinks() && resolveChunks() && compressedEnds(tocOffset)) {
    linkChildren();
    findLandmarks();
  }
  if (failed()) {
    freeAll();
    return 0;
  }
  // the final table: load at most 3/4
  let cap: u32 = 64;
  while (<u64>cap * 3 < <u64>nodeCount * 4) cap <<= 1;
  if (cap - 1 != tableMask) rebuildTable(cap - 1, NONE);
  freeTemps();
  const hdr = heap.alloc(HEADER_BYTES);
  nodes = shrink(nodes, <usize>nodeCount << 5);
  chunks = shrink(chunks, <usize>chunkCount * 20);
  ents = shrink(ents, <usize>entCount * 12);
  attrs = shrink(attrs, <usize>attrCount * 24);
  if (xindex) xindex = shrink(xindex, <usize>xindexCount * 12);
  if (xattrs) xattrs = shrink(xattrs, <usize>xattrCount << 3);
  digests = shrink(digests, <usize>chunkCount << 5);
  if (fileDigests) fileDigests = shrink(fileDigests, <usize>fileDigestCount << 5);
  pool = shrink(pool, poolLen);
  if (nums) nums = shrink(nums, <usize>numCount << 3);
  heap.free(scratch);
  scratchCap = <usize>maxNameLen * 2 + 64;
  scratch = heap.alloc(scratchCap + 32);
  store<u32>(hdr + (L.H_NODES << 2), <u32>nodes);
  store<u32>(hdr + (L.H_NODE_COUNT << 2), nodeCount);
  store<u32>(hdr + (L.H_CHUNKS << 2), <u32>chunks);
  store<u32>(hdr + (L.H_CHUNK_COUNT << 2), chunkCount);
  store<u32>(hdr + (L.H_ENTRIES << 2), <u32>ents);
  store<u32>(hdr + (L.H_ENTRY_COUNT << 2), entCount);
  store<u32>(hdr + (L.H_ATTRS << 2), <u32>attrs);
  store<u32>(hdr + (L.H_ATTR_COUNT << 2), attrCount);
  store<u32>(hdr + (L.H_XINDEX << 2), <u32>xindex);
  store<u32>(hdr + (L.H_XINDEX_COUNT << 2), xindexCount);
  store<u32>(hdr + (L.H_XATTRS << 2), <u32>xattrs);
  store<u32>(hdr + (L.H_XATTR_COUNT << 2), xattrCount);
  store<u32>(hdr + (L.H_DIGESTS << 2), <u32>digests);
  store<u32>(hdr + (L.H_DIGEST_COUNT << 2), chunkCount);
  store<u32>(hdr + (L.H_POOL << 2), <u32>pool);
  store<u32>(hdr + (L.H_POOL_BYTES << 2), poolLen);
  store<u32>(hdr + (L.H_NUMS << 2), <u32>nums);
  store<u32>(hdr + (L.H_NUM_COUNT << 2), numCount);
  store<u32>(hdr + (L.H_HASH << 2), <u32>table);
  store<u32>(hdr + (L.H_HASH_MASK << 2), tableMask);
  store<u32>(hdr + (L.H_LANDMARK << 2), landmark);
  store<u32>(hdr + (L.H_PREFETCH_END << 2), prefetchEnd);
  store<u32>(hdr + (L.H_ROOT_XFIRST << 2), rootXFirst);
  store<u32>(hdr + (L.H_ROOT_XCOUNT << 2), rootXCount);
  store<u32>(hdr + (L.H_SCRATCH << 2), <u32>scratch);
  store<u32>(hdr + (L.H_SCRATCH_CAP << 2), <u32>scratchCap);
  store<u32>(hdr + (L.H_FILE_DIGESTS << 2), <u32>fileDigests);
  store<u32>(hdr + (L.H_FILE_DIGEST_COUNT << 2), fileDigestCount);
  nodes = chunks = ents = attrs = xindex = xattrs = digests = fileDigests = pool = nums = table = scratch = 0;
  return hdr;
}

const HEADER_BYTES: usize = <usize>L.HEADER_WORDS << 2;

export function toc_error_code(): i32 {
  return errorCode();
}

/** Byte offset in the JSON of the last build error. */
export function toc_error_pos(): usize {
  return errorAt() - inputBase;
}

/** Frees an index and all its tables. */
export function toc_free(hdr: usize): void {
  if (hdr == 0) return;
  freeTable(hdr, L.H_NODES);
  freeTable(hdr, L.H_CHUNKS);
  freeTable(hdr, L.H_ENTRIES);
  freeTable(hdr, L.H_ATTRS);
  freeTable(hdr, L.H_XINDEX);
  freeTable(hdr, L.H_XATTRS);
  freeTable(hdr, L.H_DIGESTS);
  freeTable(hdr, L.H_FILE_DIGESTS);
  freeTable(hdr, L.H_POOL);
  freeTable(hdr, L.H_NUMS);
  freeTable(hdr, L.H_HASH);
  freeTable(hdr, L.H_SCRATCH);
  heap.free(hdr);
}

function freeTable(hdr: usize, word: usize): void {
  const p = <usize>load<u32>(hdr + (word << 2));
  if (p) heap.free(p);
}

/**
 * Looks up the path whose UTF-8 bytes the host wrote to the index's scratch buffer (len bytes);
 * cleans it like TOC names. Returns the node id, or -1 if absent or escaping the root.
 */
export function toc_lookup(hdr: usize, len: usize): i32 {
  const s = <usize>load<u32>(hdr + (<usize>L.H_SCRATCH << 2));
  const n = cleanName(s, len);
  if (n < 0) return -1;
  if (n == 0) return 0;
  return <i32>lookupIn(hdr, s, <u32>n);
}

/** The parent directory of node id (root → 0). */
export function toc_parent(hdr: usize, id: u32): i32 {
  const nodesP = <usize>load<u32>(hdr + (<usize>L.H_NODES << 2));
  const poolP = <usize>load<u32>(hdr + (<usize>L.H_POOL << 2));
  const name = poolP + load<u32>(nodesP + (<usize>id << 5), 16);
  const ls = lastSlash(name, load<u32>(name - 4));
  if (ls <= 0) return 0;
  return <i32>lookupIn(hdr, name, <u32>ls);
}

function lookupIn(hdr: usize, p: usize, n: u32): u32 {
  const nodesP = <usize>load<u32>(hdr + (<usize>L.H_NODES << 2));
  const poolP = <usize>load<u32>(hdr + (<usize>L.H_POOL << 2));
  const tab = <usize>load<u32>(hdr + (<usize>L.H_HASH << 2));
  const mask = load<u32>(hdr + (<usize>L.H_HASH_MASK << 2));
  const h = hashBytes(p, n);
  const tag = h & TAG_MASK;
  let i = h & mask;
  while (true) {
    const slot = load<u32>(tab + (<usize>i << 2));
    if (slot == NONE) return NONE;
    if ((slot & TAG_MASK) == tag) {
      const id = slot & ID_MASK;
      const name = poolP + load<u32>(nodesP + (<usize>id << 5), 16);
      if (load<u32>(name - 4) == n && sameBytes(name, p, n)) return id;
    }
    i = (i + 1) & mask;
  }
}
