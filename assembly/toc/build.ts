// The build stage: the parsed entry (E) becomes rows of the index's tables (B): a node (or a chunk
// of the file before it), its TOC-order entry, its attributes, xattrs and digests.
import {
  fail, reject, E_OFFSET, E_MISSING, E_CHUNK_ORPHAN, E_CHUNK_ORDER, E_ROOT, E_LIMIT, E_DIR_REPLACED,
} from "./errors";
import { hashBytes, sameBytes } from "./path";
import {
  XIndex, NONE, SAME_DIGEST, CHUNK_NONE, ENTRY_TYPE_SHIFT, MAX_BLOB_OFFSET, DIGEST_BYTES, FLAG_SHIFT,
  F_IMPLICIT, F_SHADOWED, F_XATTRS, F_HASCHILD, HIGH_HAS_DIGEST, T_DIR, T_REG, T_SYMLINK, T_HARDLINK,
  T_CHAR, T_BLOCK, T_CHUNK_ENTRY,
} from "./layout";
import { B, E, E_DIGEST_BUF, E_CHUNK_DIGEST_BUF, nodeAt, tempAt, chunkAt, chunkPosAt, typeOf } from "./state";
import { grown, newNode, newChunk, pushEntry, dropString, encNum, encTime } from "./tables";
import { idGet, idSet, internAttr } from "./intern";
import { lookupName, tableInsert, tableReplace, initNode, initTemp, setFlag, hasFlag, ensureParent, DIR_BITS } from "./tree";

/** A chunk row from E, at JSON position pos; NONE on error. */
function pushChunk(pos: u32): u32 {
  if (E.offset > MAX_BLOB_OFFSET) return <u32>fail(E_OFFSET, E.pos) | NONE;
  const c = newChunk();
  const r = chunkAt(c);
  r.member = <u32>E.offset;
  r.end = encNum(E.chunkSize); // the raw chunkSize until finish.ts resolves it; then compressedEnd
  r.high = <u32>(E.offset >> 32) | (E.hasChunkDigest ? HIGH_HAS_DIGEST : 0);
  r.inner = encNum(E.inner);
  r.offset = encNum(E.chunkOffset);
  if (E.hasChunkDigest) memory.copy(B.digests + <usize>c * DIGEST_BYTES, E_CHUNK_DIGEST_BUF, DIGEST_BYTES);
  store<u32>(chunkPosAt(c), pos);
  return c;
}

/** The file digest of the entry being committed: SAME_DIGEST, an index into fileDigests, or NONE. */
function fileDigest(): u32 {
  if (!E.hasDigest) return NONE;
  if (E.size > 0 && E.hasChunkDigest && sameBytes(E_DIGEST_BUF, E_CHUNK_DIGEST_BUF, DIGEST_BYTES)) return SAME_DIGEST;
  if (B.fileDigestCount == B.fileDigestCap) {
    B.fileDigestCap = B.fileDigestCap ? B.fileDigestCap * 2 : 64;
    B.fileDigests = grown(B.fileDigests, <usize>B.fileDigestCap * DIGEST_BYTES);
  }
  memory.copy(B.fileDigests + <usize>B.fileDigestCount * DIGEST_BYTES, E_DIGEST_BUF, DIGEST_BYTES);
  return B.fileDigestCount++;
}

/** A chunk entry: the next chunk of the file whose content came last. */
function commitChunk(pos: u32): bool {
  let id = B.lastChunkNode;
  if (id != NONE) {
    const name = B.pool + nodeAt(id).name;
    if (load<u32>(name - 4) != E.nameLen || hasFlag(id, F_SHADOWED) || !sameBytes(name, B.pool + E.name, E.nameLen)) id = NONE;
  }
  if (id == NONE) {
    id = lookupName(B.pool + E.name, E.nameLen, hashBytes(B.pool + E.name, E.nameLen));
    if (id == NONE || typeOf(id) != T_REG) return reject(E_CHUNK_ORPHAN, E.pos);
    return reject(E_CHUNK_ORDER, E.pos);
  }
  const c = pushChunk(pos);
  if (c == NONE) return false;
  tempAt(id).aux++;
  pushEntry(pos, id, c | (T_CHUNK_ENTRY << ENTRY_TYPE_SHIFT));
  dropString(E.name, E.nameLen);
  return true;
}

