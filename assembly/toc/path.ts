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
