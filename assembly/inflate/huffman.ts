// Huffman decode tables for DEFLATE, built the way libdeflate and zlib do: a main table indexed by
// the next TABLEBITS input bits (bit-reversed codewords, so the low bits of the bit buffer index it
// directly), each short codeword replicated over every index it prefixes, and longer codewords in
// subtables reached through a pointer entry.
//
// One u32 per entry:
//   bit 31      LITERAL      (litlen table only: entry is a literal byte; tested with a sign check)
//   bits 16-30  value        literal byte / match length base / distance base / precode symbol /
//                            subtable start index
//   bit 15      EXCEPTIONAL  subtable pointer, end of block, or an invalid codeword
//   bit 14      SUBTABLE     pointer: bits 8-11 = subtable index bits, bits 0-7 = main table bits
//   bit 13      EOB          end of block (litlen symbol 256)
//   bits 8-11   codeword length (within the table the entry lives in)
//   bits 0-7    bits to consume = codeword length + extra bits
// so the decoder consumes `entry & 0xFF` bits, and the extra bits of a length or distance are the
// bits of the saved buffer between `(entry >> 8) & 0xF` and `entry & 0xFF`.

export const E_LITERAL: u32 = 0x80000000;
export const E_EXCEPTIONAL: u32 = 0x8000;
export const E_SUBTABLE: u32 = 0x4000;
export const E_EOB: u32 = 0x2000;
/** An unused or forbidden codeword: decoding it is an error. Claims 1 bit so a peek never over-asks. */
const E_INVALID: u32 = E_EXCEPTIONAL | (1 << 8) | 1;

export const LITLEN_TABLEBITS: u32 = 10;
export const DIST_TABLEBITS: u32 = 8;
export const PRECODE_TABLEBITS: u32 = 7;
// Worst-case table sizes with subtables (zlib's `enough` for 288 symbols / 11 bits / 15 max and for
// 32 symbols / 8 bits / 15 max; the same figures libdeflate uses).
export const LITLEN_ENOUGH: u32 = 2342;
export const DIST_ENOUGH: u32 = 402;
export const PRECODE_ENOUGH: u32 = 128;

export const KIND_PRECODE: i32 = 0;
export const KIND_LITLEN: i32 = 1;
export const KIND_DIST: i32 = 2;

/** Table build results (negative values are the decoder's error codes, see decoder.ts). */
export const BUILD_OK: i32 = 0;
export const BUILD_OVERSUBSCRIBED: i32 = -8;
export const BUILD_INCOMPLETE: i32 = -9;

const LEN_BASE = memory.data<u16>([
  3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
]);
const LEN_EXTRA = memory.data<u8>([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]);
const DIST_BASE = memory.data<u16>([
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
  8193, 12289, 16385, 24577,
]);
const DIST_EXTRA = memory.data<u8>([0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]);

// Scratch for table building (single-threaded module: one build at a time).
const COUNT = memory.data(16 * 4, 16); // u32 per codeword length
const OFFS = memory.data(17 * 4, 16); // u32 per codeword length
const SORTED = memory.data(288 * 2, 16); // u16 symbols ordered by (length, symbol)

// @ts-ignore: decorator
@inline function count(len: u32): u32 {
  return load<u32>(COUNT + (<usize>len << 2));
}

// Per-symbol entry templates: value and flags, with the extra-bit count in the low byte, so that
// an entry for a codeword of length `len` is `template + len * 257` (len in bits 8-11, len + extra
// in bits 0-7). Built once when the module starts.
const LITLEN_TEMPLATES = memory.data(288 * 4, 16);
const DIST_TEMPLATES = memory.data(32 * 4, 16);
const PRECODE_TEMPLATES = memory.data(19 * 4, 16);

