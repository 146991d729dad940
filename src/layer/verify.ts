// The verification contract of the read path: fetched gzip members go to a worker thread in batches,
// and come back as exactly the verified bytes of each chunk (inflate → sha256 → compare against the
// TOC's chunk digest), or the reason a chunk failed. The event loop only awaits.
import type { Core } from "../core/wasm.js";
import type { ChunkVerifier } from "../core/chunk.js";
import { createNodeChunkVerifier } from "../node/chunk.js";
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

/**
 * Inflates and checks a batch of chunks off the event loop; per chunk: exactly `size` verified bytes,
 * or the reason it failed. `body` may be transferred (detached) by the call.
 */
export type VerifyBatch = (body: Uint8Array, chunks: BatchChunk[], priority: Priority,
  /** Called at once with a function that raises a low-priority batch still waiting to high. */
  promotable?: (promote: () => void) => void) => Promise<Array<Uint8Array | string>>;

// One verifier per core (a worker's), made on first use.
const verifiers = new WeakMap<Core, ChunkVerifier>();

/**
 * The worker side of `VerifyBatch`: each result is a fresh buffer of verified bytes (to be transferred
 * back, listed in `transfer`) or the error message for that chunk.
 */
export function verifyChunks(core: Core, body: Uint8Array, chunks: BatchChunk[]): { results: Array<Uint8Array | string>; transfer: ArrayBuffer[] } {
  let v = verifiers.get(core);
  if (!v) verifiers.set(core, (v = createNodeChunkVerifier(core)));
  const results: Array<Uint8Array | string> = [];
  const transfer: ArrayBuffer[] = [];
  for (const c of chunks) {
    try {
      const copy = v.verify(body.subarray(c.start, c.end), c.innerOffset, c.size, c.digest).slice();
      results.push(copy);
      transfer.push(copy.buffer);
    } catch (e) {
      results.push((e as Error).message);
    }
  }
  return { results, transfer };
}
