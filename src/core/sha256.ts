// SHA-256 computed by the Wasm core: incremental (`Sha256`), one-shot over arrays or Wasm
// regions, and four lanes at once (`sha256x4`, `sha256Regions`) for many chunks.
// Browser-safe. Inputs already in Wasm memory are hashed in place; JavaScript arrays are staged
// through a fixed per-core block (see scratch.ts), so hashing never grows Wasm memory.
import type { Core, CoreExports } from "./wasm.js";
import { checkRegion, forEachPiece, wasmRegion } from "./scratch.js";

interface Sha256Exports extends CoreExports {
  sha256_state_size(): number;
  sha256_init(state: number): void;
  sha256_update(state: number, ptr: number, len: number): void;
  sha256_final(state: number, out: number): void;
  sha256_digest(ptr: number, len: number, out: number): void;
  sha256_xn(n: number, ptrs: number, lens: number, outs: number): void;
}

export const SHA256_DIGEST_SIZE = 32;

const ex = (core: Core) => core.exports as Sha256Exports;

/** A region of Wasm memory: `len` bytes at `ptr`. */
export interface WasmRegion {
  ptr: number;
  len: number;
}

/**
 * An incremental SHA-256 whose state lives in Wasm memory. `digest()` ends the message and
 * leaves the hasher ready for the next one; `free()` releases its memory (the object is then
 * unusable).
 */
export class Sha256 {
  private state: number;
  private readonly out: number;

  constructor(readonly core: Core) {
    const size = ex(core).sha256_state_size();
    this.state = core.exports.alloc(size + SHA256_DIGEST_SIZE);
    this.out = this.state + size;
    ex(core).sha256_init(this.state);
  }

  /** Adds bytes: in place when `data` is a view of this core's memory, staged otherwise. */
  update(data: Uint8Array): this {
    const state = this.live();
    const update = ex(this.core).sha256_update;
    forEachPiece(this.core, data, (ptr, len) => update(state, ptr, len));
    return this;
  }

  /** Adds `len` bytes of Wasm memory at `ptr`, without copying. */
  updateRegion(ptr: number, len: number): this {
    checkRegion(this.core, ptr, len);
    ex(this.core).sha256_update(this.live(), ptr, len);
    return this;
  }

  /** Ends the message: its 32-byte digest (a new array); the hasher starts a new message. */
  digest(): Uint8Array {
    return this.core.bytes.slice(this.digestPtr(), this.out + SHA256_DIGEST_SIZE);
  }

  /** Ends the message: its digest as lowercase hex; the hasher starts a new message. */
  digestHex(): string {
    return toHex(this.core.bytes, this.digestPtr(), SHA256_DIGEST_SIZE);
  }

  /**
   * Ends the message and returns where its 32-byte digest sits in Wasm memory (valid until
   * this hasher's next digest), for callers that compare without copying; starts a new message.
   */
  digestPtr(): number {
    const state = this.live();
    const e = ex(this.core);
    e.sha256_final(state, this.out);
    e.sha256_init(state);
    return this.out;
  }

  /**
   * Hashes `len` bytes at `ptr` as one whole message (one call into the core), leaving the
   * digest where `digestPtr()` puts it; the incremental message in progress is untouched.
   */
  hashRegion(ptr: number, len: number): number {
    this.live();
    checkRegion(this.core, ptr, len);
    ex(this.core).sha256_digest(ptr, len, this.out);
    return this.out;
  }

  /** Drops what was added so far. */
  reset(): this {
    ex(this.core).sha256_init(this.live());
    return this;
  }

  /** Releases the Wasm memory of this hasher. */
  free(): void {
    if (this.state !== 0) this.core.exports.free(this.state);
    this.state = 0;
  }

  private live(): number {
    if (this.state === 0) throw new Error("Sha256: used after free()");
    return this.state;
  }
}

// One hasher per core for the one-shot helpers below (the core is single-threaded).
const shared = new WeakMap<Core, Sha256>();
const sharedHasher = (core: Core): Sha256 => {
  let h = shared.get(core);
  if (!h) shared.set(core, (h = new Sha256(core)));
  return h;
};

