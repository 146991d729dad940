// DEFLATE / gzip inflation by the Wasm core (assembly/inflate.ts): one-shot into a region of Wasm
// memory, and a streaming inflater over concatenated members that reports member boundaries.
import { CoreError, type Core, type CoreExports } from "./wasm.js";
import { WasmBuffer } from "./buffer.js";

interface InflateExports extends CoreExports {
  inflate_new(): number;
  inflate_free(state: number): void;
  inflate_oneshot(state: number, inPtr: number, inLen: number, outPtr: number, outCap: number, flags: number): number;
  inflate_stream_new(flags: number, inCap: number, outChunk: number): number;
  inflate_stream_reset(state: number): void;
  inflate_stream_free(state: number): void;
  inflate_stream_run(state: number, n: number, final: number): number;
}

/** Status codes (>= 0) of the core's inflate calls. */
export const InflateStatus = { END: 0, MEMBER_END: 1, NEED_INPUT: 2, OUTPUT_FULL: 3 } as const;

/** Error codes (`CoreError.code`) of inflation. */
export const InflateError = {
  TRUNCATED: -1,
  GZIP_HEADER: -2,
  GZIP_FLAGS: -3,
  HEADER_CRC: -4,
  BLOCK_TYPE: -5,
  STORED_LENGTH: -6,
  CODE_LENGTHS: -7,
  OVERSUBSCRIBED: -8,
  INCOMPLETE: -9,
  MISSING_END_OF_BLOCK: -10,
  BAD_LITLEN_CODE: -11,
  BAD_DISTANCE_CODE: -12,
  DISTANCE_TOO_FAR: -13,
  CRC: -14,
  ISIZE: -15,
  OUTPUT_OVERFLOW: -16,
  ARGUMENT: -17,
  SIZE_MISMATCH: -18,
} as const;

const MESSAGES: Record<number, string> = {
  [-1]: "truncated input (the compressed data ends early)",
  [-2]: "not a gzip member (bad magic or compression method)",
  [-3]: "gzip header has reserved flag bits set",
  [-4]: "gzip header CRC mismatch",
  [-5]: "invalid DEFLATE block type 3",
  [-6]: "stored block length does not match its complement",
  [-7]: "invalid code lengths (too many symbols or a bad repeat)",
  [-8]: "oversubscribed Huffman code",
  [-9]: "incomplete Huffman code",
  [-10]: "literal/length code has no end-of-block symbol",
  [-11]: "invalid literal/length code",
  [-12]: "invalid distance code",
  [-13]: "distance too far back",
  [-14]: "gzip CRC-32 mismatch",
  [-15]: "gzip ISIZE mismatch",
  [-16]: "decompressed data larger than the output buffer",
  [-17]: "invalid argument",
  [-18]: "decompressed size mismatch",
};

/** The message for an inflate error code. */
export function inflateErrorMessage(code: number): string {
  return MESSAGES[code] ?? `inflate error ${code}`;
}

const FLAG_GZIP = 1;
const FLAG_CHECK_CRC = 2;

/** Byte offsets of the result fields in a state block, read from the module's exported globals. */
interface Offsets {
  errPos: number; memberInStart: number; memberInEnd: number; memberOutStart: number; memberOutEnd: number;
  outPtr: number; outLen: number; inUsed: number; inPtr: number; inRoom: number; members: number; memberCrc: number;
}

const offsetsCache = new WeakMap<Core, Offsets>();

function offsets(core: Core): Offsets {
  let o = offsetsCache.get(core);
  if (!o) {
    const g = (name: string) => Number((core.exports[name] as WebAssembly.Global).value);
    o = {
      errPos: g("INFLATE_OFF_ERR_POS"), memberInStart: g("INFLATE_OFF_MEMBER_IN_START"),
      memberInEnd: g("INFLATE_OFF_MEMBER_IN_END"), memberOutStart: g("INFLATE_OFF_MEMBER_OUT_START"),
      memberOutEnd: g("INFLATE_OFF_MEMBER_OUT_END"), outPtr: g("INFLATE_OFF_OUT_PTR"), outLen: g("INFLATE_OFF_OUT_LEN"),
      inUsed: g("INFLATE_OFF_IN_USED"), inPtr: g("INFLATE_OFF_IN_PTR"), inRoom: g("INFLATE_OFF_IN_ROOM"),
      members: g("INFLATE_OFF_MEMBERS"), memberCrc: g("INFLATE_OFF_MEMBER_CRC"),
    };
    offsetsCache.set(core, o);
  }
  return o;
}

export interface InflateOptions {
  /** Raw DEFLATE instead of a gzip member. */
  raw?: boolean;
  /** Check the gzip trailer's CRC-32 (default true; switch off when a digest covers the bytes). */
  checkCrc?: boolean;
  /** A member longer than the buffer is not an error: the buffer gets its first `outCap` bytes. */
  allowPartial?: boolean;
}

/**
 * One-shot inflation of whole members whose decompressed size is known. Holds a decoder state
 * (~13 KiB of Wasm memory, tables included) reused by every call; `dispose()` frees it.
 */
