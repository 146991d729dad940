// Verified chunks: inflate an eStargz chunk's gzip member, hash the chunk's bytes, compare with the
// TOC's digest — in the Wasm core (assembly/chunk.ts) — and hand back a view of the verified bytes
// in Wasm memory (no copy). Where the host has a faster SHA-256 (node:crypto uses the CPU's SHA
// instructions), the verifier measures both on the first chunks and keeps the faster.
// Browser-safe: the host hash is injected (see src/node/chunk.ts for Node's).
import { CoreError, type Core, type CoreExports } from "./wasm.js";
import { MAX_BLOCK_SIZE, WasmBuffer } from "./buffer.js";
import { inflateErrorMessage } from "./inflate.js";
import { toHex } from "./sha256.js";

interface ChunkExports extends CoreExports {
  inflate_new(): number;
  inflate_free(state: number): void;
  chunk_verify(state: number, inPtr: number, inLen: number, innerOffset: number, size: number, outPtr: number,
    expectedPtr: number, actualPtr: number, flags: number): number;
  sha256_digest(ptr: number, len: number, out: number): void;
  INFLATE_OFF_ERR_POS: WebAssembly.Global;
  INFLATE_OFF_OUT_LEN: WebAssembly.Global;
}

/** Error codes of the pipeline besides the inflate ones (`InflateError`); TOO_LARGE is refused before the core runs. */
export const ChunkError = { SIZE_MISMATCH: -18, DIGEST_MISMATCH: -19, TOO_LARGE: -20 } as const;

/** What failed: the gzip data, the decompressed size, the digest, or a chunk too large for the core to hold. */
export type ChunkFailure = "inflate" | "size" | "digest" | "limit";

/** A chunk that did not verify. `expected` / `actual`: sizes (as decimal) or `sha256:` digests. */
export class ChunkVerifyError extends CoreError {
  constructor(message: string, code: number, position: number, readonly failure: ChunkFailure,
    readonly expected?: string, readonly actual?: string) {
    super(message, code, position);
    this.name = "ChunkVerifyError";
  }
}

/** A SHA-256 of the host: the 32-byte digest of `bytes` (a view of Wasm memory; do not keep it). */
export type HostHash = (bytes: Uint8Array) => Uint8Array;

/** "auto": measure and keep the faster; "wasm" / "host": force one. */
export type HashChoice = "auto" | "wasm" | "host";

export interface ChunkVerifierOptions {
  /** The host's SHA-256; without it the Wasm hash is used. */
  hostHash?: HostHash;
  /** Default "auto" (Wasm when there is no host hash). */
  hash?: HashChoice;
  /** Chunks hashed both ways before "auto" decides (default 16; at least 256 KiB in total are measured too). */
  calibrationChunks?: number;
}

const FLAG_HASH = 1;
const CALIBRATION_BYTES = 256 * 1024;
/**
 * Larger chunks are not measured: hashed once, by the host, while "auto" still measures. A first
 * chunk of hundreds of MiB hashed both ways took a minute (the Wasm hash's first call runs in V8's
 * baseline tier, ~8 MB/s, and a call in progress never tiers up), and big chunks are where the
 * host's hash wins most.
 */
const CALIBRATION_MAX_CHUNK = 1 << 20;

/**
 * Verifies chunks. Owns a decoder state, an output block (grown to the largest chunk seen) and an
 * input block for members passed as JavaScript arrays; `dispose()` frees them. The returned views
 * are valid until the next call on this verifier (or anything that grows Wasm memory).
 */
export class ChunkVerifier {
  private state: number;
  private readonly ex: ChunkExports;
  private readonly input: WasmBuffer;
  private readonly output: WasmBuffer;
  /** 32 bytes expected digest, 32 bytes computed digest. */
  private readonly digests: WasmBuffer;
  private readonly hostHash?: HostHash;
  private choice: "wasm" | "host" | "calibrating";
  private readonly calibrationChunks: number;
  private calibrated = { chunks: 0, bytes: 0, wasmMs: 0, hostMs: 0 };
  private readonly errPosOff: number;
  private readonly outLenOff: number;