/** SHA-256 of `data` (a JavaScript array, or a view of Wasm memory hashed in place). */
export function sha256(core: Core, data: Uint8Array): Uint8Array {
  const inPlace = wasmRegion(core, data);
  if (inPlace >= 0) return sha256Region(core, inPlace, data.length);
  return sharedHasher(core).reset().update(data).digest();
}

/** SHA-256 of `len` bytes of Wasm memory at `ptr`, without copying the input. */
export function sha256Region(core: Core, ptr: number, len: number): Uint8Array {
  const out = sha256RegionPtr(core, ptr, len);
  return core.bytes.slice(out, out + SHA256_DIGEST_SIZE);
}

/**
 * SHA-256 of `len` bytes at `ptr`, left in Wasm memory: returns the digest's pointer, valid until
 * the next one-shot hash on this core.
 */
export function sha256RegionPtr(core: Core, ptr: number, len: number): number {
  return sharedHasher(core).hashRegion(ptr, len);
}

/** Hex of the SHA-256 of `data`, the form OCI digests use after `sha256:`. */
export function sha256Hex(core: Core, data: Uint8Array): string {
  return toHex(sha256(core, data));
}

/**
 * SHA-256 of each region of Wasm memory, four lanes at a time (Wasm SIMD); the regions may have
 * any lengths, including 0. Digests come back in order, as new arrays.
 */
export function sha256Regions(core: Core, regions: readonly WasmRegion[]): Uint8Array[] {
  const n = regions.length;
  if (n === 0) return [];
  for (const r of regions) checkRegion(core, r.ptr, r.len);
  // One block for the three u32 tables the core reads (pointers, lengths, outputs), then the digests.
  const tables = core.exports.alloc(12 * n + SHA256_DIGEST_SIZE * n);
  try {
    const ptrs = tables;
    const lens = tables + 4 * n;
    const outs = tables + 8 * n;
    const digests = tables + 12 * n;
    const view = core.view;
    for (let i = 0; i < n; i++) {
      view.setUint32(ptrs + 4 * i, regions[i].ptr, true);
      view.setUint32(lens + 4 * i, regions[i].len, true);
      view.setUint32(outs + 4 * i, digests + SHA256_DIGEST_SIZE * i, true);
    }
    ex(core).sha256_xn(n, ptrs, lens, outs);
    const bytes = core.bytes;
    const result: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const d = digests + SHA256_DIGEST_SIZE * i;
      result.push(bytes.slice(d, d + SHA256_DIGEST_SIZE));
    }
    return result;
  } finally {
    core.exports.free(tables);
  }
}

/**
 * SHA-256 of up to four (or more) messages at once with the four-lane Wasm hash. Messages that
 * are views of this core's memory are hashed in place; the others are copied in once.
 */
export function sha256x4(core: Core, messages: readonly Uint8Array[]): Uint8Array[] {
  // Where each message is (or will be) in Wasm memory; decided before any allocation, which
  // may grow memory and detach the views.
  const inPlace = messages.map((m) => wasmRegion(core, m));
  const lens = messages.map((m) => m.length);
  const staged = messages.reduce((sum, m, i) => sum + (inPlace[i] < 0 ? m.length : 0), 0);
  const block = staged > 0 ? core.exports.alloc(staged) : 0;
  try {
    const regions: WasmRegion[] = [];
    let at = block;
    messages.forEach((m, i) => {
      if (inPlace[i] >= 0) {
        regions.push({ ptr: inPlace[i], len: lens[i] });
      } else {
        core.bytes.set(m, at);
        regions.push({ ptr: at, len: lens[i] });
        at += lens[i];
      }
    });
    return sha256Regions(core, regions);
  } finally {
    if (block !== 0) core.exports.free(block);
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lowercase hex of `length` bytes of `bytes` from `offset` (all of it by default). */
export function toHex(bytes: Uint8Array, offset = 0, length = bytes.length - offset): string {
  let s = "";
  for (let i = offset; i < offset + length; i++) s += HEX[bytes[i]];
  return s;
}
