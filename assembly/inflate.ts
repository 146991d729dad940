// DEFLATE / gzip inflation: the exports the host calls (see src/core/inflate.ts).
// The decoder itself is in inflate/decoder.ts, its tables in inflate/huffman.ts.
//
// One-shot: `inflate_new()` makes a reusable state (tables included), `inflate_oneshot` inflates a
// whole member from one region of memory into another. Streaming: `inflate_stream_new` makes a
// state with its own staged input (the host writes at `inPtr`, up to `inRoom` bytes) and output
// window (32 KiB of history + `outChunk` bytes), `inflate_stream_run` decodes what is staged.
// Results are read by the host from the state block at the INFLATE_OFF_* offsets.

import {
  State, STATE_BYTES, initState, run, beginMember, startStream, updateCrc, F_GZIP, F_CHECK_CRC, F_STREAMING,
  ST_NEED_INPUT, E_ARGUMENT,
} from "./inflate/decoder";

const WINDOW: usize = 32768;
const MIN_STAGED_INPUT: usize = 4096;

export const INFLATE_STATE_BYTES: usize = STATE_BYTES;
export const INFLATE_OFF_ERR_POS: usize = offsetof<State>("errPos");
export const INFLATE_OFF_MEMBER_IN_START: usize = offsetof<State>("memberInStart");
export const INFLATE_OFF_MEMBER_IN_END: usize = offsetof<State>("memberInEnd");
export const INFLATE_OFF_MEMBER_OUT_START: usize = offsetof<State>("memberOutStart");
export const INFLATE_OFF_MEMBER_OUT_END: usize = offsetof<State>("memberOutEnd");
export const INFLATE_OFF_OUT_PTR: usize = offsetof<State>("outPtr");
export const INFLATE_OFF_OUT_LEN: usize = offsetof<State>("outLen");
export const INFLATE_OFF_IN_USED: usize = offsetof<State>("inUsed");
export const INFLATE_OFF_IN_PTR: usize = offsetof<State>("inPtr");
export const INFLATE_OFF_IN_ROOM: usize = offsetof<State>("inRoom");
export const INFLATE_OFF_MEMBERS: usize = offsetof<State>("members");
export const INFLATE_OFF_MEMBER_CRC: usize = offsetof<State>("memberCrc");

/** Flags: bit 0 = gzip member(s) (else raw DEFLATE), bit 1 = check the gzip CRC-32. */
export const INFLATE_FLAG_GZIP: u32 = F_GZIP;
export const INFLATE_FLAG_CHECK_CRC: u32 = F_CHECK_CRC;

/** A one-shot decoder state (about 12 KiB with its tables), reusable for any number of calls. */
export function inflate_new(): usize {
  const p = heap.alloc(STATE_BYTES);
  initState(p);
  return p;
}

export function inflate_free(p: usize): void {
  if (p != 0) heap.free(p);
}

/**
 * Inflates one gzip member (or one raw DEFLATE stream) at [inPtr, inPtr+inLen) into
 * [outPtr, outPtr+outCap). Returns 0 when the member ended (trailer checked), 3 (output full) when
 * the buffer filled before the end (it then holds the first outCap bytes), or a negative error.
 * Written and consumed byte counts are at INFLATE_OFF_OUT_LEN / INFLATE_OFF_IN_USED.
 */
export function inflate_oneshot(p: usize, inPtr: usize, inLen: usize, outPtr: usize, outCap: usize, flags: u32): i32 {
  const s = changetype<State>(p);
  s.flags = flags & (F_GZIP | F_CHECK_CRC);
  s.bitbuf = 0;
  s.bitsleft = 0;
  s.final = 1;
  s.inBase = inPtr;
  s.inNext = inPtr;
  s.inEnd = inPtr + inLen;
  s.inBase64 = 0;
  s.outBuf = outPtr;
  s.outNext = outPtr;
  s.outEnd = outPtr + outCap;
  s.outBase64 = 0;
  s.status = 0;
  s.lastBlock = 0;
  beginMember(s);
  const r = run(s);
  s.outPtr = <u32>outPtr;
  s.outLen = <u32>(s.outNext - outPtr);
  s.inUsed = <u32>(s.inNext - inPtr - (s.bitsleft >> 3));
  return r;
}