/** Commits the parsed entry E; false on error (recorded in errors.ts). */
export function commitEntry(): bool {
  const pos = <u32>(E.pos - B.input);
  const type = E.type;
  if (E.name == NONE || type == 0) return reject(E_MISSING, E.pos);
  if (type == T_CHUNK_ENTRY) return commitChunk(pos);
  // An omitted (or empty) name is the last one given for the id, as Go's reader fills it.
  if (E.user == NONE) E.user = idGet(B.userIds, E.uid);
  else B.userIds = idSet(B.userIds, E.uid, E.user);
  if (E.group == NONE) E.group = idGet(B.groupIds, E.gid);
  else B.groupIds = idSet(B.groupIds, E.gid, E.group);
  const attr = internAttr(type, E.mode, E.uid, E.gid, E.user, E.group);
  const mtime = encTime(E.mtSec, E.mtNsec);
  const nameLen = E.nameLen;
  if (nameLen == 0) {
    // the root's own entry
    if (type != T_DIR) return reject(E_ROOT, E.pos);
    const root = nodeAt(0);
    root.attr = attr;
    root.bits &= ~(F_IMPLICIT << FLAG_SHIFT);
    root.mtime = mtime;
    tempAt(0).pos = pos;
    B.rootXFirst = E.xFirst;
    B.rootXCount = E.xCount;
    pushEntry(pos, 0, CHUNK_NONE | (T_DIR << ENTRY_TYPE_SHIFT));
    dropString(E.name, nameLen);
    return true;
  }
  if (nameLen > B.maxNameLen) B.maxNameLen = nameLen;
  const parent = ensureParent(E.name, nameLen, pos);
  if (parent == NONE) return false;
  const h = hashBytes(B.pool + E.name, nameLen);
  const old = lookupName(B.pool + E.name, nameLen, h);
  const id = newNode();
  if (id == NONE) return reject(E_LIMIT, E.pos);
  let bits: u32 = type == T_DIR ? DIR_BITS : 1;
  if (old != NONE) {
    // a duplicate name: the last entry wins, the earlier one stays for TOC-order walks
    if (typeOf(old) == T_DIR && hasFlag(old, F_HASCHILD)) {
      if (type != T_DIR) return reject(E_DIR_REPLACED, E.pos);
      bits |= F_HASCHILD << FLAG_SHIFT;
    }
    setFlag(old, F_SHADOWED);
    tempAt(old).winner = id;
    tableReplace(old, id, h);
  } else {
    tableInsert(id, h);
  }
  let a = NONE, b = NONE, aux = NONE;
  let size: u32 = 0;
  let chunkWord = CHUNK_NONE;
  if (type == T_REG) {
    size = encNum(E.size);
    b = fileDigest();
    aux = 0;
    B.lastChunkNode = NONE;
    if (E.size > 0) {
      a = pushChunk(pos);
      if (a == NONE) return false;
      aux = 1;
      chunkWord = a;
      B.lastChunkNode = id;
    }
  } else if (type == T_SYMLINK || type == T_HARDLINK) {
    b = E.link;
  } else if (type == T_CHAR || type == T_BLOCK) {
    a = E.devMajor;
    b = E.devMinor;
  }
  if (E.xCount) {
    bits |= F_XATTRS << FLAG_SHIFT;
    if (B.xindexCount == B.xindexCap) {
      B.xindexCap = B.xindexCap ? B.xindexCap * 2 : 64;
      B.xindex = grown(B.xindex, <usize>B.xindexCap * offsetof<XIndex>());
    }
    const x = changetype<XIndex>(B.xindex + <usize>B.xindexCount * offsetof<XIndex>());
    x.node = id;
    x.first = E.xFirst;
    x.count = E.xCount;
    B.xindexCount++;
  }
  initNode(id, attr, bits, size, mtime, E.name, a, b);
  initTemp(id, h, parent, aux, pos);
  if (type == T_DIR) B.lastDir = id;
  setFlag(parent, F_HASCHILD);
  pushEntry(pos, id, chunkWord | (type << ENTRY_TYPE_SHIFT));
  return true;
}
