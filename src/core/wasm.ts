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

/**
 * An instantiated core: its exports plus views that are re-made whenever memory grows.
 *
 * Every export is called through a guard: an exception out of the instance (a trap such as
 * `unreachable` when memory cannot grow, or an `abort`) leaves its heap in an unknown state (a block
 * freed before a failed allocation may still be referenced), so the instance is marked `failed` and
 * every later call into it throws `CoreFailure` instead of running; releasing calls (`free`,
 * `*_free`) become no-ops, since its memory goes with it. Whoever owns the instance replaces it
 * (`CoreSlot`); objects made on it (verifiers, staging blocks) are dropped with it.
 */
export class Core {
  readonly exports: CoreExports;
  private buf: ArrayBuffer;
  private u8: Uint8Array;
  private dv: DataView;
  private broken: CoreFailure | undefined;

  constructor(instance: WebAssembly.Instance) {
    const raw = instance.exports as Record<string, unknown>;
    const guarded: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(raw)) {
      if (typeof v !== "function") { guarded[name] = v; continue; }
      const fn = v as (...args: number[]) => number;
      const releases = name === "free" || name.endsWith("_free");
      guarded[name] = (...args: number[]): number => {
        if (this.broken) {
          if (releases) return 0;
          throw new CoreFailure(`esgz-fast core: ${name}() refused: this instance failed earlier (${this.broken.reason}) and is discarded`, this.broken.reason);
        }
        try {
          return fn(...args);
        } catch (err) {
          this.broken = new CoreFailure(`esgz-fast core: ${name}() failed: ${(err as Error).message ?? err}; the instance is discarded`, (err as Error).message ?? String(err));
          throw this.broken;
        }
      };
    }
    this.exports = guarded as unknown as CoreExports;
    this.buf = this.exports.memory.buffer;
    this.u8 = new Uint8Array(this.buf);
    this.dv = new DataView(this.buf);
  }

  /** True once a call trapped or aborted: the instance must not be used again. */
  get failed(): boolean {
    return this.broken !== undefined;
  }

  /** What made the instance fail, if it did. */
  get failure(): CoreFailure | undefined {
    return this.broken;
  }

  /** Bytes of Wasm memory the instance holds (it grows and never shrinks). */
  get memoryBytes(): number {
    return this.exports.memory.buffer.byteLength;
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

/**
 * Wasm memory an instance may keep from one task to the next. Wasm memory never shrinks: a
 * `CoreSlot` whose instance grew past this (one big chunk) gives it back by replacing the instance
 * after the task. Chunks of the usual 4 MiB leave 8–14 MiB (output block grown to 8 MiB, the
 * member staged beside it), well under it; chunks above ~12 MiB cost a fresh instance per task.
 */
export const CORE_KEEP_BYTES = 32 << 20;

/** Why a `CoreSlot` let its instance go: it failed (trap, abort) or it held too much memory. */
export type CoreDrop = "failed" | "memory";

/**
 * The instance a thread uses for one task after another: `get()` makes a fresh one when there is
 * none or the current one failed; `settle()`, called after each task, lets it go if it failed or
 * holds more than `keepBytes`. Objects made for an instance (keep them in a WeakMap keyed by the
 * Core) go with it; an object still holding a replaced (not failed) instance keeps it working.
 */
export class CoreSlot {
  private current: Core | undefined;

  constructor(private readonly load: () => Core, readonly keepBytes = CORE_KEEP_BYTES) {}

  /** The live instance. */
  get(): Core {
    if (!this.current || this.current.failed) this.current = this.load();
    return this.current;
  }

  /** After a task: drops the instance if it failed or grew past `keepBytes`, and says why. */
  settle(): CoreDrop | undefined {
    const c = this.current;
    if (!c) return undefined;
    const why: CoreDrop | undefined = c.failed ? "failed" : c.memoryBytes > this.keepBytes ? "memory" : undefined;
    if (why) this.current = undefined;
    return why;
  }

  /** Wasm memory of the current instance (0 when there is none yet). */
  get memoryBytes(): number {
    return this.current?.memoryBytes ?? 0;
  }

  /** Why the current instance failed, if it did (before `settle` lets it go). */
  get failure(): string | undefined {
    return this.current?.failure?.reason;
  }
}

function imports(): WebAssembly.Imports {
  let memory: WebAssembly.Memory | undefined;
  return {
    env: {
      // asc calls abort() for failed assertions and allocations over its limit; the core returns
      // error codes for malformed input, so reaching this is a bug or resource exhaustion, never bad
      // data. The throw fails the instance (see Core).
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

/**
 * A call into an instance that trapped or aborted (or into one that did so before): resource
 * exhaustion or a bug, never bad data. `reason` is the first failure's message.
 */
export class CoreFailure extends Error {
  constructor(message: string, readonly reason: string) {
    super(message);
    this.name = "CoreFailure";
  }
}

/** Thrown for malformed input the core rejected; `code` is the core's error code, `position` a byte offset where known. */
export class CoreError extends Error {
  constructor(message: string, readonly code: number, readonly position = -1) {
    super(message);
    this.name = "CoreError";
  }
}