  constructor(readonly core: Core, opts: ChunkVerifierOptions = {}) {
    this.ex = core.exports as ChunkExports;
    const hash = opts.hash ?? "auto";
    if (hash === "host" && !opts.hostHash) throw new Error("ChunkVerifier: hash 'host' needs a hostHash function");
    this.hostHash = opts.hostHash;
    this.choice = hash === "wasm" || !opts.hostHash ? "wasm" : hash === "host" ? "host" : "calibrating";
    this.calibrationChunks = opts.calibrationChunks ?? 16;
    this.state = this.ex.inflate_new();
    this.input = new WasmBuffer(core);
    this.output = new WasmBuffer(core);
    this.digests = new WasmBuffer(core, 64);
    this.errPosOff = Number(this.ex.INFLATE_OFF_ERR_POS.value);
    this.outLenOff = Number(this.ex.INFLATE_OFF_OUT_LEN.value);
  }

  /** Which SHA-256 verifies chunks now ("calibrating" while "auto" is still measuring). */
  get hashInUse(): "wasm" | "host" | "calibrating" {
    return this.choice;
  }

  /** What "auto" measured: chunks, bytes, and milliseconds spent by each hash. */
  get calibration(): Readonly<{ chunks: number; bytes: number; wasmMs: number; hostMs: number }> {
    return this.calibrated;
  }

  /**
   * Verifies the chunk of `size` bytes at `innerOffset` in the gzip member `member` against
   * `digest` (32 raw bytes, or "sha256:<hex>"), and returns a view of the verified bytes in Wasm
   * memory. Throws `ChunkVerifyError` (failure "inflate" | "size" | "digest").
   */
  verify(member: Uint8Array, innerOffset: number, size: number, digest: Uint8Array | string): Uint8Array {
    const expected = digestBytes(digest); // a copy, taken before anything may grow Wasm memory
    if (member.length > MAX_BLOCK_SIZE) {
      throw new ChunkVerifyError(`chunk: gzip member of ${member.length} bytes is more than the core holds in one block (${MAX_BLOCK_SIZE})`,
        ChunkError.TOO_LARGE, -1, "limit", String(MAX_BLOCK_SIZE), String(member.length));
    }
    const inPtr = member.buffer === this.core.exports.memory.buffer ? member.byteOffset : this.input.write(member);
    return this.verifyRegion(inPtr, member.length, innerOffset, size, expected);
  }

  /**
   * Same, for a member already in Wasm memory at [inPtr, inPtr+inLen). `outPtr` (optional): where
   * to inflate, at least innerOffset + size bytes; by default the verifier's own block.
   */
  verifyRegion(inPtr: number, inLen: number, innerOffset: number, size: number, digest: Uint8Array | string,
    outPtr?: number): Uint8Array {
    if (this.state === 0) throw new Error("ChunkVerifier: disposed");
    if (!Number.isInteger(innerOffset) || innerOffset < 0 || !Number.isInteger(size) || size < 0) {
      throw new RangeError(`ChunkVerifier: bad innerOffset ${innerOffset} or size ${size}`);
    }
    const expected = digestBytes(digest);
    // refused before anything is allocated: the core's allocator would abort the instance
    if (outPtr === undefined && innerOffset + size > MAX_BLOCK_SIZE) {
      throw new ChunkVerifyError(`chunk: inflating ${innerOffset + size} bytes (inner offset ${innerOffset} + size ${size}) is more than the core holds in one block (${MAX_BLOCK_SIZE})`,
        ChunkError.TOO_LARGE, -1, "limit", String(MAX_BLOCK_SIZE), String(innerOffset + size));
    }
    const out = outPtr ?? this.output.ensure(innerOffset + size);
    const dig = this.digests.ptr;
    this.core.bytes.set(expected, dig);
    const wasmHash = this.choice === "wasm";
    const r = this.ex.chunk_verify(this.state, inPtr, inLen, innerOffset, size, out, dig, dig + 32, wasmHash ? FLAG_HASH : 0);
    if (r === ChunkError.DIGEST_MISMATCH) throw this.digestError(expected, this.core.bytes.slice(dig + 32, dig + 64));
    if (r === ChunkError.SIZE_MISMATCH) {
      const got = this.core.view.getUint32(this.state + this.outLenOff, true) - innerOffset;
      throw new ChunkVerifyError(
        `chunk: size mismatch: expected ${size} bytes at inner offset ${innerOffset}, the member has ${Math.max(got, 0)}`,
        r, -1, "size", String(size), String(Math.max(got, 0)));
    }
    if (r < 0) {
      const pos = this.core.view.getFloat64(this.state + this.errPosOff, true);
      throw new ChunkVerifyError(`chunk: inflate failed: ${inflateErrorMessage(r)} at byte ${pos} of the member`, r, pos, "inflate");
    }
    const bytes = this.core.slice(out + innerOffset, size);
    if (wasmHash) return bytes;
    const actual = this.choice === "host" || size > CALIBRATION_MAX_CHUNK ? this.hostHash!(bytes) : this.calibrate(out + innerOffset, size);
    if (!sameDigest(actual, expected)) throw this.digestError(expected, actual);
    return bytes;
  }

