// Frees the store's dropped chunk buffers sooner than V8 would.
//
// A chunk's bytes (up to 4 MiB each with the default writer) live outside the V8 heap, in an
// ArrayBuffer whose small JS object is all the collector sees. V8 collects them on its own only once
// external memory has grown by tens of MiB since its last full collection, so the buffers the memory
// LRU has already dropped piled up: measured in bench:store (reading a 20 MiB file of 4 MiB chunks),
// 25–30 MiB of ArrayBuffers on the FUSE thread against an 8 MiB LRU, and a peak RSS of 132–144 MiB.
// A full collection asked for after every `everyBytes` of new chunk buffers keeps that pile bounded.
//
// The collection is V8's own asynchronous one (`gc({ execution: "async" })`: run from a task on this
// thread, a few ms with the store's ~10 MiB heap); a synchronous one run at once, while the previous
// chunk is still being copied out and written, freed less (two runs each: peak 132–137 MiB against
// 120–125).
// `--expose-gc` is set through `setFlagsFromString` (process-wide: the store, and CorePool workers
// that let a core instance go), and the `gc` function is taken from a fresh context, where V8
// installs it once the flag is set.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

type GcFunction = (opts: { type: "major"; execution: "async" }) => Promise<void>;

/** V8's `gc` function for this thread (undefined if V8 would not give it). */
export function gcFunction(): GcFunction | undefined {
  setFlagsFromString("--expose-gc");
  const gc: unknown = runInNewContext("typeof gc === 'function' ? gc : undefined");
  return typeof gc === "function" ? (gc as GcFunction) : undefined;
}

export class BufferReclaimer {
  private sinceLast = 0;
  private running = false;
  /** Passes asked for while one was running. */
  private queued = 0;
  private readonly gc = gcFunction();

  constructor(private readonly everyBytes: number) {}

  /** `bytes` of new chunk buffers now held on this thread (a verified chunk, a disk read). */
  note(bytes: number): void {
    if (!this.gc) return;
    this.sinceLast += bytes;
    if (this.sinceLast < this.everyBytes || this.running) return;
    this.collect();
  }

  /**
   * A collection now, or once the running one is done: after dropping what V8 does not count, e.g. a
   * Wasm instance (its memory is unmapped only once the instance is collected) or a TOC's JSON buffer.
   * Those took two collections to go (measured: after one, a 1M-entry layer's 202 MB JSON was still
   * mapped, and its index's instance after a drop), hence `passes`.
   */
  collect(passes = 1): void {
    if (!this.gc) return;
    if (this.running) {
      this.queued = Math.max(this.queued, passes);
      return;
    }
    this.sinceLast = 0;
    this.running = true;
    let run = this.gc({ type: "major", execution: "async" });
    for (let i = 1; i < passes; i++) run = run.then(() => this.gc!({ type: "major", execution: "async" }));
    const done = () => {
      this.running = false;
      const again = this.queued;
      this.queued = 0;
      if (again > 0) this.collect(again);
    };
    run.then(done, done);
  }
}
