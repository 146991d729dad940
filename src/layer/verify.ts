// The verification contract of the read path: fetched gzip members go to a worker thread in batches,
// and come back as exactly the verified bytes of each chunk (inflate → sha256 → compare against the
// TOC's chunk digest), or the reason a chunk failed. The event loop only awaits.
import type { CoreSlot } from "../core/wasm.js";
import { chunkVerifierOf } from "../node/chunk.js";
import type { Priority } from "../util/priority.js";

/** One chunk of a verification batch: its gzip member at [start, end) of the batch's bytes. */
export interface BatchChunk {
  start: number;
  end: number;
  innerOffset: number;
  size: number;
  /** sha256 of the chunk's decompressed bytes, 32 raw bytes. */
  digest: Uint8Array;
}

/** What a batch gives back, per chunk in order: the verified bytes or why it failed; which the verifier also wrote to the disk cache. */
export interface VerifiedBatch {
  results: Array<Uint8Array | string>;
  /** `onDisk[i]`: chunk i is in the disk cache already (absent: none is). */
  onDisk?: boolean[];
}

/**
 * Inflates and checks a batch of chunks off the event loop. `body` may be transferred (detached) by
 * the call.
 */
export type VerifyBatch = (body: Uint8Array, chunks: BatchChunk[], priority: Priority,
  /** Called at once with a function that raises a low-priority batch still waiting to high. */
  promotable?: (promote: () => void) => void) => Promise<VerifiedBatch>;

/**
 * The worker side: each chunk on the live core instance (one that failed on a chunk is not used for
 * the next); each result a fresh buffer of verified bytes (listed in `transfer`) or the error message.
 */
export function verifyChunks(cores: CoreSlot, body: Uint8Array, chunks: BatchChunk[]): { results: Array<Uint8Array | string>; transfer: ArrayBuffer[] } {
  const results: Array<Uint8Array | string> = [];
  const transfer: ArrayBuffer[] = [];
  for (const c of chunks) {
    try {
      const copy = chunkVerifierOf(cores.get()).verify(body.subarray(c.start, c.end), c.innerOffset, c.size, c.digest).slice();
      results.push(copy);
      transfer.push(copy.buffer);
    } catch (e) {
      results.push((e as Error).message);
    }
  }
  return { results, transfer };
}
