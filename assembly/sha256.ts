// SHA-256 (FIPS 180-4). One lane: incremental init/update/final on a caller-owned state block,
// and a one-shot digest. Four lanes (Wasm SIMD, one message per i32x4 lane): sha256_xn hashes
// any number of messages of any lengths, four at a time.
// No allocation: schedules and lane bookkeeping live in static memory (the core is
// single-threaded), incremental state in the caller's block.

export const SHA256_BLOCK: usize = 64;

/** Round constants K[0..63]. */
const SHA256_K: usize = memory.data<u32>([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
], 64);

/** Initial hash value H(0). */
const SHA256_IV: usize = memory.data<u32>([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
], 16);

/** The message schedule W[0..63] of the block being compressed (K[i] is added in before the
 *  rounds, so each round loads one word), followed by a copy of K. */
const W: usize = memory.data(128 * 4, 64);
memory.copy(W + 256, SHA256_K, 256);

// State block layout (SHA256_STATE_SIZE bytes, caller-owned):
const ST_H: usize = 0; //      8 × u32, the chaining value
const ST_LEN: usize = 32; //   u64, message bytes so far
const ST_NBUF: usize = 40; //  u32, bytes waiting in ST_BUF (< 64)
const ST_BUF: usize = 48; //   128 bytes: a partial block, and room for two padding blocks at the end
export const SHA256_STATE_SIZE: usize = 176;

/** Bytes a caller allocates for a state block. */
export function sha256_state_size(): usize {
  return SHA256_STATE_SIZE;
}

// @ts-ignore: decorator
@inline function bigSigma0(x: u32): u32 { return rotr<u32>(x, 2) ^ rotr<u32>(x, 13) ^ rotr<u32>(x, 22); }
// @ts-ignore: decorator
@inline function bigSigma1(x: u32): u32 { return rotr<u32>(x, 6) ^ rotr<u32>(x, 11) ^ rotr<u32>(x, 25); }
// @ts-ignore: decorator
@inline function smallSigma0(x: u32): u32 { return rotr<u32>(x, 7) ^ rotr<u32>(x, 18) ^ (x >>> 3); }
// @ts-ignore: decorator
@inline function smallSigma1(x: u32): u32 { return rotr<u32>(x, 17) ^ rotr<u32>(x, 19) ^ (x >>> 10); }

