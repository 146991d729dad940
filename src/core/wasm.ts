// Loading and instantiating the Wasm core. Browser-safe: no `node:` imports here.
// The Node entry (src/node/core.ts) reads build/core.wasm from disk and hands the bytes over.

/** The raw exports of build/core.wasm. Each concern's module in src/core widens this type. */
export interface CoreExports {
  readonly memory: WebAssembly.Memory;
  alloc(size: number): number;
  free(ptr: number): void;
  realloc(ptr: number, size: number): number;
  [name: string]: unknown;
}

/** Anything the core can be loaded from. */
export type CoreSource = BufferSource | WebAssembly.Module | URL | string | Response | Promise<Response>;

/** An instantiated core: its exports plus views that are re-made whenever memory grows. */
export class Core {
  readonly exports: CoreExports;
  private buf: ArrayBuffer;
  private u8: Uint8Array;
  private dv: DataView;

  constructor(instance: WebAssembly.Instance) {
    this.exports = instance.exports as unknown as CoreExports;
    this.buf = this.exports.memory.buffer;
    this.u8 = new Uint8Array(this.buf);
    this.dv = new DataView(this.buf);
  }

  /** Bytes of Wasm memory. Growth detaches the old ArrayBuffer, so callers ask again after any call into the core. */
  get bytes(): Uint8Array {
    if (this.buf !== this.exports.memory.buffer) this.refresh();
    return this.u8;
  }

  get view(): DataView {
    if (this.buf !== this.exports.memory.buffer) this.refresh();
    return this.dv;
  }

  /** A zero-copy view of `len` bytes at `ptr`; valid until the next call that may grow memory. */
  slice(ptr: number, len: number): Uint8Array {
    return this.bytes.subarray(ptr, ptr + len);
  }

  private refresh(): void {
    this.buf = this.exports.memory.buffer;
    this.u8 = new Uint8Array(this.buf);
    this.dv = new DataView(this.buf);
  }
}

function imports(): WebAssembly.Imports {
  let memory: WebAssembly.Memory | undefined;
  return {
    env: {
      // asc calls abort() for failed assertions and out-of-memory; the core returns error codes for
      // malformed input, so reaching this is a bug or resource exhaustion, never bad data.
      abort(msgPtr: number, filePtr: number, line: number, col: number) {
        const text = (p: number) => {
          if (!memory || p === 0) return "?";
          const u32 = new Uint32Array(memory.buffer);
          const len = u32[(p - 4) >>> 2] >>> 1;
          return String.fromCharCode(...new Uint16Array(memory.buffer, p, len));
        };
        throw new Error(`esgz-fast core aborted: ${text(msgPtr)} at ${text(filePtr)}:${line}:${col}`);
      },
      seed: () => Date.now(),
      trace: () => {},
    },
    __bind(m: WebAssembly.Memory) { memory = m; },
  } as unknown as WebAssembly.Imports;
}

function wrap(instance: WebAssembly.Instance, imp: WebAssembly.Imports): Core {
  (imp as unknown as { __bind(m: WebAssembly.Memory): void }).__bind(
    (instance.exports as unknown as CoreExports).memory,
  );
  return new Core(instance);
}

/** Instantiates the core synchronously from its bytes or a compiled module (Node, workers; browsers allow it off the main thread). */
export function loadCoreSync(source: BufferSource | WebAssembly.Module): Core {
  const mod = source instanceof WebAssembly.Module ? source : new WebAssembly.Module(source);
  const imp = imports();
  return wrap(new WebAssembly.Instance(mod, imp), imp);
}

/** Instantiates the core from bytes, a compiled module, a URL or a fetch Response. */
export async function loadCore(source: CoreSource): Promise<Core> {
  const imp = imports();
  if (source instanceof WebAssembly.Module) return wrap(await WebAssembly.instantiate(source, imp), imp);
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    const { instance } = await WebAssembly.instantiate(source as BufferSource, imp);
    return wrap(instance, imp);
  }
  const res = typeof source === "string" || source instanceof URL ? fetch(source) : source;
  const r = await res;
  if (!r.ok) throw new Error(`esgz-fast core: fetching the Wasm module failed: HTTP ${r.status} ${r.url}`);
  if (typeof WebAssembly.instantiateStreaming === "function" && r.headers.get("content-type") === "application/wasm") {
    const { instance } = await WebAssembly.instantiateStreaming(r, imp);
    return wrap(instance, imp);
  }
  const { instance } = await WebAssembly.instantiate(await r.arrayBuffer(), imp);
  return wrap(instance, imp);
}

/** Thrown for malformed input the core rejected; `code` is the core's error code, `position` a byte offset where known. */
export class CoreError extends Error {
  constructor(message: string, readonly code: number, readonly position = -1) {
    super(message);
    this.name = "CoreError";
  }
}
