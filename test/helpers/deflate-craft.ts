// Hand-made DEFLATE bit streams for the inflate tests: a bit writer, canonical Huffman codes from
// code lengths, and a dynamic-block header writer, so tests can build exactly the malformed (or
// unusual but valid) inputs zlib never produces. Deliberately simple and independent of the core.
import { crc32 } from "node:zlib";

export class BitWriter {
  private bytes: number[] = [];
  private cur = 0;
  private n = 0;

  /** Writes `count` bits of `value`, least significant first (DEFLATE's order for non-code fields). */
  bits(value: number, count: number): this {
    for (let i = 0; i < count; i++) {
      this.cur |= ((value >>> i) & 1) << this.n;
      if (++this.n === 8) this.flushByte();
    }
    return this;
  }

  /** Writes a Huffman codeword: most significant bit first. */
  code(code: number, len: number): this {
    for (let i = len - 1; i >= 0; i--) this.bits((code >>> i) & 1, 1);
    return this;
  }

  /** Pads to a byte boundary with zero bits. */
  align(): this {
    if (this.n > 0) this.flushByte();
    return this;
  }

  byte(b: number): this {
    this.align();
    this.bytes.push(b & 0xff);
    return this;
  }

  finish(): Uint8Array {
    this.align();
    return Uint8Array.from(this.bytes);
  }

  private flushByte(): void {
    this.bytes.push(this.cur);
    this.cur = 0;
    this.n = 0;
  }
}

/** Canonical codewords (RFC 1951 §3.2.2) for the given code lengths; 0 = unused symbol. */
export function canonicalCodes(lens: number[]): number[] {
  const blCount = new Array(16).fill(0);
  for (const l of lens) if (l) blCount[l]++;
  const next = new Array(16).fill(0);
  let code = 0;
  for (let bits = 1; bits < 16; bits++) {
    code = (code + blCount[bits - 1]) << 1;
    next[bits] = code;
  }
  return lens.map((l) => (l ? next[l]++ : 0));
}

/** A Huffman code ready to write symbols with. */
export class Code {
  readonly codes: number[];
  constructor(readonly lens: number[]) {
    this.codes = canonicalCodes(lens);
  }
  put(w: BitWriter, sym: number): void {
    if (!this.lens[sym]) throw new Error(`symbol ${sym} has no codeword`);
    w.code(this.codes[sym], this.lens[sym]);
  }
}

const PRECODE_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
/** A complete precode: symbols 0..12 get 4 bits, 13..18 get 5 bits (13/16 + 6/32 = 1). */
export const DEFAULT_PRECODE_LENS = Array.from({ length: 19 }, (_, s) => (s <= 12 ? 4 : 5));

/** One element of the code-length sequence: a length 0..15, or a repeat symbol with its extra bits. */
export type LenItem = number | { sym: 16 | 17 | 18; extra: number };

/**
 * Writes a dynamic block header (BFINAL, BTYPE=2, HLIT, HDIST, HCLEN, precode, code lengths).
 * `items` is the run-length sequence; by default each length is written as itself. `hlit`/`hdist`
 * may be given explicitly to write values the lengths do not match (malformed headers).
 */
export function writeDynamicHeader(w: BitWriter, opts: {
  final?: boolean; litLens: number[]; distLens: number[]; items?: LenItem[]; hlit?: number; hdist?: number;
  precodeLens?: number[];
}): void {
  const pre = new Code(opts.precodeLens ?? DEFAULT_PRECODE_LENS);
  const items: LenItem[] = opts.items ?? [...opts.litLens, ...opts.distLens];
  w.bits(opts.final === false ? 0 : 1, 1).bits(2, 2);
  w.bits((opts.hlit ?? opts.litLens.length) - 257, 5);
  w.bits((opts.hdist ?? opts.distLens.length) - 1, 5);
  w.bits(19 - 4, 4);
  for (const s of PRECODE_ORDER) w.bits(pre.lens[s], 3);
  for (const it of items) {
    if (typeof it === "number") pre.put(w, it);
    else {
      pre.put(w, it.sym);
      w.bits(it.extra, it.sym === 16 ? 2 : it.sym === 17 ? 3 : 7);
    }
  }
}

/** A valid litlen code for crafted blocks: literals 9 bits, EOB 2 bits, lengths 257..264 5 bits. */
export function sampleLitLens(): number[] {
  const lens = new Array(265).fill(0);
  for (let s = 0; s < 256; s++) lens[s] = 9;
  lens[256] = 2;
  for (let s = 257; s <= 264; s++) lens[s] = 5;
  return lens;
}

/** The fixed code of block type 1. */
export const FIXED_LIT = new Code(Array.from({ length: 288 }, (_, s) => (s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8)));
export const FIXED_DIST = new Code(new Array(32).fill(5));

/** Wraps raw DEFLATE bytes in a gzip member (header flags optional) with the given trailer values. */
export function gzipWrap(deflated: Uint8Array, payload: Uint8Array, opts: {
  crc?: number; isize?: number; extra?: Uint8Array; name?: string; comment?: string; headerCrc?: boolean | number;
} = {}): Uint8Array {
  const h: number[] = [31, 139, 8, 0, 0, 0, 0, 0, 0, 255];
  let flg = 0;
  if (opts.extra) {
    flg |= 4;
    h.push(opts.extra.length & 0xff, opts.extra.length >>> 8, ...opts.extra);
  }
  if (opts.name !== undefined) {
    flg |= 8;
    h.push(...Buffer.from(opts.name, "latin1"), 0);
  }
  if (opts.comment !== undefined) {
    flg |= 16;
    h.push(...Buffer.from(opts.comment, "latin1"), 0);
  }
  if (opts.headerCrc !== undefined && opts.headerCrc !== false) flg |= 2;
  h[3] = flg;
  if (flg & 2) {
    const c = typeof opts.headerCrc === "number" ? opts.headerCrc : crc32(Uint8Array.from(h)) & 0xffff;
    h.push(c & 0xff, c >>> 8);
  }
  const crc = opts.crc ?? crc32(payload);
  const isize = opts.isize ?? payload.length;
  const t = Buffer.alloc(8);
  t.writeUInt32LE(crc >>> 0, 0);
  t.writeUInt32LE(isize >>> 0, 4);
  return Buffer.concat([Uint8Array.from(h), deflated, t]);
}
