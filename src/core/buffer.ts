// An owned block of Wasm memory: allocated on first need, reused, grown (contents dropped), freed
// explicitly. Lets callers place inputs and outputs in Wasm memory once and keep them there.
import type { Core } from "./wasm.js";

/**
 * The largest block the core's allocator hands out (AssemblyScript's TLSF: 1 GiB less its 4-byte
 * block header). Asking for more aborts the instance, so `ensure` refuses it first.
 */
export const MAX_BLOCK_SIZE = (1 << 30) - 4;

export class WasmBuffer {
  private p = 0;
  private cap = 0;

  constructor(readonly core: Core, capacity = 0) {
    if (capacity > 0) this.ensure(capacity);
  }

  /** The block's address (0 before the first `ensure`). */
  get ptr(): number {
    return this.p;
  }

  get capacity(): number {
    return this.cap;
  }

  /**
   * Makes room for `size` bytes and returns the address; growing drops the old contents. More than
   * MAX_BLOCK_SIZE is a RangeError, before anything is freed or allocated.
   */
  ensure(size: number): number {
    if (size > this.cap || this.p === 0) {
      if (!(size <= MAX_BLOCK_SIZE)) throw new RangeError(`WasmBuffer: ${size} bytes is more than the core allocates in one block (${MAX_BLOCK_SIZE})`);
      const cap = Math.min(MAX_BLOCK_SIZE, Math.max(size, 16, Math.min(this.cap * 2, size * 2)));
      // forgotten before the allocation: if that fails, no freed block is left referenced
      const old = this.p;
      this.p = 0;
      this.cap = 0;
      if (old !== 0) this.core.exports.free(old);
      this.p = this.core.exports.alloc(cap);
      this.cap = cap;
    }
    return this.p;
  }

  /** Copies `data` into the block (growing it as needed) and returns the address. */
  write(data: Uint8Array): number {
    const p = this.ensure(data.length);
    this.core.bytes.set(data, p);
    return p;
  }

  /** A zero-copy view of `length` bytes at `offset`; valid until the next call into the core. */
  view(length: number, offset = 0): Uint8Array {
    return this.core.slice(this.p + offset, length);
  }

  /** Frees the block (idempotent); the buffer can be used again and reallocates. */
  dispose(): void {
    if (this.p !== 0) this.core.exports.free(this.p);
    this.p = 0;
    this.cap = 0;
  }
}
