// The DEFLATE/gzip decoder: one state machine used both one-shot (whole member in, caller's buffer
// out) and streaming (input staged piece by piece, output through a sliding window).
//
// Bits: a 64-bit buffer `bitbuf` holding `bitsleft` valid bits, least significant first. Bits above
// `bitsleft` are either zero or the true bits of the byte at `inNext` (the branchless refill leaves
// them there), so OR-ing that byte in again is harmless and a table peek past `bitsleft` never sees
// anything but real input or zeros.
//
// Huffman blocks run in two loops. The fast loop runs while at least 8 input bytes and FAST_OUT_ROOM
// output bytes remain: it refills with one unaligned 8-byte load (then >= 56 bits are buffered, more
// than a length + distance pair needs, 48), and writes matches with 8-byte word copies that may
// spill up to 7 bytes past the match end, all proven in bounds by the loop condition. The slow loop
// decodes one symbol at a time, peeks the whole symbol (litlen + extra + distance + extra) before
// consuming any bit, and so can stop at any symbol boundary when input or output runs out.
//
// Headers (gzip header, block headers with their code-length tables, the trailer) are parsed by
// cold code that takes a snapshot of the bit reader and rolls back to it when the input ends
// mid-header; the streaming host then appends input and the parse starts again. The staged input
// is at least 4 KiB and a header is at most ~600 bytes, so progress is guaranteed.

import { crc32_update } from "../crc32";
import {
  buildTable, ensureFixedTables, BUILD_OK, E_EOB, E_EXCEPTIONAL, E_SUBTABLE, FIXED_DIST, FIXED_LITLEN,
  KIND_DIST, KIND_LITLEN, KIND_PRECODE, LITLEN_ENOUGH, LITLEN_TABLEBITS, DIST_ENOUGH, DIST_TABLEBITS,
  PRECODE_ENOUGH, PRECODE_TABLEBITS,
} from "./huffman";

// Statuses (>= 0) and errors (< 0). Keep in step with src/core/inflate.ts.
export const ST_END: i32 = 0; // one-shot: member complete; streaming: input final and fully decoded
export const ST_MEMBER_END: i32 = 1; // streaming: a gzip member ended (boundary fields set)
export const ST_NEED_INPUT: i32 = 2;
export const ST_OUTPUT_FULL: i32 = 3;

export const E_TRUNCATED: i32 = -1;
export const E_GZIP_HEADER: i32 = -2; // bad magic or compression method
export const E_GZIP_FLAGS: i32 = -3; // reserved header flag bits set
export const E_HEADER_CRC: i32 = -4;
export const E_BLOCK_TYPE: i32 = -5;
export const E_STORED_LENGTH: i32 = -6; // LEN != ~NLEN
export const E_CODE_LENGTHS: i32 = -7; // too many symbols, repeat without previous, repeat overflow
export const E_OVERSUBSCRIBED: i32 = -8;
export const E_INCOMPLETE: i32 = -9;
export const E_MISSING_EOB: i32 = -10; // litlen code without an end-of-block codeword
export const E_BAD_LITLEN: i32 = -11; // unused codeword or symbol 286/287
export const E_BAD_DISTANCE: i32 = -12; // unused codeword or symbol 30/31
export const E_DISTANCE_TOO_FAR: i32 = -13;
export const E_CRC: i32 = -14;
export const E_ISIZE: i32 = -15;
export const E_ARGUMENT: i32 = -17;

// Phases of the state machine.
const P_GZ_HEADER: u32 = 0;
const P_BLOCK: u32 = 1;
const P_STORED: u32 = 2;
const P_HUFF: u32 = 3;
const P_TRAILER: u32 = 4;
const P_BETWEEN: u32 = 5; // streaming gzip: between members
const P_DONE: u32 = 6;
const P_FAILED: u32 = 7;

export const F_GZIP: u32 = 1;
export const F_CHECK_CRC: u32 = 2;
export const F_STREAMING: u32 = 4;

/** Output room the fast loop needs: a 258-byte match plus the word copies' spill (< 16 bytes past a match, 40 for a short one). */
const FAST_OUT_ROOM: usize = 320;
const LITLEN_MASK: u32 = (1 << LITLEN_TABLEBITS) - 1;
const DIST_MASK: u32 = (1 << DIST_TABLEBITS) - 1;