  /** Frees the decoder state and blocks (idempotent). */
  dispose(): void {
    if (this.state !== 0) this.ex.inflate_free(this.state);
    this.state = 0;
    this.input.dispose();
    this.output.dispose();
    this.digests.dispose();
  }

  /** Hashes with both, times both, checks they agree; decides once enough was measured. */
  private calibrate(ptr: number, size: number): Uint8Array {
    const out = this.digests.ptr + 32;
    const t0 = performance.now();
    this.ex.sha256_digest(ptr, size, out);
    const t1 = performance.now();
    const host = this.hostHash!(this.core.slice(ptr, size));
    const t2 = performance.now();
    const c = this.calibrated;
    c.chunks++;
    c.bytes += size;
    c.wasmMs += t1 - t0;
    c.hostMs += t2 - t1;
    const wasm = this.core.bytes.slice(out, out + 32);
    if (!sameDigest(wasm, host)) {
      throw new Error(`ChunkVerifier: the host SHA-256 disagrees with the Wasm one (${toHex(host)} vs ${toHex(wasm)})`);
    }
    if (c.chunks >= this.calibrationChunks && c.bytes >= CALIBRATION_BYTES) this.choice = c.hostMs < c.wasmMs ? "host" : "wasm";
    return wasm;
  }

  private digestError(expected: Uint8Array, actual: Uint8Array): ChunkVerifyError {
    const e = `sha256:${toHex(expected)}`;
    const a = `sha256:${toHex(actual)}`;
    return new ChunkVerifyError(`chunk: digest mismatch: expected ${e}, got ${a}`, ChunkError.DIGEST_MISMATCH, -1, "digest", e, a);
  }
}

function sameDigest(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== 32 || b.length !== 32) return false;
  for (let i = 0; i < 32; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * 32 raw bytes (or "sha256:<64 hex>"), always as a fresh copy: the digest may be a view of Wasm
 * memory, which an allocation during the call could detach (a detached view reads as empty, and
 * the stale expected digest left in Wasm memory must never be compared instead).
 */
function digestBytes(d: Uint8Array | string): Uint8Array {
  if (typeof d !== "string") {
    if (d.length !== 32) throw new RangeError(`ChunkVerifier: a digest has 32 bytes, got ${d.length}`);
    return d.slice();
  }
  const m = /^sha256:([0-9a-f]{64})$/.exec(d);
  if (!m) throw new RangeError(`ChunkVerifier: not a sha256 digest: ${JSON.stringify(d)}`);
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(m[1].substr(2 * i, 2), 16);
  return out;
}
