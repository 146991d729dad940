// Inflated output gathered into BATCH-byte buffers, one message (worker) or one queue item (inline
// path) each: both fill them the same way.
import { BATCH } from "./inflate-protocol.js";

export class OutputBatches {
  private batch = new Uint8Array(BATCH);
  private fill = 0;

  /** `full` is called each time the batch fills up; it is expected to `take()` it. */
  constructor(private readonly full: () => void) {}

  /** Bytes gathered and not taken yet. */
  get length(): number {
    return this.fill;
  }

  /** Copies `view` in. */
  add(view: Uint8Array): void {
    for (let o = 0; o < view.length; ) {
      const n = Math.min(view.length - o, BATCH - this.fill);
      this.batch.set(view.subarray(o, o + n), this.fill);
      this.fill += n;
      o += n;
      if (this.fill === BATCH) this.full();
    }
  }

  /** The bytes gathered so far, in a buffer of their own from now on (it may be transferred). */
  take(): Uint8Array {
    const out = this.batch.subarray(0, this.fill);
    this.batch = new Uint8Array(BATCH);
    this.fill = 0;
    return out;
  }

  /** Drops what was gathered (a new pass). */
  reset(): void {
    this.fill = 0;
  }
}