export class Inflater {
  private state: number;
  private readonly off: Offsets;
  private readonly input: WasmBuffer;
  private readonly output: WasmBuffer;
  /** Compressed bytes consumed by the last call (the member's length when it completed). */
  consumed = 0;
  /** Whether the last call reached the end of the member (false: stopped at a full buffer). */
  complete = false;

  constructor(readonly core: Core) {
    this.state = (core.exports as InflateExports).inflate_new();
    this.off = offsets(core);
    this.input = new WasmBuffer(core);
    this.output = new WasmBuffer(core);
  }

  /**
   * Inflates the member at [inPtr, inPtr+inLen) of Wasm memory into [outPtr, outPtr+outCap) and
   * returns the bytes written. Throws `CoreError` (code from `InflateError`, position = byte offset
   * in the input) on malformed data, and when the data does not fit unless `allowPartial`.
   */
  inflateRegion(inPtr: number, inLen: number, outPtr: number, outCap: number, opts?: InflateOptions): number {
    if (this.state === 0) throw new Error("Inflater: disposed");
    const flags = (opts?.raw ? 0 : FLAG_GZIP) | (opts?.checkCrc === false ? 0 : FLAG_CHECK_CRC);
    const r = (this.core.exports as InflateExports).inflate_oneshot(this.state, inPtr, inLen, outPtr, outCap, flags);
    const dv = this.core.view;
    const s = this.state;
    this.consumed = dv.getUint32(s + this.off.inUsed, true);
    this.complete = r === InflateStatus.END;
    if (r < 0) throw inflateError(r, dv.getFloat64(s + this.off.errPos, true));
    const written = dv.getUint32(s + this.off.outLen, true);
    if (r === InflateStatus.OUTPUT_FULL && !opts?.allowPartial) {
      throw new CoreError(
        `inflate: ${inflateErrorMessage(InflateError.OUTPUT_OVERFLOW)} (${outCap} bytes) at byte ${this.consumed}`,
        InflateError.OUTPUT_OVERFLOW, this.consumed);
    }
    return written;
  }

  /**
   * Inflates `member` (bytes anywhere) whose decompressed size is `size` into this inflater's
   * output block and returns a view of it (valid until the next call on this inflater or any
   * call that grows Wasm memory). Throws `CoreError` on malformed data or a size other than `size`.
   */
  inflate(member: Uint8Array, size: number, opts?: InflateOptions): Uint8Array {
    const inPtr = member.buffer === this.core.exports.memory.buffer ? member.byteOffset : this.input.write(member);
    const outPtr = this.output.ensure(size);
    const written = this.inflateRegion(inPtr, member.length, outPtr, size, opts);
    if (written !== size && !opts?.allowPartial) {
      throw new CoreError(`inflate: ${inflateErrorMessage(InflateError.SIZE_MISMATCH)}: expected ${size} bytes, got ${written}`,
        InflateError.SIZE_MISMATCH, this.consumed);
    }
    return this.core.slice(outPtr, written);
  }

  /** Frees the state and the inflater's own buffers (idempotent). */
  dispose(): void {
    if (this.state !== 0) (this.core.exports as InflateExports).inflate_free(this.state);
    this.state = 0;
    this.input.dispose();
    this.output.dispose();
  }
}

function inflateError(code: number, position: number): CoreError {
  return new CoreError(`inflate: ${inflateErrorMessage(code)} at byte ${position}`, code, position);
}

/** Where one gzip member lies in the compressed stream and in the decompressed output. */
export interface MemberBoundary {
  /** 0-based member number in the stream. */
  index: number;
  compressedStart: number;
  compressedEnd: number;
  decompressedStart: number;
  decompressedEnd: number;
  /** CRC-32 of the member's output (0 when CRC checking is off). */
  crc: number;
}

export interface StreamInflaterOptions {
  /** One raw DEFLATE stream instead of gzip members. */
  raw?: boolean;
  /** Check each member's CRC-32 (default true). */
  checkCrc?: boolean;
  /** Staged input bytes in Wasm memory (default 64 KiB, at least 4 KiB). */
  inputBytes?: number;
  /** Output bytes per window slide (default 256 KiB); the window adds 32 KiB of history. */
  outputChunk?: number;
  /** Receives the output in order, as views of Wasm memory valid only during the call. */
  onData?: (bytes: Uint8Array) => void;
  /** Receives each member's boundary after its last output byte was delivered. */
  onMember?: (member: MemberBoundary) => void;
}

/**
 * Streaming inflation of concatenated gzip members (or one raw DEFLATE stream) with bounded memory:
 * feed pieces of any size with `push`, end with `finish`. Malformed data throws `CoreError` with
 * the byte offset in the whole compressed stream; the inflater then stays failed until `reset`.
 */
