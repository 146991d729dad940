// JSON scanning primitives over an input followed by PAD zero bytes: a NUL byte stops every loop
// (NUL is never valid where a loop looks), so scans need no per-byte bounds check; callers compare
// the stop position with the end to tell "unexpected end" from "unexpected byte".
import { fail, E_SYNTAX, E_EOF, E_STRING, E_NUMBER, E_FIELD, E_DEEP } from "./errors";

/** Zero bytes the caller guarantees after the input (SIMD loads read up to 16 past a stop). */
export const PAD: usize = 64;

/** End of the current input (first padding byte). */
export let inputEnd: usize = 0;

export function setInputEnd(e: usize): void {
  inputEnd = e;
}

/** Error for a scan that stopped at p: end of input or unexpected byte. */
export function unexpected(p: usize): usize {
  return fail(p >= inputEnd ? E_EOF : E_SYNTAX, p);
}

@inline export function skipWs(p: usize): usize {
  let c = load<u8>(p);
  while (c <= 0x20 && (c == 0x20 || c == 0x0a || c == 0x09 || c == 0x0d)) {
    p++;
    c = load<u8>(p);
  }
  return p;
}

/** Whether the last string scanned held a backslash escape. */
export let hadEscape: bool = false;
/** Whether the last string scanned may hold bytes >= 0x80 (then its UTF-8 needs checking). */
export let hadHigh: bool = false;

@inline function hexVal(c: u32): u32 {
  const d = c - 0x30;
  if (d <= 9) return d;
  const l = (c | 0x20) - 0x61;
  return l <= 5 ? l + 10 : 0xff;
}

/**
 * p: just after an opening quote. Returns the position of the closing quote (0 on error),
 * validating escapes and rejecting control bytes. Sets hadEscape.
 */
export function scanString(p: usize): usize {
  hadEscape = false;
  let high: i32 = 0;
  const quote = i8x16.splat(0x22);
  const bslash = i8x16.splat(0x5c);
  const space = i8x16.splat(0x20);
  while (true) {
    const v = v128.load(p);
    const m = i8x16.bitmask(v128.or(v128.or(i8x16.eq(v, quote), i8x16.eq(v, bslash)), i8x16.lt_u(v, space)));
    high |= i8x16.bitmask(v);
    if (m == 0) {
      p += 16;
      continue;
    }
    p += <usize>ctz<i32>(m);
    const c = load<u8>(p);
    if (c == 0x22) {
      hadHigh = high != 0;
      return p;
    }
    if (c == 0x5c) {
      hadEscape = true;
      const e = <u32>load<u8>(p + 1);
      if (e == 0x75) {
        if ((hexVal(load<u8>(p + 2)) | hexVal(load<u8>(p + 3)) | hexVal(load<u8>(p + 4)) | hexVal(load<u8>(p + 5))) > 15) {
          return fail(p + 2 >= inputEnd ? E_EOF : E_STRING, p);
        }
        p += 6;
      } else if (e == 0x22 || e == 0x5c || e == 0x2f || e == 0x62 || e == 0x66 || e == 0x6e || e == 0x72 || e == 0x74) {
        p += 2;
      } else {
        return fail(p + 1 >= inputEnd ? E_EOF : E_STRING, p);
      }
      continue;
    }
    return fail(p >= inputEnd ? E_EOF : E_STRING, p);
  }
}

@inline function hex4(p: usize): u32 {
  return (hexVal(load<u8>(p)) << 12) | (hexVal(load<u8>(p + 1)) << 8) | (hexVal(load<u8>(p + 2)) << 4) | hexVal(load<u8>(p + 3));
}

function putUtf8(d: usize, cp: u32): usize {
  if (cp < 0x80) {
    store<u8>(d, <u8>cp);
    return d + 1;
  }
  if (cp < 0x800) {
    store<u8>(d, <u8>(0xc0 | (cp >> 6)));
    store<u8>(d + 1, <u8>(0x80 | (cp & 0x3f)));
    return d + 2;
  }
  if (cp < 0x10000) {
    store<u8>(d, <u8>(0xe0 | (cp >> 12)));
    store<u8>(d + 1, <u8>(0x80 | ((cp >> 6) & 0x3f)));
    store<u8>(d + 2, <u8>(0x80 | (cp & 0x3f)));
    return d + 3;
  }
  store<u8>(d, <u8>(0xf0 | (cp >> 18)));
  store<u8>(d + 1, <u8>(0x80 | ((cp >> 12) & 0x3f)));
  store<u8>(d + 2, <u8>(0x80 | ((cp >> 6) & 0x3f)));
  store<u8>(d + 3, <u8>(0x80 | (cp & 0x3f)));
  return d + 4;
}

