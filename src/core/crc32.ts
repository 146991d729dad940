// CRC-32 (gzip's) computed by the Wasm core, over JavaScript arrays or regions of Wasm memory.
import type { Core, CoreExports } from "./wasm.js";
import { checkRegion, forEachPiece } from "./scratch.js";

interface Crc32Exports extends CoreExports {
  crc32_update(crc: number, ptr: number, len: number): number;
}

const ex = (core: Core) => core.exports as Crc32Exports;

/** CRC-32 of `data`; pass a previous result as `seed` to continue the same stream. */
export function crc32(core: Core, data: Uint8Array, seed = 0): number {
  let crc = seed >>> 0;
  const update = ex(core).crc32_update;
  forEachPiece(core, data, (ptr, len) => { crc = update(crc, ptr, len) >>> 0; });
  return crc;
}

/** CRC-32 of `len` bytes of Wasm memory at `ptr`, without copying; `seed` continues a stream. */
export function crc32Region(core: Core, ptr: number, len: number, seed = 0): number {
  checkRegion(core, ptr, len);
  return ex(core).crc32_update(seed >>> 0, ptr, len) >>> 0;
}

/** An incremental CRC-32: `update` with arrays or Wasm regions, `value` at any point. */
export class Crc32 {
  private crc = 0;
  constructor(private readonly core: Core) {}

  update(data: Uint8Array): this {
    this.crc = crc32(this.core, data, this.crc);
    return this;
  }

  updateRegion(ptr: number, len: number): this {
    this.crc = crc32Region(this.core, ptr, len, this.crc);
    return this;
  }

  /** The CRC of everything so far (unsigned). */
  get value(): number {
    return this.crc;
  }

  reset(): this {
    this.crc = 0;
    return this;
  }
}