export class GzipStreamInflater {
  private state: number;
  private readonly off: Offsets;
  private readonly ex: InflateExports;
  private readonly onData?: (bytes: Uint8Array) => void;
  private readonly onMember?: (member: MemberBoundary) => void;
  private failed: Error | null = null;
  private ended = false;
  /** Compressed bytes pushed so far. */
  bytesIn = 0;
  /** Decompressed bytes delivered so far. */
  bytesOut = 0;
  /** Members completed so far. */
  members = 0;

  constructor(readonly core: Core, opts: StreamInflaterOptions = {}) {
    this.ex = core.exports as InflateExports;
    this.off = offsets(core);
    const flags = (opts.raw ? 0 : FLAG_GZIP) | (opts.checkCrc === false ? 0 : FLAG_CHECK_CRC);
    this.state = this.ex.inflate_stream_new(flags, opts.inputBytes ?? 64 * 1024, opts.outputChunk ?? 256 * 1024);
    this.onData = opts.onData;
    this.onMember = opts.onMember;
  }

  /** Feeds the next piece of the compressed stream. */
  push(data: Uint8Array): void {
    this.check();
    if (this.ended) throw new Error("GzipStreamInflater: the stream is finished; call reset() to start another");
    let off = 0;
    while (off < data.length) {
      const dv = this.core.view;
      const room = dv.getUint32(this.state + this.off.inRoom, true);
      const ptr = dv.getUint32(this.state + this.off.inPtr, true);
      const n = Math.min(room, data.length - off);
      this.core.bytes.set(data.subarray(off, off + n), ptr);
      off += n;
      this.bytesIn += n;
      this.drive(n, 0);
      if (this.ended) return; // raw stream ended: the rest is trailing data
    }
  }

  /** Declares the end of the input; throws if it ends inside a member. */
  finish(): void {
    this.check();
    if (!this.ended) this.drive(0, 1);
  }

  /** True once the stream is complete (after `finish`, or at the end of a raw stream). */
  get done(): boolean {
    return this.ended;
  }

  /** Starts over for another stream, keeping the allocated memory. */
  reset(): void {
    if (this.state === 0) throw new Error("GzipStreamInflater: disposed");
    this.ex.inflate_stream_reset(this.state);
    this.failed = null;
    this.ended = false;
    this.bytesIn = this.bytesOut = this.members = 0;
  }

  /** Frees the state and its buffers (idempotent). */
  dispose(): void {
    if (this.state !== 0) this.ex.inflate_stream_free(this.state);
    this.state = 0;
  }

  private check(): void {
    if (this.state === 0) throw new Error("GzipStreamInflater: disposed");
    if (this.failed) throw this.failed;
  }

  /** Calls a callback; if it throws, the stream is left failed with that error (its position is lost). */
  private deliver<T>(fn: (v: T) => void, v: T): void {
    try {
      fn(v);
    } catch (e) {
      this.failed = e instanceof Error ? e : new Error(String(e));
      throw e;
    }
  }

  private drive(n: number, final: number): void {
    const s = this.state;
    let st = this.ex.inflate_stream_run(s, n, final);
    for (;;) {
      const dv = this.core.view;
      const len = dv.getUint32(s + this.off.outLen, true);
      if (len > 0) {
        this.bytesOut += len;
        if (this.onData) this.deliver(this.onData, this.core.slice(dv.getUint32(s + this.off.outPtr, true), len));
      }
      if (st === InflateStatus.MEMBER_END) {
        const v = this.core.view;
        if (this.onMember) this.deliver(this.onMember, {
          index: this.members,
          compressedStart: v.getFloat64(s + this.off.memberInStart, true),
          compressedEnd: v.getFloat64(s + this.off.memberInEnd, true),
          decompressedStart: v.getFloat64(s + this.off.memberOutStart, true),
          decompressedEnd: v.getFloat64(s + this.off.memberOutEnd, true),
          crc: v.getUint32(s + this.off.memberCrc, true),
        });
        this.members++;
        st = this.ex.inflate_stream_run(s, 0, final);
      } else if (st === InflateStatus.OUTPUT_FULL) {
        st = this.ex.inflate_stream_run(s, 0, final);
      } else if (st === InflateStatus.NEED_INPUT) {
        return;
      } else if (st === InflateStatus.END) {
        this.ended = true;
        return;
      } else {
        this.failed = inflateError(st, this.core.view.getFloat64(s + this.off.errPos, true));
        throw this.failed;
      }
    }
  }
}

/** Inflates concatenated gzip members (the TOC member) with the core; refuses more than `maxOut` bytes out. */
export function inflateGzip(core: Core, data: Uint8Array, maxOut: number): Uint8Array {
  const pieces: Uint8Array[] = [];
  let total = 0;
  const inflater = new GzipStreamInflater(core, {
    onData: (bytes) => {
      total += bytes.length;
      if (total > maxOut) throw new Error(`inflates to more than ${maxOut} bytes`);
      pieces.push(bytes.slice()); // views of Wasm memory are only valid during the callback
    },
  });
  try {
    inflater.push(data);
    inflater.finish();
  } finally {
    inflater.dispose();
  }
  if (pieces.length === 1) return pieces[0];
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of pieces) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