/**
 * A streaming decoder over concatenated gzip members (or one raw DEFLATE stream), with `inCap`
 * bytes of staged input (at least 4 KiB) and a window of 32 KiB + `outChunk` bytes of output.
 */
export function inflate_stream_new(flags: u32, inCap: usize, outChunk: usize): usize {
  if (inCap < MIN_STAGED_INPUT) inCap = MIN_STAGED_INPUT;
  if (outChunk < MIN_STAGED_INPUT) outChunk = MIN_STAGED_INPUT;
  const p = heap.alloc(STATE_BYTES);
  const s = initState(p);
  s.flags = (flags & (F_GZIP | F_CHECK_CRC)) | F_STREAMING;
  s.inBase = heap.alloc(inCap);
  s.inCap = inCap;
  s.outChunk = outChunk;
  s.outBuf = heap.alloc(WINDOW + outChunk);
  s.outEnd = s.outBuf + WINDOW + outChunk;
  inflate_stream_reset(p);
  return p;
}

/** Forgets the current stream (input, output, members) so the state can decode another. */
export function inflate_stream_reset(p: usize): void {
  const s = changetype<State>(p);
  s.bitbuf = 0;
  s.bitsleft = 0;
  s.final = 0;
  s.inNext = s.inBase;
  s.inEnd = s.inBase;
  s.inBase64 = 0;
  s.outNext = s.outBuf;
  s.hist = s.outBuf;
  s.crcPos = s.outBuf;
  s.outBase64 = 0;
  s.errPos = 0;
  startStream(s);
  s.inPtr = <u32>s.inEnd;
  s.inRoom = <u32>s.inCap;
  s.outPtr = <u32>s.outNext;
  s.outLen = 0;
}

export function inflate_stream_free(p: usize): void {
  if (p == 0) return;
  const s = changetype<State>(p);
  heap.free(s.inBase);
  heap.free(s.outBuf);
  heap.free(p);
}

/** Keeps the last 32 KiB of the current member's output at the front of the window. */
function slide(s: State): void {
  let keep = s.outNext - s.hist;
  if (keep > WINDOW) keep = WINDOW;
  const from = s.outNext - keep;
  memory.copy(s.outBuf, from, keep);
  s.outBase64 += <f64>(from - s.outBuf);
  s.outNext = s.outBuf + keep;
  s.hist = s.outBuf;
  s.crcPos = s.outNext;
}

/** Moves unconsumed staged input to the front, so the host has room to append. */
function compact(s: State): void {
  const k = s.inNext - s.inBase;
  if (k == 0) return;
  const rest = s.inEnd - s.inNext;
  memory.copy(s.inBase, s.inNext, rest);
  s.inBase64 += <f64>k;
  s.inNext = s.inBase;
  s.inEnd = s.inBase + rest;
}

/**
 * Takes `n` more input bytes the host wrote at `inPtr` (`final`: no more will come) and decodes.
 * Returns 0 (all input decoded, stream complete), 1 (a member ended: boundary fields set; call
 * again with n = 0), 2 (needs input), 3 (output window full: call again with n = 0), or an error.
 * The output of this call is [outPtr, outPtr+outLen), valid until the next call.
 */
export function inflate_stream_run(p: usize, n: usize, final: u32): i32 {
  const s = changetype<State>(p);
  if (n > s.inCap - (s.inEnd - s.inBase)) return E_ARGUMENT;
  s.inEnd += n;
  if (final) s.final = 1;
  if (s.outEnd - s.outNext < (s.outChunk >> 1)) slide(s);
  const start = s.outNext;
  const r = run(s);
  updateCrc(s);
  s.outPtr = <u32>start;
  s.outLen = <u32>(s.outNext - start);
  if (r == ST_NEED_INPUT) compact(s);
  s.inPtr = <u32>s.inEnd;
  s.inRoom = <u32>(s.inCap - (s.inEnd - s.inBase));
  return r;
}