/**
 * Decodes the string body [s, e) (already validated by scanString) to d; returns the end of the
 * output. The output is never longer than the input, so d == s (in place) or any buffer of e - s
 * bytes works. Lone surrogates become U+FFFD, as TextEncoder and Go do.
 */
export function decodeString(s: usize, e: usize, d: usize): usize {
  while (s < e) {
    let r = s;
    while (r < e && load<u8>(r) != 0x5c) r++;
    const n = r - s;
    if (n) {
      if (d != s) memory.copy(d, s, n);
      d += n;
    }
    if (r >= e) break;
    const c = <u32>load<u8>(r + 1);
    s = r + 2;
    let out: u32 = 0;
    if (c == 0x75) {
      let cp = hex4(r + 2);
      s = r + 6;
      if (cp >= 0xd800 && cp <= 0xdbff) {
        if (s + 6 <= e && load<u8>(s) == 0x5c && load<u8>(s + 1) == 0x75) {
          const lo = hex4(s + 2);
          if (lo >= 0xdc00 && lo <= 0xdfff) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            s += 6;
          } else cp = 0xfffd;
        } else cp = 0xfffd;
      } else if (cp >= 0xdc00 && cp <= 0xdfff) cp = 0xfffd;
      d = putUtf8(d, cp);
      continue;
    }
    if (c == 0x6e) out = 0x0a;
    else if (c == 0x74) out = 0x09;
    else if (c == 0x72) out = 0x0d;
    else if (c == 0x62) out = 0x08;
    else if (c == 0x66) out = 0x0c;
    else out = c; // " \ /
    store<u8>(d, <u8>out);
    d++;
  }
  return d;
}

/** The value of the last number parsed by parseUint. */
export let numValue: u64 = 0;

const MAX_SAFE: u64 = 9007199254740992; // 2^53

/** Parses a JSON non-negative integer ≤ 2^53 at p; returns the position after it (0 on error). */
export function parseUint(p: usize): usize {
  const s = p;
  let c = <u32>load<u8>(p);
  if (c == 0x2d) return fail(E_NUMBER, s);
  let d = c - 0x30;
  if (d > 9) return fail(E_FIELD, s);
  let v: u64 = d;
  p++;
  if (d == 0) {
    if (<u32>load<u8>(p) - 0x30 <= 9) return fail(E_SYNTAX, p);
  } else {
    while (true) {
      d = <u32>load<u8>(p) - 0x30;
      if (d > 9) break;
      v = v * 10 + d;
      p++;
      if (p - s > 16) return fail(E_NUMBER, s);
    }
  }
  c = load<u8>(p);
  if (c == 0x2e || c == 0x65 || c == 0x45) return fail(E_NUMBER, s);
  if (v > MAX_SAFE) return fail(E_NUMBER, s);
  numValue = v;
  return p;
}

/** Skips any JSON number at p (grammar checked); returns the position after it. */
function skipNumber(p: usize): usize {
  if (load<u8>(p) == 0x2d) p++;
  let c = <u32>load<u8>(p) - 0x30;
  if (c > 9) return unexpected(p);
  p++;
  if (c != 0) while (<u32>load<u8>(p) - 0x30 <= 9) p++;
  if (load<u8>(p) == 0x2e) {
    p++;
    if (<u32>load<u8>(p) - 0x30 > 9) return unexpected(p);
    while (<u32>load<u8>(p) - 0x30 <= 9) p++;
  }
  c = load<u8>(p);
  if (c == 0x65 || c == 0x45) {
    p++;
    c = load<u8>(p);
    if (c == 0x2b || c == 0x2d) p++;
    if (<u32>load<u8>(p) - 0x30 > 9) return unexpected(p);
    while (<u32>load<u8>(p) - 0x30 <= 9) p++;
  }
  return p;
}

/** Matches the literal true/false/null at p; returns the position after it. */
function skipLiteral(p: usize): usize {
  const c = load<u8>(p);
  if (c == 0x74 && load<u32>(p) == 0x65757274) return p + 4; // true
  if (c == 0x6e && load<u32>(p) == 0x6c6c756e) return p + 4; // null
  if (c == 0x66 && load<u32>(p + 1) == 0x65736c61) return p + 5; // false
  return unexpected(p);
}

/** Whether the JSON literal null starts at p. */
@inline export function isNull(p: usize): bool {
  return load<u32>(p) == 0x6c6c756e;
}

const MAX_DEPTH: u32 = 1024;
/** One bit per open container while skipping: 1 = object, 0 = array. */
const STACK: usize = memory.data(<i32>(MAX_DEPTH / 8));