function templateFor(kind: i32, sym: u32): u32 {
  if (kind == KIND_PRECODE) return sym << 16;
  if (kind == KIND_LITLEN) {
    if (sym < 256) return E_LITERAL | (sym << 16);
    if (sym == 256) return E_EXCEPTIONAL | E_EOB;
    if (sym < 286) {
      const i = <usize>(sym - 257);
      return (<u32>load<u16>(LEN_BASE + (i << 1)) << 16) | load<u8>(LEN_EXTRA + i);
    }
    return E_EXCEPTIONAL; // 286, 287: have fixed codewords but must not occur
  }
  if (sym < 30) {
    const i = <usize>sym;
    return (<u32>load<u16>(DIST_BASE + (i << 1)) << 16) | load<u8>(DIST_EXTRA + i);
  }
  return E_EXCEPTIONAL; // distance symbols 30, 31 are invalid
}

function buildTemplates(): void {
  for (let s: u32 = 0; s < 288; s++) store<u32>(LITLEN_TEMPLATES + (<usize>s << 2), templateFor(KIND_LITLEN, s));
  for (let s: u32 = 0; s < 32; s++) store<u32>(DIST_TEMPLATES + (<usize>s << 2), templateFor(KIND_DIST, s));
  for (let s: u32 = 0; s < 19; s++) store<u32>(PRECODE_TEMPLATES + (<usize>s << 2), templateFor(KIND_PRECODE, s));
}
buildTemplates();

// @ts-ignore: decorator
@inline function entryFor(templates: usize, sym: u32, len: u32): u32 {
  return load<u32>(templates + (<usize>sym << 2)) + len * 257;
}

function fillInvalid(table: usize, n: u32): void {
  for (let i: u32 = 0; i < n; i++) store<u32>(table + (<usize>i << 2), E_INVALID);
}

/** The next codeword of the same length in bit-reversed form (libdeflate's trick: set the highest 0 bit, clear those above). */
// @ts-ignore: decorator
@inline function nextReversed(codeword: u32, len: u32): u32 {
  const bit: u32 = 1 << (31 - clz<u32>(codeword ^ ((<u32>1 << len) - 1)));
  return (codeword & (bit - 1)) | bit;
}

/**
 * Builds the decode table for `num` code lengths (bytes at `lens`, 0..15) into `table`.
 * Follows zlib's acceptance rules: an oversubscribed code is an error; an incomplete code is an
 * error except a litlen/distance code of a single 1-bit codeword; an all-zero distance code is
 * allowed (the block then cannot use matches). Returns BUILD_OK or a negative error code.
 */
