// Path cleaning and hashing for TOC names (same rules for building and for lookups).

/**
 * Cleans the name at [p, p+n) in place: drops empty and "." segments and leading/trailing '/',
 * resolves ".." against earlier segments. Returns the new length, -1 if ".." escapes the root,
 * -2 if the name holds a NUL byte.
 */
export function cleanName(p: usize, n: usize): isize {
  let w: usize = 0;
  let i: usize = 0;
  while (i < n) {
    if (load<u8>(p + i) == 0x2f) {
      i++;
      continue;
    }
    const s = i;
    while (i < n) {
      const c = load<u8>(p + i);
      if (c == 0x2f) break;
      if (c == 0) return -2;
      i++;
    }
    const len = i - s;
    if (len == 1 && load<u8>(p + s) == 0x2e) continue;
    if (len == 2 && load<u16>(p + s) == 0x2e2e) {
      if (w == 0) return -1;
      while (w > 0 && load<u8>(p + w - 1) != 0x2f) w--;
      if (w > 0) w--;
      continue;
    }
    if (w > 0) {
      store<u8>(p + w, 0x2f);
      w++;
    }
    if (w != s) memory.copy(p + w, p + s, len);
    w += len;
  }
  return <isize>w;
}

/** 32-bit hash of [p, p+n): a word at a time, then a murmur3 finaliser. */
export function hashBytes(p: usize, n: usize): u32 {
  let h: u32 = 0x811c9dc5 ^ <u32>n;
  let i: usize = 0;
  while (i + 4 <= n) {
    h = rotl<u32>(h ^ load<u32>(p + i), 13) * 0x9e3779b1;
    i += 4;
  }
  while (i < n) {
    h = (h ^ <u32>load<u8>(p + i)) * 0x01000193;
    i++;
  }
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h *= 0xc2b2ae35;
  h ^= h >> 16;
  return h;
}

/** Index of the last '/' in [p, p+n), or -1. */
export function lastSlash(p: usize, n: usize): isize {
  let i = <isize>n - 1;
  while (i >= 0 && load<u8>(p + <usize>i) != 0x2f) i--;
  return i;
}

/** Whether [a, a+n) and [b, b+n) hold the same bytes (8 at a time). */
export function sameBytes(a: usize, b: usize, n: usize): bool {
  let i: usize = 0;
  while (i + 8 <= n) {
    if (load<u64>(a + i) != load<u64>(b + i)) return false;
    i += 8;
  }
  while (i < n) {
    if (load<u8>(a + i) != load<u8>(b + i)) return false;
    i++;
  }
  return true;
}

/**
 * cleanName for the usual shapes ("./a/b", "/a/b/", "a/b"): strips leading "./" and "/" and trailing
 * "/", then checks with SIMD that no "//", "/." or NUL remains; returns -3 when the slow path must
 * decide. Needs 16 readable bytes after the name.
 */
export function cleanNameFast(p: usize, n: usize): isize {
  let s: usize = 0;
  while (s < n) {
    const c = load<u8>(p + s);
    if (c == 0x2f) s++;
    else if (c == 0x2e && (s + 1 == n || load<u8>(p + s + 1) == 0x2f)) s += 2;
    else break;
  }
  if (s >= n) return 0;
  let e = n;
  while (load<u8>(p + e - 1) == 0x2f) e--;
  // a first segment of ".." (or starting with '.') goes the slow way
  if (load<u8>(p + s) == 0x2e) return -3;
  const slash = i8x16.splat(0x2f), dot = i8x16.splat(0x2e), zero = i8x16.splat(0);
  for (let i = s; i < e; i += 16) {
    const v = v128.load(p + i);
    const w = v128.load(p + i + 1);
    const bad = v128.or(v128.and(i8x16.eq(v, slash), v128.or(i8x16.eq(w, slash), i8x16.eq(w, dot))), i8x16.eq(v, zero));
    let m = i8x16.bitmask(bad);
    if (e - i < 16) m &= (1 << <i32>(e - i)) - 1;
    if (m) return -3;
  }
  const len = e - s;
  if (s) memory.copy(p, p + s, len);
  return <isize>len;
}
