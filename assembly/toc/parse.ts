// The scan stage: the TOC document {"version":1,"entries":[...]} read in one pass, each entry's
// fields into E (state.ts), each finished entry handed to commitEntry (build.ts). The JSON
// primitives underneath are in scan.ts; every function returns the position after what it read,
// 0 on error (the first error is recorded in errors.ts).
import {
  fail, E_VERSION, E_SHAPE, E_FIELD, E_NUMBER, E_TYPE, E_ESCAPE, E_NAME, E_DIGEST, E_TIME, E_BASE64,
  E_HUGE, E_DUP_ENTRIES, E_TRAILING,
} from "./errors";
import { inputEnd, unexpected, skipWs, scanString, hadEscape, decodeString, parseUint, numValue, skipValue, isNull } from "./scan";
import { cleanName, cleanNameFast } from "./path";
import { parseTime, timeSec, timeNsec } from "./time";
import { base64Decode } from "./base64";
import { Xattr, NONE, T_DIR, T_REG, T_SYMLINK, T_HARDLINK, T_CHAR, T_BLOCK, T_FIFO, T_CHUNK_ENTRY } from "./layout";
import { B, E, E_DIGEST_BUF, E_CHUNK_DIGEST_BUF, resetEntry } from "./state";
import { grown, ensurePool, ensureScratch, poolAppend, poolString, dropString, refLen } from "./tables";
import { internOwner } from "./intern";
import { commitEntry } from "./build";

// limits in bytes (E_HUGE beyond them)
const MAX_NAME: usize = 65535; // a cleaned name or link target
const MAX_OWNER: usize = 4096; // userName / groupName
const MAX_XATTR_NAME: usize = 1024;
const MAX_XATTR_VALUE: usize = 1 << 20;

// What the read* helpers read, beside the position they return:
let lastKey: i32 = 0; // readKey: K_*, 0 = a key this parser ignores
let strStart: usize = 0; // readString: the string's bytes [strStart, strEnd), escapes decoded (into scratch)
let strEnd: usize = 0;
let lastRef: u32 = NONE; // readPoolString: the pool ref of the copy
let lastU32: u32 = 0; // readU32
let lastU64: u64 = 0; // readU53

