// CRC-32 as gzip uses it (reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF).
// Slice-by-16: sixteen 256-entry tables in static memory let the loop fold 16 input bytes per
// iteration with independent table loads (the tables are built once, when the module starts).
// Wasm is little-endian, so the u32 loads below see bytes in stream order, as slicing expects.

const POLY: u32 = 0xEDB88320;
const SLICES: usize = 16;
/** T[k][b] at CRC_TABLES + k*1024 + b*4: T[0] is the byte-wise table, T[k] = T[0] advanced by k zero bytes. */
const CRC_TABLES: usize = memory.data(<i32>(SLICES * 256 * 4), 64);

function buildTables(): void {
  for (let b: u32 = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (POLY & (0 - (c & 1)));
    store<u32>(CRC_TABLES + (<usize>b << 2), c);
  }
  for (let k: usize = 1; k < SLICES; k++) {
    for (let b: usize = 0; b < 256; b++) {
      const prev = load<u32>(CRC_TABLES + (k - 1) * 1024 + (b << 2));
      store<u32>(CRC_TABLES + k * 1024 + (b << 2), (prev >>> 8) ^ load<u32>(CRC_TABLES + ((<usize>prev & 0xff) << 2)));
    }
  }
}
buildTables();

// T[k][byte]; k is a constant at every call site.
// @ts-ignore: decorator
@inline function t(k: usize, byte: u32): u32 {
  return load<u32>(CRC_TABLES + k * 1024 + (<usize>byte << 2));
}

/**
 * Continues a CRC-32 over `len` bytes at `ptr`. Pass 0 to start; the result is the final CRC
 * (what a gzip trailer holds), and passing it back continues the same stream.
 */
export function crc32_update(crc: u32, ptr: usize, len: usize): u32 {
  let c = ~crc;
  const end = ptr + len;
  // Align to 4 bytes first so the wide loads are aligned (cheaper on some engines).
  while (ptr < end && (ptr & 3) != 0) {
    c = (c >>> 8) ^ t(0, (c ^ load<u8>(ptr)) & 0xff);
    ptr++;
  }
  while (end - ptr >= 16) {
    const a = load<u32>(ptr) ^ c;
    const b = load<u32>(ptr, 4);
    const d = load<u32>(ptr, 8);
    const e = load<u32>(ptr, 12);
    c = t(15, a & 0xff) ^ t(14, (a >>> 8) & 0xff) ^ t(13, (a >>> 16) & 0xff) ^ t(12, a >>> 24) ^
        t(11, b & 0xff) ^ t(10, (b >>> 8) & 0xff) ^ t(9, (b >>> 16) & 0xff) ^ t(8, b >>> 24) ^
        t(7, d & 0xff) ^ t(6, (d >>> 8) & 0xff) ^ t(5, (d >>> 16) & 0xff) ^ t(4, d >>> 24) ^
        t(3, e & 0xff) ^ t(2, (e >>> 8) & 0xff) ^ t(1, (e >>> 16) & 0xff) ^ t(0, e >>> 24);
    ptr += 16;
  }
  while (ptr < end) {
    c = (c >>> 8) ^ t(0, (c ^ load<u8>(ptr)) & 0xff);
    ptr++;
  }
  return ~c;
}
