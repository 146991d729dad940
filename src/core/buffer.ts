// An owned block of Wasm memory: allocated on first need, reused, grown (contents dropped), freed
// explicitly. Lets callers place inputs and outputs in Wasm memory once and keep them there.
import type { Core } from "./wasm.js";

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

  /** Makes room for `size` bytes and returns the address; growing drops the old contents. */
  ensure(size: number): number {
    if (size > this.cap || this.p === 0) {
      if (this.p !== 0) this.core.exports.free(this.p);
      const cap = Math.max(size, 16, Math.min(this.cap * 2, size * 2));
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