const PRECODE_ORDER = memory.data<u8>([16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]);
const ONE_BYTE = memory.data(16, 16);

/**
 * Decoder state, in a host-owned heap block. The first fields are results the host reads at fixed
 * offsets (exported from inflate.ts as INFLATE_OFF_*).
 */
@unmanaged export class State {
  // --- results ---
  errPos: f64 = 0; // stream (or input) byte offset where an error was found
  memberInStart: f64 = 0; // last member's compressed start / end offsets in the stream
  memberInEnd: f64 = 0;
  memberOutStart: f64 = 0; // last member's decompressed start / end offsets in the stream
  memberOutEnd: f64 = 0;
  outPtr: u32 = 0; // output produced by the last call: [outPtr, outPtr + outLen)
  outLen: u32 = 0;
  inUsed: u32 = 0; // one-shot: compressed bytes consumed
  inPtr: u32 = 0; // streaming: the host writes up to inRoom input bytes here before the next run
  inRoom: u32 = 0;
  members: u32 = 0; // members completed so far
  memberCrc: u32 = 0; // CRC-32 of the last member's output (when computed)
  // --- bit reader ---
  bitbuf: u64 = 0;
  bitsleft: u32 = 0;
  final: u32 = 0; // no input beyond inEnd will come
  inBase: usize = 0; // staged input (streaming) or the caller's input (one-shot)
  inNext: usize = 0;
  inEnd: usize = 0;
  inCap: usize = 0;
  inBase64: f64 = 0; // stream offset of the byte at inBase
  // --- output ---
  outBuf: usize = 0;
  outEnd: usize = 0;
  outNext: usize = 0;
  hist: usize = 0; // oldest byte a match may reach back to (member start or window start)
  crcPos: usize = 0; // output before this is already in `crc`
  outBase64: f64 = 0; // stream offset of the byte at outBuf
  outChunk: usize = 0; // streaming: output bytes per window slide
  // --- where we are ---
  flags: u32 = 0;
  phase: u32 = 0;
  lastBlock: u32 = 0;
  storedLeft: u32 = 0;
  hdrStep: u32 = 0;
  hdrFlags: u32 = 0;
  hdrLeft: u32 = 0;
  hdrCrc: u32 = 0;
  crc: u32 = 0;
  status: i32 = 0;
  snapIn: usize = 0;
  snapBuf: u64 = 0;
  snapLeft: u32 = 0;
  // --- tables ---
  lit: usize = 0; // current litlen / distance tables (dynamic ones below, or the fixed ones)
  dist: usize = 0;
  dynLit: usize = 0;
  dynDist: usize = 0;
  precode: usize = 0;
  lens: usize = 0;
}

/** Bytes for the state plus its tables, allocated as one block. */
export const STATE_BYTES: usize =
  ((offsetof<State>() + 15) & ~15) + (LITLEN_ENOUGH + DIST_ENOUGH + PRECODE_ENOUGH) * 4 + 320 + 16;