export function buildTable(table: usize, lens: usize, num: u32, tablebits: u32, kind: i32, enough: u32): i32 {
  memory.fill(COUNT, 0, 16 * 4);
  for (let s: u32 = 0; s < num; s++) {
    const p = COUNT + (<usize>load<u8>(lens + s) << 2);
    store<u32>(p, load<u32>(p) + 1);
  }
  let max: u32 = 15;
  while (max > 0 && count(max) == 0) max--;
  const size: u32 = 1 << tablebits;
  if (max == 0) {
    if (kind != KIND_DIST) return BUILD_INCOMPLETE;
    fillInvalid(table, size);
    return BUILD_OK;
  }
  let left: i32 = 1;
  for (let l: u32 = 1; l <= 15; l++) {
    left = (left << 1) - <i32>count(l);
    if (left < 0) return BUILD_OVERSUBSCRIBED;
  }
  if (left > 0) {
    if (kind == KIND_PRECODE || max != 1) return BUILD_INCOMPLETE;
    fillInvalid(table, size);
  }
  // Sort symbols by codeword length, then by symbol: canonical order.
  store<u32>(OFFS + 4, 0);
  for (let l: u32 = 1; l < 16; l++) store<u32>(OFFS + ((<usize>l + 1) << 2), load<u32>(OFFS + (<usize>l << 2)) + count(l));
  const total = load<u32>(OFFS + (16 << 2));
  for (let s: u32 = 0; s < num; s++) {
    const l = <usize>load<u8>(lens + s);
    if (l != 0) {
      const o = load<u32>(OFFS + (l << 2));
      store<u16>(SORTED + (<usize>o << 1), <u16>s);
      store<u32>(OFFS + (l << 2), o + 1);
    }
  }
  const templates = kind == KIND_LITLEN ? LITLEN_TEMPLATES : kind == KIND_DIST ? DIST_TEMPLATES : PRECODE_TEMPLATES;
  if (left > 0) {
    // The single-codeword code (one 1-bit codeword, the rest invalid).
    const e = entryFor(templates, <u32>load<u16>(SORTED), 1);
    for (let j: u32 = 0; j < size; j += 2) store<u32>(table + (<usize>j << 2), e);
    return BUILD_OK;
  }
  // A complete code. Codewords of length <= tablebits, shortest first: each is stored once in a
  // table of 2^len entries, which is doubled (copied onto its upper half) whenever len grows, so
  // every entry ends up replicated over all the indices it prefixes.
  let i: u32 = 0;
  let codeword: u32 = 0; // bit-reversed, i.e. the table index
  let len: u32 = 1;
  while (count(len) == 0) len++;
  let cur: u32 = 1 << len;
  while (len <= tablebits) {
    let n = count(len);
    do {
      store<u32>(table + (<usize>codeword << 2), entryFor(templates, <u32>load<u16>(SORTED + (<usize>i << 1)), len));
      i++;
      if (codeword == cur - 1) { // the last codeword (all ones): the code is complete
        for (; len < tablebits; len++) {
          memory.copy(table + (<usize>cur << 2), table, <usize>cur << 2);
          cur <<= 1;
        }
        return BUILD_OK;
      }
      codeword = nextReversed(codeword, len);
    } while (--n);
    do {
      if (++len <= tablebits) {
        memory.copy(table + (<usize>cur << 2), table, <usize>cur << 2);
        cur <<= 1;
      }
    } while (count(len) == 0);
  }
  // Longer codewords: subtables, each as large as the codewords sharing its prefix need.
  cur = size;
  let prefix: u32 = 0xFFFFFFFF;
  let subStart: u32 = 0;
  let n = count(len);
  while (true) {
    if ((codeword & (size - 1)) != prefix) {
      prefix = codeword & (size - 1);
      subStart = cur;
      let subBits = len - tablebits;
      let used = n;
      while (used < (<u32>1 << subBits)) {
        subBits++;
        used = (used << 1) + count(tablebits + subBits);
      }
      cur = subStart + (<u32>1 << subBits);
      if (cur > enough) return BUILD_OVERSUBSCRIBED; // cannot happen for a complete code
      store<u32>(table + (<usize>prefix << 2), E_EXCEPTIONAL | E_SUBTABLE | (subStart << 16) | (subBits << 8) | tablebits);
    }
    const e = entryFor(templates, <u32>load<u16>(SORTED + (<usize>i << 1)), len - tablebits);
    i++;
    const stride: u32 = 1 << (len - tablebits);
    for (let j = subStart + (codeword >> tablebits); j < cur; j += stride) store<u32>(table + (<usize>j << 2), e);
    if (codeword == (<u32>1 << len) - 1) return BUILD_OK;
    codeword = nextReversed(codeword, len);
    n--;
    while (n == 0) n = count(++len);
  }
}

// The fixed code of block type 1, built once on first use.
export const FIXED_LITLEN: usize = memory.data(2048 * 4, 16);
export const FIXED_DIST: usize = memory.data(256 * 4, 16);
let fixedBuilt = false;

export function ensureFixedTables(): void {
  if (fixedBuilt) return;
  const lens = memory.data(320, 16);
  for (let i = 0; i < 144; i++) store<u8>(lens + i, 8);
  for (let i = 144; i < 256; i++) store<u8>(lens + i, 9);
  for (let i = 256; i < 280; i++) store<u8>(lens + i, 7);
  for (let i = 280; i < 288; i++) store<u8>(lens + i, 8);
  for (let i = 288; i < 320; i++) store<u8>(lens + i, 5);
  buildTable(FIXED_LITLEN, lens, 288, LITLEN_TABLEBITS, KIND_LITLEN, 2048);
  buildTable(FIXED_DIST, lens + 288, 32, DIST_TABLEBITS, KIND_DIST, 256);
  fixedBuilt = true;
}
