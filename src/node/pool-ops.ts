// The operations a CorePool worker runs. Each takes the worker's core and plain, structured-clonable
// arguments, and returns its result plus the buffers to transfer back (never copy back).
import { createHash } from "node:crypto";
import type { Transferable } from "node:worker_threads";
import type { Core } from "../core/wasm.js";
import type { ChunkVerifier } from "../core/chunk.js";
import { createNodeChunkVerifier } from "./chunk.js";

/** One chunk of a `verifyChunks` batch: its member at [start, end) of the body. */
export interface BatchChunk {
  start: number;
  end: number;
  innerOffset: number;
  size: number;
  /** 32 raw bytes. */
  digest: Uint8Array;
}

// One verifier per worker core, made on first use.
const verifiers = new WeakMap<Core, ChunkVerifier>();

interface Out<R> {
  result: R;
  transfer?: Transferable[];
}

export const ops = {
  /** sha256 of `data`, hex. */
  sha256(_core: Core, args: { data: Uint8Array }): Out<string> {
    return { result: createHash("sha256").update(args.data).digest("hex") };
  },

  /**
   * Verifies every chunk of a fetched blob range in one round trip (the store's small files come
   * by the hundred): each result is the verified bytes (a fresh buffer, transferred back) or the
   * error message for that chunk.
   */
  verifyChunks(core: Core, args: { body: Uint8Array; chunks: BatchChunk[] }): Out<Array<Uint8Array | string>> {
    let v = verifiers.get(core);
    if (!v) verifiers.set(core, (v = createNodeChunkVerifier(core)));
    const out: Array<Uint8Array | string> = [];
    const transfer: Transferable[] = [];
    for (const c of args.chunks) {
      try {
        const view = v.verify(args.body.subarray(c.start, c.end), c.innerOffset, c.size, c.digest);
        const copy = view.slice();
        out.push(copy);
        transfer.push(copy.buffer);
      } catch (e) {
        out.push((e as Error).message);
      }
    }
    return { result: out, transfer };
  },
} satisfies Record<string, (core: Core, args: never) => Out<unknown>>;

export type OpName = keyof typeof ops;
export type OpArgs<K extends OpName> = Parameters<(typeof ops)[K]>[1];
export type OpResult<K extends OpName> = ReturnType<(typeof ops)[K]>["result"];