export function initState(p: usize): State {
  memory.fill(p, 0, STATE_BYTES);
  const s = changetype<State>(p);
  const t = (p + offsetof<State>() + 15) & ~15;
  s.dynLit = t;
  s.dynDist = t + LITLEN_ENOUGH * 4;
  s.precode = s.dynDist + DIST_ENOUGH * 4;
  s.lens = s.precode + PRECODE_ENOUGH * 4;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Bit reader helpers for the cold paths (operate on the state's fields).

// @ts-ignore: decorator
@inline function streamPos(s: State): f64 {
  return s.inBase64 + <f64>(s.inNext - s.inBase) - <f64>(s.bitsleft >> 3);
}

/** Makes at least `n` (<= 32) bits available; false if the input ends first. */
function ensureBits(s: State, n: u32): bool {
  while (s.bitsleft < n) {
    if (s.inNext >= s.inEnd) return false;
    s.bitbuf |= <u64>load<u8>(s.inNext) << s.bitsleft;
    s.inNext++;
    s.bitsleft += 8;
  }
  return true;
}

// @ts-ignore: decorator
@inline function takeBits(s: State, n: u32): u32 {
  const v = <u32>s.bitbuf & ((<u32>1 << n) - 1);
  s.bitbuf >>= <u64>n;
  s.bitsleft -= n;
  return v;
}

function alignToByte(s: State): void {
  const n = s.bitsleft & 7;
  s.bitbuf >>= <u64>n;
  s.bitsleft -= n;
}

function snapshot(s: State): void {
  s.snapIn = s.inNext;
  s.snapBuf = s.bitbuf;
  s.snapLeft = s.bitsleft;
}

function rollback(s: State): void {
  s.inNext = s.snapIn;
  s.bitbuf = s.snapBuf;
  s.bitsleft = s.snapLeft;
}

/** The input ran out inside a unit that must be parsed whole: roll back and wait, or fail if final. */
function starved(s: State): i32 {
  if (s.final) return E_TRUNCATED;
  rollback(s);
  return ST_NEED_INPUT;
}

function hdrByte(s: State, b: u32): void {
  if (s.hdrFlags & 2) {
    store<u8>(ONE_BYTE, <u8>b);
    s.hdrCrc = crc32_update(s.hdrCrc, ONE_BYTE, 1);
  }
}

// ---------------------------------------------------------------------------------------------
// gzip header (RFC 1952 §2.3), resumable field by field.

function gzipHeader(s: State): i32 {
  while (true) {
    const step = s.hdrStep;
    if (step == 0) {
      snapshot(s);
      let b: u32 = 0;
      const bytes = ONE_BYTE + 4; // the fixed 10 bytes are kept to checksum them if FHCRC is set
      for (let i = 0; i < 10; i++) {
        if (!ensureBits(s, 8)) return starved(s);
        b = takeBits(s, 8);
        store<u8>(bytes + i, <u8>b);
        if ((i == 0 && b != 31) || (i == 1 && b != 139) || (i == 2 && b != 8)) {
          rollback(s); // report the member's first byte
          return E_GZIP_HEADER;
        }
        if (i == 3) {
          if (b & 0xE0) return E_GZIP_FLAGS;
          s.hdrFlags = b;
        }
      }
      s.hdrCrc = 0;
      if (s.hdrFlags & 2) s.hdrCrc = crc32_update(0, bytes, 10);
      s.hdrStep = 1;
    } else if (step == 1) {
      if (s.hdrFlags & 4) { // FEXTRA
        snapshot(s);
        if (!ensureBits(s, 16)) return starved(s);
        const lo = takeBits(s, 8);
        const hi = takeBits(s, 8);
        hdrByte(s, lo);
        hdrByte(s, hi);
        s.hdrLeft = lo | (hi << 8);
      }
      s.hdrStep = 2;
    } else if (step == 2) {
      if (s.hdrFlags & 4) {
        while (s.hdrLeft > 0) {
          if (!ensureBits(s, 8)) return s.final ? E_TRUNCATED : ST_NEED_INPUT;
          hdrByte(s, takeBits(s, 8));
          s.hdrLeft--;
        }
      }
      s.hdrStep = 3;
    } else if (step == 3 || step == 4) {
      if (s.hdrFlags & (step == 3 ? 8 : 16)) { // FNAME, FCOMMENT: zero-terminated
        while (true) {
          if (!ensureBits(s, 8)) return s.final ? E_TRUNCATED : ST_NEED_INPUT;
          const b = takeBits(s, 8);
          hdrByte(s, b);
          if (b == 0) break;
        }
      }
      s.hdrStep = step + 1;
    } else {
      if (s.hdrFlags & 2) { // FHCRC: low 16 bits of the CRC-32 of the header so far
        snapshot(s);
        if (!ensureBits(s, 16)) return starved(s);
        const v = takeBits(s, 16);
        if (v != (s.hdrCrc & 0xFFFF)) return E_HEADER_CRC;
      }
      return ST_END;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Block header: stored length, or the fixed tables, or a dynamic code description.

function blockHeader(s: State): i32 {
  snapshot(s);
  if (!ensureBits(s, 3)) return starved(s);
  s.lastBlock = takeBits(s, 1);
  const type = takeBits(s, 2);
  if (type == 0) {
    alignToByte(s);
    if (!ensureBits(s, 32)) return starved(s);
    const len = takeBits(s, 16);
    const nlen = takeBits(s, 16);
    if (len != (~nlen & 0xFFFF)) return E_STORED_LENGTH;
    s.storedLeft = len;
    s.phase = P_STORED;
    return ST_END;
  }
  if (type == 1) {
    ensureFixedTables();
    s.lit = FIXED_LITLEN;
    s.dist = FIXED_DIST;
    s.phase = P_HUFF;
    return ST_END;
  }
  if (type == 3) return E_BLOCK_TYPE;
  // Dynamic: HLIT, HDIST, HCLEN, then the precode lengths.
  if (!ensureBits(s, 14)) return starved(s);
  const nlit = takeBits(s, 5) + 257;
  const ndist = takeBits(s, 5) + 1;
  const nclen = takeBits(s, 4) + 4;
  if (nlit > 286 || ndist > 30) return E_CODE_LENGTHS;
  const lens = s.lens;
  memory.fill(lens, 0, 19);
  for (let i: u32 = 0; i < nclen; i++) {
    if (!ensureBits(s, 3)) return starved(s);
    store<u8>(lens + load<u8>(PRECODE_ORDER + i), <u8>takeBits(s, 3));
  }
  let r = buildTable(s.precode, lens, 19, PRECODE_TABLEBITS, KIND_PRECODE, PRECODE_ENOUGH);
  if (r != BUILD_OK) return r;
  // The litlen and distance code lengths, one run-length-coded sequence (bit reader in locals).
  const total = nlit + ndist;
  const pre = s.precode;
  let bitbuf = s.bitbuf;
  let bitsleft = s.bitsleft;
  let inNext = s.inNext;
  const inEnd = s.inEnd;
  let i: u32 = 0;
  let err: i32 = 0;
  while (i < total) {
    while (bitsleft < 56 && inNext < inEnd) {
      bitbuf |= <u64>load<u8>(inNext) << <u64>bitsleft;
      inNext++;
      bitsleft += 8;
    }
    const e = load<u32>(pre + ((<usize>bitbuf & 0x7F) << 2));
    const n = e & 0xFF;
    const sym = e >> 16;
    if (sym < 16) {
      if (n > bitsleft) { err = ST_NEED_INPUT; break; }
      bitbuf >>= <u64>n;
      bitsleft -= n;
      store<u8>(lens + i, <u8>sym);
      i++;
      continue;
    }
    const extra: u32 = sym == 16 ? 2 : sym == 17 ? 3 : 7;
    if (n + extra > bitsleft) { err = ST_NEED_INPUT; break; }
    const x = <u32>(bitbuf >> <u64>n) & ((<u32>1 << extra) - 1);
    bitbuf >>= <u64>(n + extra);
    bitsleft -= n + extra;
    let rep: u32;
    let val: u8 = 0;
    if (sym == 16) {
      if (i == 0) { err = E_CODE_LENGTHS; break; }
      val = load<u8>(lens + i - 1);
      rep = 3 + x;
    } else if (sym == 17) {
      rep = 3 + x;
    } else {
      rep = 11 + x;
    }
    if (i + rep > total) { err = E_CODE_LENGTHS; break; }
    memory.fill(lens + i, val, rep);
    i += rep;
  }
  s.bitbuf = bitbuf;
  s.bitsleft = bitsleft;
  s.inNext = inNext;
  if (err == ST_NEED_INPUT) return starved(s);
  if (err != 0) return err;
  if (load<u8>(lens + 256) == 0) return E_MISSING_EOB;
  r = buildTable(s.dynLit, lens, nlit, LITLEN_TABLEBITS, KIND_LITLEN, LITLEN_ENOUGH);
  if (r != BUILD_OK) return r;
  r = buildTable(s.dynDist, lens + nlit, ndist, DIST_TABLEBITS, KIND_DIST, DIST_ENOUGH);
  if (r != BUILD_OK) return r;
  s.lit = s.dynLit;
  s.dist = s.dynDist;
  s.phase = P_HUFF;
  return ST_END;
}

// ---------------------------------------------------------------------------------------------
// Stored block body: bytes still in the bit buffer first, then straight from the input.

function storedBody(s: State): i32 {
  while (s.storedLeft > 0 && s.bitsleft >= 8) {
    if (s.outNext >= s.outEnd) return ST_OUTPUT_FULL;
    store<u8>(s.outNext, <u8>takeBits(s, 8));
    s.outNext++;
    s.storedLeft--;
  }
  if (s.bitsleft == 0) s.bitbuf = 0; // the input pointer moves below without the buffer: drop stale bits
  while (s.storedLeft > 0) {
    let n = <usize>s.storedLeft;
    const inAvail = s.inEnd - s.inNext;
    const outAvail = s.outEnd - s.outNext;
    if (inAvail < n) n = inAvail;
    if (outAvail < n) n = outAvail;
    if (n == 0) {
      if (outAvail == 0) return ST_OUTPUT_FULL;
      return s.final ? E_TRUNCATED : ST_NEED_INPUT;
    }
    memory.copy(s.outNext, s.inNext, n);
    s.outNext += n;
    s.inNext += n;
    s.storedLeft -= <u32>n;
  }
  s.phase = P_BLOCK;
  return ST_END;
}

// ---------------------------------------------------------------------------------------------
// Huffman block body.

/**
 * The fast loop. Returns 1 at the end of the block, 0 when its room conditions no longer hold
 * (the slow loop continues), or an error.
 *
 * Each iteration starts with >= 56 bits buffered and the litlen entry for them already looked up,
 * and ends with exactly one refill (the loop condition proves its 8-byte load in bounds) after
 * which the next entry is looked up before the match is copied, so the copy overlaps the lookup.
 * Bit budget: three literals (<= 45 bits) leave >= 11 for the next lookup; a length (<= 20) plus
 * a distance (<= 28) fit in 56, and the refill comes before the next lookup.
 */
function fastHuffman(s: State): i32 {
  let bitbuf = s.bitbuf;
  let bitsleft = s.bitsleft;
  let inNext = s.inNext;
  const inEnd = s.inEnd;
  let outNext = s.outNext;
  const outEnd = s.outEnd;
  const hist = s.hist;
  const lit = s.lit;
  const dist = s.dist;
  let r: i32 = 0;
  if (inEnd - inNext < 8 || outEnd - outNext < FAST_OUT_ROOM) return 0;
  bitbuf |= load<u64>(inNext) << <u64>bitsleft;
  inNext += (63 - bitsleft) >> 3;
  bitsleft |= 56;
  let entry = load<u32>(lit + ((<usize>(<u32>bitbuf & LITLEN_MASK)) << 2));
  while (inEnd - inNext >= 8 && outEnd - outNext >= FAST_OUT_ROOM) {
    if (<i32>entry < 0) {
      // Up to three literals, then refill.
      bitbuf >>= <u64>(entry & 0xFF);
      bitsleft -= entry & 0xFF;
      let litByte = <u8>(entry >> 16);
      entry = load<u32>(lit + ((<usize>(<u32>bitbuf & LITLEN_MASK)) << 2));
      store<u8>(outNext, litByte);
      outNext++;
      if (<i32>entry < 0) {
        bitbuf >>= <u64>(entry & 0xFF);
        bitsleft -= entry & 0xFF;
        litByte = <u8>(entry >> 16);
        entry = load<u32>(lit + ((<usize>(<u32>bitbuf & LITLEN_MASK)) << 2));
        store<u8>(outNext, litByte);
        outNext++;
        if (<i32>entry < 0) {
          bitbuf >>= <u64>(entry & 0xFF);
          bitsleft -= entry & 0xFF;
          litByte = <u8>(entry >> 16);
          entry = load<u32>(lit + ((<usize>(<u32>bitbuf & LITLEN_MASK)) << 2));
          store<u8>(outNext, litByte);
          outNext++;
        }
      }
      bitbuf |= load<u64>(inNext) << <u64>bitsleft;
      inNext += (63 - bitsleft) >> 3;
      bitsleft |= 56;
      continue;
    }
    if (entry & E_EXCEPTIONAL) {
      if (entry & E_SUBTABLE) {
        bitbuf >>= <u64>LITLEN_TABLEBITS;
        bitsleft -= LITLEN_TABLEBITS;
        entry = load<u32>(lit + ((<usize>((entry >> 16) + (<u32>bitbuf & ((<u32>1 << ((entry >> 8) & 0xF)) - 1)))) << 2));
        if (<i32>entry < 0) { // a literal with a long codeword (<= 15 bits in all)
          bitbuf >>= <u64>(entry & 0xFF);
          bitsleft -= entry & 0xFF;
          store<u8>(outNext, <u8>(entry >> 16));
          outNext++;
          bitbuf |= load<u64>(inNext) << <u64>bitsleft;
          inNext += (63 - bitsleft) >> 3;
          bitsleft |= 56;
          entry = load<u32>(lit + ((<usize>(<u32>bitbuf & LITLEN_MASK)) << 2));
          continue;
        }
      }
      if (entry & E_EXCEPTIONAL) {
        if (entry & E_EOB) {
          bitbuf >>= <u64>(entry & 0xFF);
          bitsleft -= entry & 0xFF;
          r = 1;
        } else {
          r = E_BAD_LITLEN;
        }
        break;
      }
    }
    // A match: length, then distance.
    let saved = bitbuf;
    let total = entry & 0xFF;
    bitbuf >>= <u64>total;
    bitsleft -= total;
    const length = <usize>((entry >> 16) + ((<u32>saved & ((<u32>1 << total) - 1)) >> ((entry >> 8) & 0xF)));

    entry = load<u32>(dist + ((<usize>(<u32>bitbuf & DIST_MASK)) << 2));
    if (entry & E_EXCEPTIONAL) {
      if (!(entry & E_SUBTABLE)) { r = E_BAD_DISTANCE; break; }
      bitbuf >>= <u64>DIST_TABLEBITS;
      bitsleft -= DIST_TABLEBITS;
      entry = load<u32>(dist + ((<usize>((entry >> 16) + (<u32>bitbuf & ((<u32>1 << ((entry >> 8) & 0xF)) - 1)))) << 2));
      if (entry & E_EXCEPTIONAL) { r = E_BAD_DISTANCE; break; }
    }
    saved = bitbuf;
    total = entry & 0xFF;
    bitbuf >>= <u64>total;
    bitsleft -= total;
    const distance = <usize>((entry >> 16) + ((<u32>saved & ((<u32>1 << total) - 1)) >> ((entry >> 8) & 0xF)));
    if (distance > outNext - hist) { r = E_DISTANCE_TOO_FAR; break; }

    // Refill and look up the next symbol before copying.
    bitbuf |= load<u64>(inNext) << <u64>bitsleft;
    inNext += (63 - bitsleft) >> 3;
    bitsleft |= 56;
    entry = load<u32>(lit + ((<usize>(<u32>bitbuf & LITLEN_MASK)) << 2));

    let src = outNext - distance;
    let dst = outNext;
    outNext += length;
    if (distance >= 8) {
      // Five words unconditionally (most matches are short), then two per step. Each word read
      // lies before the write position, so overlapping matches replicate correctly.
      store<u64>(dst, load<u64>(src));
      store<u64>(dst + 8, load<u64>(src + 8));
      store<u64>(dst + 16, load<u64>(src + 16));
      store<u64>(dst + 24, load<u64>(src + 24));
      store<u64>(dst + 32, load<u64>(src + 32));
      src += 40;
      dst += 40;
      while (dst < outNext) {
        store<u64>(dst, load<u64>(src));
        store<u64>(dst + 8, load<u64>(src + 8));
        src += 16;
        dst += 16;
      }
    } else if (distance == 1) {
      const v = <u64>load<u8>(src) * 0x0101010101010101;
      store<u64>(dst, v);
      store<u64>(dst + 8, v);
      store<u64>(dst + 16, v);
      store<u64>(dst + 24, v);
      dst += 32;
      while (dst < outNext) {
        store<u64>(dst, v);
        store<u64>(dst + 8, v);
        dst += 16;
      }
    } else {
      // Short distance: each 8-byte store leaves `distance` correct bytes; advance by that much.
      do {
        store<u64>(dst, load<u64>(src));
        src += distance;
        dst += distance;
      } while (dst < outNext);
    }
  }
  s.bitbuf = bitbuf;
  s.bitsleft = bitsleft;
  s.inNext = inNext;
  s.outNext = outNext;
  return r;
}

/**
 * The slow loop: one symbol at a time, fully peeked before any bit is consumed, so it can stop at
 * any symbol boundary. Returns 1 at the end of the block, ST_NEED_INPUT / ST_OUTPUT_FULL, or an
 * error. One-shot decoding that runs out of output room fills the buffer exactly (a match is cut)
 * and reports ST_OUTPUT_FULL.
 */
function slowHuffman(s: State): i32 {
  let bitbuf = s.bitbuf;
  let bitsleft = s.bitsleft;
  let inNext = s.inNext;
  const inEnd = s.inEnd;
  let outNext = s.outNext;
  const outEnd = s.outEnd;
  const hist = s.hist;
  const lit = s.lit;
  const dist = s.dist;
  let r: i32 = 0;
  while (true) {
    while (bitsleft < 56 && inNext < inEnd) { // stays <= 63: the fast refill needs that
      bitbuf |= <u64>load<u8>(inNext) << <u64>bitsleft;
      inNext++;
      bitsleft += 8;
    }
    let entry = load<u32>(lit + ((<usize>(<u32>bitbuf & LITLEN_MASK)) << 2));
    let n = entry & 0xFF;
    let clen = (entry >> 8) & 0xF;
    if ((entry & (E_EXCEPTIONAL | E_SUBTABLE)) == (E_EXCEPTIONAL | E_SUBTABLE)) {
      entry = load<u32>(lit + ((<usize>((entry >> 16) + (<u32>(bitbuf >> <u64>LITLEN_TABLEBITS) & ((<u32>1 << ((entry >> 8) & 0xF)) - 1)))) << 2));
      n = LITLEN_TABLEBITS + (entry & 0xFF);
      clen = LITLEN_TABLEBITS + ((entry >> 8) & 0xF);
    }
    if (n > bitsleft) { r = ST_NEED_INPUT; break; }
    if (<i32>entry < 0) {
      if (outNext >= outEnd) { r = ST_OUTPUT_FULL; break; }
      store<u8>(outNext, <u8>(entry >> 16));
      outNext++;
      bitbuf >>= <u64>n;
      bitsleft -= n;
      continue;
    }
    if (entry & E_EXCEPTIONAL) {
      if (entry & E_EOB) {
        bitbuf >>= <u64>n;
        bitsleft -= n;
        r = 1;
      } else {
        r = E_BAD_LITLEN;
      }
      break;
    }
    const length = (entry >> 16) + ((<u32>bitbuf & ((<u32>1 << n) - 1)) >> clen);
    const dbits = bitbuf >> <u64>n;
    let dentry = load<u32>(dist + ((<usize>(<u32>dbits & DIST_MASK)) << 2));
    let dn = dentry & 0xFF;
    let dclen = (dentry >> 8) & 0xF;
    if ((dentry & (E_EXCEPTIONAL | E_SUBTABLE)) == (E_EXCEPTIONAL | E_SUBTABLE)) {
      dentry = load<u32>(dist + ((<usize>((dentry >> 16) + (<u32>(dbits >> <u64>DIST_TABLEBITS) & ((<u32>1 << ((dentry >> 8) & 0xF)) - 1)))) << 2));
      dn = DIST_TABLEBITS + (dentry & 0xFF);
      dclen = DIST_TABLEBITS + ((dentry >> 8) & 0xF);
    }
    if (n + dn > bitsleft) { r = ST_NEED_INPUT; break; }
    if (dentry & E_EXCEPTIONAL) { r = E_BAD_DISTANCE; break; }
    const distance = <usize>((dentry >> 16) + ((<u32>dbits & ((<u32>1 << dn) - 1)) >> dclen));
    if (distance > outNext - hist) { r = E_DISTANCE_TOO_FAR; break; }
    let len = <usize>length;
    if (outEnd - outNext < len) {
      if (s.flags & F_STREAMING) { r = ST_OUTPUT_FULL; break; } // retried after the host drains
      len = outEnd - outNext;
      r = ST_OUTPUT_FULL;
    }
    bitbuf >>= <u64>(n + dn);
    bitsleft -= n + dn;
    const src = outNext - distance;
    for (let k: usize = 0; k < len; k++) store<u8>(outNext + k, load<u8>(src + k));
    outNext += len;
    if (r != 0) break;
  }
  s.bitbuf = bitbuf;
  s.bitsleft = bitsleft;
  s.inNext = inNext;
  s.outNext = outNext;
  if (r == ST_NEED_INPUT && s.final) return E_TRUNCATED;
  return r;
}

// ---------------------------------------------------------------------------------------------
// Members and the driver.

export function updateCrc(s: State): void {
  if (s.flags & F_CHECK_CRC && s.outNext > s.crcPos) s.crc = crc32_update(s.crc, s.crcPos, s.outNext - s.crcPos);
  s.crcPos = s.outNext;
}

/** Output offset in the stream of the next byte to be written. */
// @ts-ignore: decorator
@inline function outPos(s: State): f64 {
  return s.outBase64 + <f64>(s.outNext - s.outBuf);
}

/** Starts a member (gzip) or the deflate stream (raw) at the current position. */
export function beginMember(s: State): void {
  s.memberInStart = streamPos(s);
  s.memberOutStart = outPos(s);
  s.hist = s.outNext;
  s.crc = 0;
  s.crcPos = s.outNext;
  s.hdrStep = 0;
  s.phase = s.flags & F_GZIP ? P_GZ_HEADER : P_BLOCK;
}

function trailer(s: State): i32 {
  snapshot(s);
  alignToByte(s);
  if (!ensureBits(s, 32)) return starved(s);
  const crc = takeBits(s, 16) | (takeBits(s, 16) << 16);
  if (!ensureBits(s, 32)) return starved(s);
  const isize = takeBits(s, 16) | (takeBits(s, 16) << 16);
  updateCrc(s);
  s.memberCrc = s.crc;
  if (s.flags & F_CHECK_CRC && crc != s.crc) {
    rollback(s);
    return E_CRC;
  }
  const produced = outPos(s) - s.memberOutStart;
  if (isize != <u32>(<u64>produced & 0xFFFFFFFF)) {
    rollback(s);
    return E_ISIZE;
  }
  return ST_END;
}

/** Streaming: positions the state at the start of a stream (before the first member). */
export function startStream(s: State): void {
  s.status = 0;
  s.members = 0;
  s.lastBlock = 0;
  if (s.flags & F_GZIP) s.phase = P_BETWEEN;
  else beginMember(s);
}

/**
 * Runs the state machine until it needs the host: end (of member in one-shot mode), member end
 * (streaming), input needed, output full, or an error (sticky: the state stays failed).
 */
export function run(s: State): i32 {
  while (true) {
    const phase = s.phase;
    let r: i32 = 0;
    if (phase == P_HUFF) {
      r = fastHuffman(s);
      if (r == 0) r = slowHuffman(s);
      if (r == 1) {
        if (s.lastBlock) {
          s.phase = s.flags & F_GZIP ? P_TRAILER : P_DONE;
          if (!(s.flags & F_GZIP)) alignToByte(s);
        } else {
          s.phase = P_BLOCK;
        }
        continue;
      }
    } else if (phase == P_BLOCK) {
      r = blockHeader(s);
      if (r == ST_END) continue;
    } else if (phase == P_STORED) {
      r = storedBody(s);
      if (r == ST_END) {
        if (s.lastBlock) {
          s.phase = s.flags & F_GZIP ? P_TRAILER : P_DONE;
        }
        continue;
      }
    } else if (phase == P_GZ_HEADER) {
      r = gzipHeader(s);
      if (r == ST_END) {
        s.phase = P_BLOCK;
        continue;
      }
    } else if (phase == P_TRAILER) {
      r = trailer(s);
      if (r == ST_END) {
        s.memberInEnd = streamPos(s);
        s.memberOutEnd = outPos(s);
        s.members++;
        s.phase = s.flags & F_STREAMING ? P_BETWEEN : P_DONE;
        return s.flags & F_STREAMING ? ST_MEMBER_END : ST_END;
      }
    } else if (phase == P_BETWEEN) {
      if (s.bitsleft == 0 && s.inNext >= s.inEnd) {
        if (!s.final) return ST_NEED_INPUT;
        s.phase = P_DONE;
        return ST_END;
      }
      beginMember(s);
      continue;
    } else if (phase == P_DONE) {
      if (!(s.flags & F_GZIP)) {
        s.memberInEnd = streamPos(s);
        s.memberOutEnd = outPos(s);
        updateCrc(s);
        s.memberCrc = s.crc;
      }
      return ST_END;
    } else {
      return s.status; // P_FAILED: the error stays
    }
    if (r < 0) {
      s.errPos = streamPos(s);
      s.status = r;
      s.phase = P_FAILED;
    }
    return r;
  }
}