/** Skips one JSON value of any kind starting at p (after whitespace); returns the position after it. */
export function skipValue(p: usize): usize {
  let depth: u32 = 0;
  while (true) {
    // a value
    p = skipWs(p);
    let c = load<u8>(p);
    if (c == 0x22) {
      p = scanString(p + 1);
      if (p == 0) return 0;
      p++;
    } else if (c == 0x7b || c == 0x5b) {
      if (depth == MAX_DEPTH) return fail(E_DEEP, p);
      const bit = <u8>(<u32>1 << (depth & 7));
      const at = STACK + (depth >> 3);
      if (c == 0x7b) store<u8>(at, load<u8>(at) | bit);
      else store<u8>(at, load<u8>(at) & ~bit);
      depth++;
      p = skipWs(p + 1);
      c = load<u8>(p);
      if (c == 0x7d || c == 0x5d) {
        if ((c == 0x7d) != (((load<u8>(at) & bit) != 0))) return unexpected(p);
        depth--;
        p++;
      } else {
        if ((load<u8>(at) & bit) != 0) {
          p = skipKey(p);
          if (p == 0) return 0;
        }
        continue;
      }
    } else if (c == 0x74 || c == 0x66 || c == 0x6e) {
      p = skipLiteral(p);
      if (p == 0) return 0;
    } else {
      p = skipNumber(p);
      if (p == 0) return 0;
    }
    // after a value: close containers or move to the next element
    while (true) {
      if (depth == 0) return p;
      p = skipWs(p);
      c = load<u8>(p);
      const top = depth - 1;
      const isObj = (load<u8>(STACK + (top >> 3)) & (<u32>1 << (top & 7))) != 0;
      if (c == 0x2c) {
        p = skipWs(p + 1);
        if (isObj) {
          p = skipKey(p);
          if (p == 0) return 0;
        }
        break;
      }
      if ((c == 0x7d && isObj) || (c == 0x5d && !isObj)) {
        depth--;
        p++;
        continue;
      }
      return unexpected(p);
    }
  }
}

/** Skips `"key" :` at p; returns the position after the colon. */
function skipKey(p: usize): usize {
  if (load<u8>(p) != 0x22) return unexpected(p);
  p = scanString(p + 1);
  if (p == 0) return 0;
  p = skipWs(p + 1);
  if (load<u8>(p) != 0x3a) return unexpected(p);
  return p + 1;
}

/** Length of the valid UTF-8 sequence at p (< end), or 0 if the byte there starts none. */
function utf8Len(p: usize, end: usize): usize {
  const c = <u32>load<u8>(p);
  if (c < 0x80) return 1;
  const avail = end - p;
  if (c >= 0xc2 && c <= 0xdf) return avail >= 2 && (<u32>load<u8>(p + 1) & 0xc0) == 0x80 ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (avail < 3) return 0;
    const b1 = <u32>load<u8>(p + 1), b2 = <u32>load<u8>(p + 2);
    const lo: u32 = c == 0xe0 ? 0xa0 : 0x80, hi: u32 = c == 0xed ? 0x9f : 0xbf;
    return b1 >= lo && b1 <= hi && (b2 & 0xc0) == 0x80 ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (avail < 4) return 0;
    const b1 = <u32>load<u8>(p + 1), b2 = <u32>load<u8>(p + 2), b3 = <u32>load<u8>(p + 3);
    const lo: u32 = c == 0xf0 ? 0x90 : 0x80, hi: u32 = c == 0xf4 ? 0x8f : 0xbf;
    return b1 >= lo && b1 <= hi && (b2 & 0xc0) == 0x80 && (b3 & 0xc0) == 0x80 ? 4 : 0;
  }
  return 0;
}

/** Whether [p, p+n) is valid UTF-8. */
export function validUtf8(p: usize, n: usize): bool {
  const end = p + n;
  while (p < end) {
    const l = utf8Len(p, end);
    if (l == 0) return false;
    p += l;
  }
  return true;
}

/**
 * Copies [s, s+n) to d replacing each byte that starts no valid UTF-8 sequence with U+FFFD, as Go's
 * JSON decoder does (d needs 3n bytes, must not overlap s). Returns the end of the output.
 */
export function repairUtf8(s: usize, n: usize, d: usize): usize {
  const end = s + n;
  while (s < end) {
    const l = utf8Len(s, end);
    if (l == 0) {
      store<u8>(d, 0xef);
      store<u8>(d + 1, 0xbf);
      store<u8>(d + 2, 0xbd);
      d += 3;
      s++;
    } else {
      memory.copy(d, s, l);
      d += l;
      s += l;
    }
  }
  return d;
}