/** Parses the TOC document at p, committing each entry; the outcome is in errors.ts. */
export function parseDocument(p: usize): void {
  let versionSeen = false, entriesSeen = false;
  p = skipWs(p);
  if (load<u8>(p) != 0x7b) {
    if (p >= inputEnd) unexpected(p);
    else fail(E_SHAPE, p);
    return;
  }
  p = skipWs(p + 1);
  if (load<u8>(p) == 0x7d) p++;
  else {
    while (true) {
      if (load<u8>(p) != 0x22) {
        unexpected(p);
        return;
      }
      p = readKey(p);
      if (p == 0) return;
      p = skipWs(p);
      if (load<u8>(p) != 0x3a) {
        unexpected(p);
        return;
      }
      p = skipWs(p + 1);
      if (lastKey == K_VERSION) {
        const v = p;
        if (<u32>load<u8>(p) - 0x30 > 9) {
          fail(E_VERSION, v);
          return;
        }
        p = parseUint(p);
        if (p == 0) return;
        if (numValue != 1) {
          fail(E_VERSION, v);
          return;
        }
        versionSeen = true;
      } else if (lastKey == K_ENTRIES) {
        if (entriesSeen) {
          fail(E_DUP_ENTRIES, p);
          return;
        }
        if (load<u8>(p) != 0x5b) {
          if (p >= inputEnd) unexpected(p);
          else fail(E_SHAPE, p);
          return;
        }
        p = parseEntries(p);
        entriesSeen = true;
      } else {
        p = skipValue(p);
      }
      if (p == 0) return;
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
      return;
    }
  }
  p = skipWs(p);
  if (p < inputEnd) fail(E_TRAILING, p);
  else if (!versionSeen) fail(E_VERSION, B.input);
  else if (!entriesSeen) fail(E_SHAPE, B.input);
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

function parseEntry(p: usize): usize {
  resetEntry(p);
  p = skipWs(p + 1);
  if (load<u8>(p) != 0x7d) {
    while (true) {
      if (load<u8>(p) != 0x22) return unexpected(p);
      p = readKey(p);
      if (p == 0) return 0;
      p = skipWs(p);
      if (load<u8>(p) != 0x3a) return unexpected(p);
      p = readField(lastKey, skipWs(p + 1));
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

// ---- keys and type names ------------------------------------------------------------------------

const K_NAME = 1, K_TYPE = 2, K_SIZE = 3, K_MODE = 4, K_UID = 5, K_GID = 6, K_DIGEST = 7, K_OFFSET = 8;
const K_XATTRS = 9, K_MODTIME = 10, K_VERSION = 11, K_ENTRIES = 12, K_LINKNAME = 13, K_USERNAME = 14;
const K_DEVMAJOR = 15, K_DEVMINOR = 16, K_GROUPNAME = 17, K_CHUNKSIZE = 18, K_INNEROFFSET = 19;
const K_CHUNKOFFSET = 20, K_CHUNKDIGEST = 21;

/** p at a key's opening quote: sets lastKey; returns the position after its closing quote. */
@inline function readKey(p: usize): usize {
  const ks = p + 1;
  const ke = scanString(ks);
  if (ke == 0) return 0;
  if (hadEscape) {
    ensureScratch(ke - ks);
    const s = B.scratch;
    const e = decodeString(ks, ke, s);
    memory.fill(e, 0, 16);
    lastKey = keyId(s, e - s);
  } else {
    lastKey = keyId(ks, ke - ks);
  }
  return ke + 1;
}

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
  if (v == 0x726964) return T_DIR;
  if (v == 0x676572) return T_REG;
  if (v == 0x6b6e756863) return T_CHUNK_ENTRY;
  if (v == 0x6b6e696c6d7973) return T_SYMLINK;
  if (v == 0x6b6e696c64726168) return T_HARDLINK;
  if (v == 0x72616863) return T_CHAR;
  if (v == 0x6b636f6c62) return T_BLOCK;
  if (v == 0x6f666966) return T_FIFO;
  return 0;
}

// ---- values -----------------------------------------------------------------------------------------

/** p at a string value: sets strStart/strEnd to its (escape-free) bytes. */
function readString(p: usize): usize {
  if (load<u8>(p) != 0x22) return fail(E_FIELD, p);
  const s = p + 1;
  const e = scanString(s);
  if (e == 0) return 0;
  if (hadEscape) {
    ensureScratch(e - s);
    strStart = B.scratch;
    strEnd = decodeString(s, e, B.scratch);
    memory.fill(strEnd, 0, 16);
  } else {
    strStart = s;
    strEnd = e;
  }
  return e + 1;
}

/** p at a string value: copies it into the pool (ref in lastRef). */
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

/** 32 raw bytes at dst from "sha256:<64 lowercase hex>" at p. */
function readDigest(p: usize, dst: usize): usize {
  const v = p;
  p = readString(p);
  if (p == 0) return 0;
  const s = strStart;
  if (strEnd - s != 71 || (load<u64>(s) & 0x00ffffffffffffff) != 0x003a363532616873) return fail(E_DIGEST, v);
  if (!hex32(s + 7, dst)) return fail(E_DIGEST, v);
  return p;
}

/** p at a number ≤ 2^32-1 (or null: 0): sets lastU32. */
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

/** p at a number ≤ 2^53 (or null: 0): sets lastU64. */
function readU53(p: usize): usize {
  if (isNull(p)) {
    lastU64 = 0;
    return p + 4;
  }
  p = parseUint(p);
  lastU64 = numValue;
  return p;
}

/** p at the xattrs object (or null): its pairs appended to B.xattrs, E.xFirst/xCount set. */
function readXattrs(p: usize): usize {
  if (isNull(p)) return p + 4;
  if (load<u8>(p) != 0x7b) return fail(E_FIELD, p);
  E.xFirst = B.xattrCount;
  E.xCount = 0;
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
      valueRef = poolAppend(0);
      p += 4;
    } else {
      p = readString(p);
      if (p == 0) return 0;
      const n = strEnd - strStart;
      if (n > MAX_XATTR_VALUE * 4 / 3 + 8) return fail(E_HUGE, v);
      ensurePool(n + 8);
      // decoded straight into the pool, where poolAppend then puts its length
      const got = base64Decode(strStart, n, B.pool + ((B.poolLen + 3) & ~3) + 4);
      if (got < 0) return fail(E_BASE64, v);
      valueRef = poolAppend(<u32>got);
    }
    if (B.xattrCount == B.xattrCap) {
      B.xattrCap = B.xattrCap ? B.xattrCap * 2 : 64;
      B.xattrs = grown(B.xattrs, <usize>B.xattrCap * offsetof<Xattr>());
    }
    const x = changetype<Xattr>(B.xattrs + <usize>B.xattrCount * offsetof<Xattr>());
    x.name = nameRef;
    x.value = valueRef;
    B.xattrCount++;
    E.xCount++;
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

/** Parses the value of field `key` at p into E. */
function readField(key: i32, p: usize): usize {
  const v = p;
  switch (key) {
    case K_NAME: {
      if (isNull(p)) return p + 4;
      p = readPoolString(p, MAX_NAME);
      if (p == 0) return 0;
      const ref = lastRef, at = B.pool + ref, len = refLen(ref);
      let n = cleanNameFast(at, len);
      if (n == -3) n = cleanName(at, len);
      if (n == -1) return fail(E_ESCAPE, v);
      if (n < 0) return fail(E_NAME, v);
      // the cleaned name replaces the string in place
      store<u32>(at - 4, <u32>n);
      B.poolLen = ref + <u32>n;
      E.name = ref;
      E.nameLen = <u32>n;
      return p;
    }
    case K_TYPE: {
      p = readString(p);
      if (p == 0) return 0;
      E.type = typeId(strStart, strEnd - strStart);
      if (E.type == 0) return fail(E_TYPE, v);
      return p;
    }
    case K_SIZE:
      p = readU53(p);
      E.size = lastU64;
      return p;
    case K_MODE:
      p = readU32(p);
      E.mode = lastU32;
      return p;
    case K_UID:
      p = readU32(p);
      E.uid = lastU32;
      return p;
    case K_GID:
      p = readU32(p);
      E.gid = lastU32;
      return p;
    case K_DEVMAJOR:
      p = readU32(p);
      E.devMajor = lastU32;
      return p;
    case K_DEVMINOR:
      p = readU32(p);
      E.devMinor = lastU32;
      return p;
    case K_OFFSET:
      p = readU53(p);
      E.offset = lastU64;
      return p;
    case K_INNEROFFSET:
      p = readU53(p);
      E.inner = lastU64;
      return p;
    case K_CHUNKOFFSET:
      p = readU53(p);
      E.chunkOffset = lastU64;
      return p;
    case K_CHUNKSIZE:
      p = readU53(p);
      E.chunkSize = lastU64;
      return p;
    case K_DIGEST:
      if (isNull(p)) return p + 4;
      p = readDigest(p, E_DIGEST_BUF);
      E.hasDigest = true;
      return p;
    case K_CHUNKDIGEST:
      if (isNull(p)) return p + 4;
      p = readDigest(p, E_CHUNK_DIGEST_BUF);
      E.hasChunkDigest = true;
      return p;
    case K_MODTIME: {
      if (isNull(p)) return p + 4;
      p = readString(p);
      if (p == 0) return 0;
      if (strEnd == strStart) {
        E.mtSec = 0;
        E.mtNsec = 0;
        return p;
      }
      if (!parseTime(strStart, strEnd - strStart)) return fail(E_TIME, v);
      E.mtSec = timeSec;
      E.mtNsec = timeNsec;
      return p;
    }
    case K_LINKNAME: {
      if (isNull(p)) return p + 4;
      p = readPoolString(p, MAX_NAME);
      if (p == 0) return 0;
      const len = refLen(lastRef);
      E.link = len ? lastRef : NONE;
      if (!len) dropString(lastRef, 0);
      return p;
    }
    case K_USERNAME:
    case K_GROUPNAME: {
      if (isNull(p)) return p + 4;
      p = readPoolString(p, MAX_OWNER);
      if (p == 0) return 0;
      const len = refLen(lastRef);
      let ref = NONE;
      if (len) ref = internOwner(lastRef, len);
      else dropString(lastRef, 0);
      if (key == K_USERNAME) E.user = ref;
      else E.group = ref;
      return p;
    }
    case K_XATTRS:
      return readXattrs(p);
  }
  return skipValue(p);
}
