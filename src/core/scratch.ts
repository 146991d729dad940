// A per-core staging block for inputs that live in JavaScript memory: they are copied through it
// piecewise, so hashing or checksumming a large array never grows Wasm memory. Inputs that are
// already views of Wasm memory are used in place (see `wasmRegion`).
import type { Core } from "./wasm.js";

/** Size of the staging block; large enough that the per-call cost is negligible. */
export const SCRATCH_SIZE = 64 * 1024;

const blocks = new WeakMap<Core, number>();

/** The core's staging block (allocated on first use, kept for the core's lifetime). */
export function scratch(core: Core): number {
  let p = blocks.get(core);
  if (p === undefined) {
    p = core.exports.alloc(SCRATCH_SIZE);
    blocks.set(core, p);
  }
  return p;
}

/** If `data` is a view of this core's memory, its pointer; otherwise -1. */
export function wasmRegion(core: Core, data: Uint8Array): number {
  return data.buffer === core.exports.memory.buffer ? data.byteOffset : -1;
}

/**
 * Calls `fn(ptr, len)` over `data` in order: once in place when `data` is a view of Wasm memory,
 * otherwise once per SCRATCH_SIZE piece copied into the staging block.
 */
export function forEachPiece(core: Core, data: Uint8Array, fn: (ptr: number, len: number) => void): void {
  const inPlace = wasmRegion(core, data);
  if (inPlace >= 0) {
    fn(inPlace, data.length);
    return;
  }
  const p = scratch(core);
  for (let off = 0; off < data.length; off += SCRATCH_SIZE) {
    const piece = data.subarray(off, Math.min(off + SCRATCH_SIZE, data.length));
    core.bytes.set(piece, p);
    fn(p, piece.length);
  }
}

/** Throws a RangeError unless `len` bytes at `ptr` lie inside Wasm memory (a bad region would trap in the core). */
export function checkRegion(core: Core, ptr: number, len: number): void {
  const size = core.exports.memory.buffer.byteLength;
  if (!(Number.isInteger(ptr) && Number.isInteger(len) && ptr >= 0 && len >= 0 && ptr + len <= size)) {
    throw new RangeError(`region of ${len} bytes at ${ptr} is outside Wasm memory (${size} bytes)`);
  }
}