/** Byte-swaps each 32-bit lane. */
// @ts-ignore: decorator
@inline function bswap4(v: v128): v128 {
  return i8x16.shuffle(v, v, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
}

/**
 * Compresses `n` whole blocks at `p` into the chaining value at `h` (8 × u32, native order).
 * The eight working variables keep their names and trade roles from round to round (eight
 * rounds per loop turn), so no round moves values around. Maj(a,b,c) is b ^ ((a^b) & (b^c)),
 * and a^b of one round is b^c of the next. V8 spills under this register pressure; the
 * variants measured slower (classic Maj, separate K loads) are not worth their readability.
 */
export function sha256_compress(h: usize, p: usize, n: usize): void {
  let a = load<u32>(h, 0), b = load<u32>(h, 4), c = load<u32>(h, 8), d = load<u32>(h, 12);
  let e = load<u32>(h, 16), f = load<u32>(h, 20), g = load<u32>(h, 24), k = load<u32>(h, 28);
  while (n != 0) {
    // W[0..15]: the block, big-endian.
    // Wasm has no bswap instruction (asc expands it into five), one shuffle swaps four words.
    v128.store(W, bswap4(v128.load(p, 0)), 0);
    v128.store(W, bswap4(v128.load(p, 16)), 16);
    v128.store(W, bswap4(v128.load(p, 32)), 32);
    v128.store(W, bswap4(v128.load(p, 48)), 48);
    // W[16..63]; q points at W[i-16].
    for (let q = W; q < W + 48 * 4; q += 8) {
      store<u32>(q, load<u32>(q, 0) + smallSigma0(load<u32>(q, 4)) + load<u32>(q, 36) + smallSigma1(load<u32>(q, 56)), 64);
      store<u32>(q, load<u32>(q, 4) + smallSigma0(load<u32>(q, 8)) + load<u32>(q, 40) + smallSigma1(load<u32>(q, 60)), 68);
    }
    // W[i] += K[i], four at a time, so each round loads one word.
    for (let q = W; q < W + 256; q += 64) {
      v128.store(q, i32x4.add(v128.load(q, 0), v128.load(q, 256)), 0);
      v128.store(q, i32x4.add(v128.load(q, 16), v128.load(q, 272)), 16);
      v128.store(q, i32x4.add(v128.load(q, 32), v128.load(q, 288)), 32);
      v128.store(q, i32x4.add(v128.load(q, 48), v128.load(q, 304)), 48);
    }
    const a0 = a, b0 = b, c0 = c, d0 = d, e0 = e, f0 = f, g0 = g, h0 = k;
    let bc = b ^ c;
    let ab: u32;
    for (let i: usize = 0; i < 64 * 4; i += 32) {
      const w = W + i;
      // (a b c d e f g h)
      k += bigSigma1(e) + (g ^ (e & (f ^ g))) + load<u32>(w, 0);
      d += k; ab = a ^ b; k += bigSigma0(a) + (b ^ (ab & bc)); bc = ab;
      // (h a b c d e f g)
      g += bigSigma1(d) + (f ^ (d & (e ^ f))) + load<u32>(w, 4);
      c += g; ab = k ^ a; g += bigSigma0(k) + (a ^ (ab & bc)); bc = ab;
      // (g h a b c d e f)
      f += bigSigma1(c) + (e ^ (c & (d ^ e))) + load<u32>(w, 8);
      b += f; ab = g ^ k; f += bigSigma0(g) + (k ^ (ab & bc)); bc = ab;
      // (f g h a b c d e)
      e += bigSigma1(b) + (d ^ (b & (c ^ d))) + load<u32>(w, 12);
      a += e; ab = f ^ g; e += bigSigma0(f) + (g ^ (ab & bc)); bc = ab;
      // (e f g h a b c d)
      d += bigSigma1(a) + (c ^ (a & (b ^ c))) + load<u32>(w, 16);
      k += d; ab = e ^ f; d += bigSigma0(e) + (f ^ (ab & bc)); bc = ab;
      // (d e f g h a b c)
      c += bigSigma1(k) + (b ^ (k & (a ^ b))) + load<u32>(w, 20);
      g += c; ab = d ^ e; c += bigSigma0(d) + (e ^ (ab & bc)); bc = ab;
      // (c d e f g h a b)
      b += bigSigma1(g) + (a ^ (g & (k ^ a))) + load<u32>(w, 24);
      f += b; ab = c ^ d; b += bigSigma0(c) + (d ^ (ab & bc)); bc = ab;
      // (b c d e f g h a)
      a += bigSigma1(f) + (k ^ (f & (g ^ k))) + load<u32>(w, 28);
      e += a; ab = b ^ c; a += bigSigma0(b) + (c ^ (ab & bc)); bc = ab;
    }
    a += a0; b += b0; c += c0; d += d0; e += e0; f += f0; g += g0; k += h0;
    p += 64;
    n--;
  }
  store<u32>(h, a, 0); store<u32>(h, b, 4); store<u32>(h, c, 8); store<u32>(h, d, 12);
  store<u32>(h, e, 16); store<u32>(h, f, 20); store<u32>(h, g, 24); store<u32>(h, k, 28);
}

/**
 * Writes the padding of a message of `total` bytes whose last `rem` (< 64) bytes are already at
 * `buf`: 0x80, zeros, the bit length big-endian. `buf` has room for 128 bytes. Returns the
 * number of blocks (1 or 2) to compress from `buf`.
 */
export function sha256_pad(buf: usize, rem: usize, total: u64): usize {
  const blocks: usize = rem + 9 <= 64 ? 1 : 2;
  const end = buf + (blocks << 6);
  store<u8>(buf + rem, 0x80);
  memory.fill(buf + rem + 1, 0, end - 8 - (buf + rem + 1));
  store<u64>(end - 8, bswap<u64>(total << 3));
  return blocks;
}

/** Writes the chaining value at `h` as the 32-byte big-endian digest at `out`. */
export function sha256_store_digest(h: usize, out: usize): void {
  for (let i: usize = 0; i < 32; i += 4) store<u32>(out + i, bswap<u32>(load<u32>(h + i)));
}

/** Starts a new message in the state block at `state` (SHA256_STATE_SIZE bytes). */
export function sha256_init(state: usize): void {
  memory.copy(state + ST_H, SHA256_IV, 32);
  store<u64>(state + ST_LEN, 0);
  store<u32>(state + ST_NBUF, 0);
}

/** Adds `len` bytes at `ptr` to the message. */
export function sha256_update(state: usize, ptr: usize, len: usize): void {
  if (len == 0) return;
  store<u64>(state + ST_LEN, load<u64>(state + ST_LEN) + <u64>len);
  let nbuf = <usize>load<u32>(state + ST_NBUF);
  const buf = state + ST_BUF;
  if (nbuf != 0) {
    const take = min(SHA256_BLOCK - nbuf, len);
    memory.copy(buf + nbuf, ptr, take);
    nbuf += take;
    ptr += take;
    len -= take;
    if (nbuf < SHA256_BLOCK) {
      store<u32>(state + ST_NBUF, <u32>nbuf);
      return;
    }
    sha256_compress(state + ST_H, buf, 1);
  }
  const blocks = len >> 6;
  if (blocks != 0) {
    sha256_compress(state + ST_H, ptr, blocks);
    ptr += blocks << 6;
    len &= 63;
  }
  if (len != 0) memory.copy(buf, ptr, len);
  store<u32>(state + ST_NBUF, <u32>len);
}

/** Finishes the message and writes its 32-byte digest at `out`. Call `sha256_init` before reuse. */
export function sha256_final(state: usize, out: usize): void {
  const buf = state + ST_BUF;
  const blocks = sha256_pad(buf, <usize>load<u32>(state + ST_NBUF), load<u64>(state + ST_LEN));
  sha256_compress(state + ST_H, buf, blocks);
  sha256_store_digest(state + ST_H, out);
}

/** A state block for the one-shot digest (the core is single-threaded). */
const ONE_SHOT: usize = memory.data(<i32>SHA256_STATE_SIZE, 16);

/** Writes the SHA-256 of `len` bytes at `ptr` to `out` (32 bytes). */
export function sha256_digest(ptr: usize, len: usize, out: usize): void {
  sha256_init(ONE_SHOT);
  const blocks = len >> 6;
  sha256_compress(ONE_SHOT + ST_H, ptr, blocks);
  const rem = len & 63;
  const buf = ONE_SHOT + ST_BUF;
  memory.copy(buf, ptr + (blocks << 6), rem);
  sha256_compress(ONE_SHOT + ST_H, buf, sha256_pad(buf, rem, <u64>len));
  sha256_store_digest(ONE_SHOT + ST_H, out);
}

// ---------------------------------------------------------------------------------------------
// Four lanes: one message per i32x4 lane. Lanes advance one block per step in lockstep; a lane
// whose message is done takes the next waiting message (so lanes stay busy whatever the
// lengths), an idle lane hashes a zero block whose result is ignored, and a message left
// alone in the last step finishes on the one-lane code, which is faster than 1/4 of SIMD.

/** Schedule of the four blocks being compressed: W4[i] (64 × v128) holds W[i] of each lane;
 *  K4[i] = splat(K[i]) follows at +1024 so one pointer addresses both. */
const W4: usize = memory.data(128 * 16, 64);
for (let i: usize = 0; i < 64; i++) v128.store(W4 + 1024 + (i << 4), i32x4.splat(load<u32>(SHA256_K + (i << 2))));

/** Chaining values of the four lanes: lane l of S4[j] is H[j] of lane l's message. */
const S4: usize = memory.data(8 * 16, 16);

// Per-lane bookkeeping, LANE_SIZE bytes each.
const LANE_MSG: usize = 0; //     u32, the message
const LANE_FULL: usize = 4; //    u32, whole blocks in the message
const LANE_BLOCKS: usize = 8; //  u32, blocks to compress (whole + 1 or 2 padding); 0 = idle
const LANE_NEXT: usize = 12; //   u32, blocks compressed so far
const LANE_OUT: usize = 16; //    u32, where the digest goes
const LANE_TAIL: usize = 32; //   128 bytes: the message's last partial block, padded
const LANE_SIZE: usize = 160;
const LANES: usize = memory.data(4 * <i32>LANE_SIZE, 16);

/** What an idle lane hashes. */
const ZERO_BLOCK: usize = memory.data(64, 16);
/** Chaining value of a message finishing on the one-lane code. */
const LONE_H: usize = memory.data(32, 16);

// @ts-ignore: decorator
@inline function rotr4(x: v128, n: i32): v128 {
  return v128.or(i32x4.shr_u(x, n), i32x4.shl(x, 32 - n));
}
// @ts-ignore: decorator
@inline function bigSigma0x4(x: v128): v128 { return v128.xor(v128.xor(rotr4(x, 2), rotr4(x, 13)), rotr4(x, 22)); }
// @ts-ignore: decorator
@inline function bigSigma1x4(x: v128): v128 { return v128.xor(v128.xor(rotr4(x, 6), rotr4(x, 11)), rotr4(x, 25)); }
// @ts-ignore: decorator
@inline function smallSigma0x4(x: v128): v128 { return v128.xor(v128.xor(rotr4(x, 7), rotr4(x, 18)), i32x4.shr_u(x, 3)); }
// @ts-ignore: decorator
@inline function smallSigma1x4(x: v128): v128 { return v128.xor(v128.xor(rotr4(x, 17), rotr4(x, 19)), i32x4.shr_u(x, 10)); }
// @ts-ignore: decorator
@inline function add4(a: v128, b: v128): v128 { return i32x4.add(a, b); }
/** Ch(e,f,g) = g ^ (e & (f ^ g)). */
// @ts-ignore: decorator
@inline function ch4(e: v128, f: v128, g: v128): v128 { return v128.bitselect(f, g, e); }

/**
 * W4[4k..4k+3] from bytes 16k..16k+15 of the four blocks: byte-swap each word and transpose the
 * 4×4 word matrix (lane l of W4[4k+j] = word 4k+j of block l).
 */
// @ts-ignore: decorator
@inline function loadWords4(p0: usize, p1: usize, p2: usize, p3: usize, k: usize): void {
  const q0 = v128.load(p0 + k), q1 = v128.load(p1 + k), q2 = v128.load(p2 + k), q3 = v128.load(p3 + k);
  // [q0.w0 q1.w0 q0.w1 q1.w1] and [q0.w2 q1.w2 q0.w3 q1.w3], byte-swapped; same for q2, q3.
  const t0 = i8x16.shuffle(q0, q1, 3, 2, 1, 0, 19, 18, 17, 16, 7, 6, 5, 4, 23, 22, 21, 20);
  const t1 = i8x16.shuffle(q0, q1, 11, 10, 9, 8, 27, 26, 25, 24, 15, 14, 13, 12, 31, 30, 29, 28);
  const t2 = i8x16.shuffle(q2, q3, 3, 2, 1, 0, 19, 18, 17, 16, 7, 6, 5, 4, 23, 22, 21, 20);
  const t3 = i8x16.shuffle(q2, q3, 11, 10, 9, 8, 27, 26, 25, 24, 15, 14, 13, 12, 31, 30, 29, 28);
  const w = W4 + (k << 2);
  v128.store(w, i64x2.shuffle(t0, t2, 0, 2), 0);
  v128.store(w, i64x2.shuffle(t0, t2, 1, 3), 16);
  v128.store(w, i64x2.shuffle(t1, t3, 0, 2), 32);
  v128.store(w, i64x2.shuffle(t1, t3, 1, 3), 48);
}

/** Compresses one block per lane (block l at pl) into S4; same round structure as the one-lane code. */
function compress4(p0: usize, p1: usize, p2: usize, p3: usize): void {
  loadWords4(p0, p1, p2, p3, 0);
  loadWords4(p0, p1, p2, p3, 16);
  loadWords4(p0, p1, p2, p3, 32);
  loadWords4(p0, p1, p2, p3, 48);
  for (let q = W4; q < W4 + 48 * 16; q += 32) {
    v128.store(q, add4(add4(v128.load(q, 0), smallSigma0x4(v128.load(q, 16))),
      add4(v128.load(q, 144), smallSigma1x4(v128.load(q, 224)))), 256);
    v128.store(q, add4(add4(v128.load(q, 16), smallSigma0x4(v128.load(q, 32))),
      add4(v128.load(q, 160), smallSigma1x4(v128.load(q, 240)))), 272);
  }
  let a = v128.load(S4, 0), b = v128.load(S4, 16), c = v128.load(S4, 32), d = v128.load(S4, 48);
  let e = v128.load(S4, 64), f = v128.load(S4, 80), g = v128.load(S4, 96), k = v128.load(S4, 112);
  let bc = v128.xor(b, c);
  let ab: v128;
  for (let w = W4; w < W4 + 64 * 16; w += 128) {
    // (a b c d e f g h)
    k = add4(add4(k, bigSigma1x4(e)), add4(ch4(e, f, g), add4(v128.load(w, 0), v128.load(w, 1024))));
    d = add4(d, k); ab = v128.xor(a, b); k = add4(k, add4(bigSigma0x4(a), v128.xor(b, v128.and(ab, bc)))); bc = ab;
    // (h a b c d e f g)
    g = add4(add4(g, bigSigma1x4(d)), add4(ch4(d, e, f), add4(v128.load(w, 16), v128.load(w, 1040))));
    c = add4(c, g); ab = v128.xor(k, a); g = add4(g, add4(bigSigma0x4(k), v128.xor(a, v128.and(ab, bc)))); bc = ab;
    // (g h a b c d e f)
    f = add4(add4(f, bigSigma1x4(c)), add4(ch4(c, d, e), add4(v128.load(w, 32), v128.load(w, 1056))));
    b = add4(b, f); ab = v128.xor(g, k); f = add4(f, add4(bigSigma0x4(g), v128.xor(k, v128.and(ab, bc)))); bc = ab;
    // (f g h a b c d e)
    e = add4(add4(e, bigSigma1x4(b)), add4(ch4(b, c, d), add4(v128.load(w, 48), v128.load(w, 1072))));
    a = add4(a, e); ab = v128.xor(f, g); e = add4(e, add4(bigSigma0x4(f), v128.xor(g, v128.and(ab, bc)))); bc = ab;
    // (e f g h a b c d)
    d = add4(add4(d, bigSigma1x4(a)), add4(ch4(a, b, c), add4(v128.load(w, 64), v128.load(w, 1088))));
    k = add4(k, d); ab = v128.xor(e, f); d = add4(d, add4(bigSigma0x4(e), v128.xor(f, v128.and(ab, bc)))); bc = ab;
    // (d e f g h a b c)
    c = add4(add4(c, bigSigma1x4(k)), add4(ch4(k, a, b), add4(v128.load(w, 80), v128.load(w, 1104))));
    g = add4(g, c); ab = v128.xor(d, e); c = add4(c, add4(bigSigma0x4(d), v128.xor(e, v128.and(ab, bc)))); bc = ab;
    // (c d e f g h a b)
    b = add4(add4(b, bigSigma1x4(g)), add4(ch4(g, k, a), add4(v128.load(w, 96), v128.load(w, 1120))));
    f = add4(f, b); ab = v128.xor(c, d); b = add4(b, add4(bigSigma0x4(c), v128.xor(d, v128.and(ab, bc)))); bc = ab;
    // (b c d e f g h a)
    a = add4(add4(a, bigSigma1x4(f)), add4(ch4(f, g, k), add4(v128.load(w, 112), v128.load(w, 1136))));
    e = add4(e, a); ab = v128.xor(b, c); a = add4(a, add4(bigSigma0x4(b), v128.xor(c, v128.and(ab, bc)))); bc = ab;
  }
  v128.store(S4, add4(v128.load(S4, 0), a), 0);
  v128.store(S4, add4(v128.load(S4, 16), b), 16);
  v128.store(S4, add4(v128.load(S4, 32), c), 32);
  v128.store(S4, add4(v128.load(S4, 48), d), 48);
  v128.store(S4, add4(v128.load(S4, 64), e), 64);
  v128.store(S4, add4(v128.load(S4, 80), f), 80);
  v128.store(S4, add4(v128.load(S4, 96), g), 96);
  v128.store(S4, add4(v128.load(S4, 112), k), 112);
}

/** Puts message `i` of the tables into lane `l`: IV into its chaining value, its tail padded. */
function laneStart(l: usize, ptrs: usize, lens: usize, outs: usize, i: usize): void {
  const lane = LANES + l * LANE_SIZE;
  const msg = <usize>load<u32>(ptrs + (i << 2));
  const len = <usize>load<u32>(lens + (i << 2));
  const full = len >> 6;
  const rem = len & 63;
  memory.copy(lane + LANE_TAIL, msg + (full << 6), rem);
  const blocks = full + sha256_pad(lane + LANE_TAIL, rem, <u64>len);
  store<u32>(lane + LANE_MSG, <u32>msg);
  store<u32>(lane + LANE_FULL, <u32>full);
  store<u32>(lane + LANE_BLOCKS, <u32>blocks);
  store<u32>(lane + LANE_NEXT, 0);
  store<u32>(lane + LANE_OUT, load<u32>(outs + (i << 2)));
  for (let j: usize = 0; j < 8; j++) store<u32>(S4 + (j << 4) + (l << 2), load<u32>(SHA256_IV + (j << 2)));
}

/** The block lane `l` compresses next. */
// @ts-ignore: decorator
@inline function laneBlock(l: usize): usize {
  const lane = LANES + l * LANE_SIZE;
  if (load<u32>(lane + LANE_BLOCKS) == 0) return ZERO_BLOCK;
  const next = <usize>load<u32>(lane + LANE_NEXT);
  const full = <usize>load<u32>(lane + LANE_FULL);
  return next < full ? <usize>load<u32>(lane + LANE_MSG) + (next << 6) : lane + LANE_TAIL + ((next - full) << 6);
}

/** Finishes lane `l`'s message on the one-lane code. */
function laneFinishAlone(l: usize): void {
  const lane = LANES + l * LANE_SIZE;
  for (let j: usize = 0; j < 8; j++) store<u32>(LONE_H + (j << 2), load<u32>(S4 + (j << 4) + (l << 2)));
  const next = <usize>load<u32>(lane + LANE_NEXT);
  const full = <usize>load<u32>(lane + LANE_FULL);
  const blocks = <usize>load<u32>(lane + LANE_BLOCKS);
  if (next < full) sha256_compress(LONE_H, <usize>load<u32>(lane + LANE_MSG) + (next << 6), full - next);
  const tailFrom = max(next, full);
  sha256_compress(LONE_H, lane + LANE_TAIL + ((tailFrom - full) << 6), blocks - tailFrom);
  sha256_store_digest(LONE_H, <usize>load<u32>(lane + LANE_OUT));
  store<u32>(lane + LANE_BLOCKS, 0);
}

/**
 * Hashes `n` messages, four at a time: message i is `lens[i]` bytes at `ptrs[i]`, its 32-byte
 * digest goes to `outs[i]` (ptrs, lens, outs: arrays of n u32). Any lengths, 0 included.
 */
export function sha256_xn(n: usize, ptrs: usize, lens: usize, outs: usize): void {
  let waiting: usize = 0;
  let active = 0;
  for (let l: usize = 0; l < 4; l++) {
    if (waiting < n) {
      laneStart(l, ptrs, lens, outs, waiting++);
      active++;
    } else {
      store<u32>(LANES + l * LANE_SIZE + LANE_BLOCKS, 0);
    }
  }
  while (active > 0) {
    if (active == 1 && waiting == n) {
      for (let l: usize = 0; l < 4; l++) {
        if (load<u32>(LANES + l * LANE_SIZE + LANE_BLOCKS) != 0) laneFinishAlone(l);
      }
      break;
    }
    compress4(laneBlock(0), laneBlock(1), laneBlock(2), laneBlock(3));
    for (let l: usize = 0; l < 4; l++) {
      const lane = LANES + l * LANE_SIZE;
      const blocks = load<u32>(lane + LANE_BLOCKS);
      if (blocks == 0) continue;
      const next = load<u32>(lane + LANE_NEXT) + 1;
      store<u32>(lane + LANE_NEXT, next);
      if (next < blocks) continue;
      const out = <usize>load<u32>(lane + LANE_OUT);
      for (let j: usize = 0; j < 8; j++) store<u32>(out + (j << 2), bswap<u32>(load<u32>(S4 + (j << 4) + (l << 2))));
      if (waiting < n) {
        laneStart(l, ptrs, lens, outs, waiting++);
      } else {
        store<u32>(lane + LANE_BLOCKS, 0);
        active--;
      }
    }
  }
}

/** Four messages at once: `sha256_xn(4, ptrs, lens, outs)`. */
export function sha256_x4(ptrs: usize, lens: usize, outs: usize): void {
  sha256_xn(4, ptrs, lens, outs);
}
