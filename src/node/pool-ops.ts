// The operations a CorePool worker runs. Each takes the worker's core slot (`cores.get()` is the live
// instance: a fresh one after a chunk made the last one fail) and plain, structured-clonable
// arguments, and returns its result plus the buffers to transfer back (never copy back). What an op
// returns never refers to Wasm memory: the worker may replace the instance after the task.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Transferable } from "node:worker_threads";
import type { CoreSlot } from "../core/wasm.js";
import { chunkVerifierOf } from "./chunk.js";
import { inflateGzip } from "../estargz/deps.js";
import { tocFromMember, tocInflateError, type TocMember } from "../estargz/reader.js";
import { BLOCK } from "../estargz/tar/header.js";

/** One chunk of a `verifyChunks` batch: its member at [start, end) of the body. */
export interface BatchChunk {
  start: number;
  end: number;
  innerOffset: number;
  size: number;
  /** 32 raw bytes. */
  digest: Uint8Array;
}

/** Where a verified chunk goes on disk: written to `tmp`, then renamed to `path` (the cache's layout). */
export interface ChunkFile {
  path: string;
  tmp: string;
}

// Shard directories this worker has made (or found) already.
const madeDirs = new Set<string>();

function storeChunk(file: ChunkFile, data: Uint8Array): boolean {
  try {
    const dir = dirname(file.path);
    if (!madeDirs.has(dir)) { mkdirSync(dir, { recursive: true, mode: 0o700 }); madeDirs.add(dir); }
    writeFileSync(file.tmp, data, { mode: 0o600, flag: "wx" });
    renameSync(file.tmp, file.path);
    return true;
  } catch {
    // Not stored: the store's cache writes the chunk itself (and logs if that fails too).
    try { unlinkSync(file.tmp); } catch { /* never created */ }
    return false;
  }
}

interface Out<R> {
  result: R;
  transfer?: Transferable[];
}

export const ops = {
  /** sha256 of `data`, hex. */
  sha256(_cores: CoreSlot, args: { data: Uint8Array }): Out<string> {
    return { result: createHash("sha256").update(args.data).digest("hex") };
  },

  /**
   * Verifies every chunk of a fetched blob range in one round trip (the store's small files come
   * by the hundred): each result is the verified bytes (a fresh buffer, transferred back) or the
   * error message for that chunk.
   */
  verifyChunks(cores: CoreSlot, args: { body: Uint8Array; chunks: BatchChunk[] }): Out<Array<Uint8Array | string>> {
    const { results, transfer } = verifyBatch(cores, args.body, args.chunks);
    return { result: results, transfer };
  },

  /**
   * `verifyChunks`, and each verified chunk also written to the disk cache (`store`: one file per
   * chunk, null = not here) before its bytes go back; `stored[i]` says whether chunk i was written. Background fetches
   * of small-file layers then cost the main thread no file operations. Only verified bytes are written.
   */
  verifyAndStoreChunks(cores: CoreSlot, args: { body: Uint8Array; chunks: BatchChunk[]; store: Array<ChunkFile | null> }): Out<{ results: Array<Uint8Array | string>; stored: boolean[] }> {
    const { results, transfer } = verifyBatch(cores, args.body, args.chunks);
    const stored = results.map((r, i) => r instanceof Uint8Array && args.store[i] !== null && storeChunk(args.store[i]!, r));
    return { result: { results, stored }, transfer };
  },

  /** Whether each path exists (the cache's "already on disk?" for a whole fetch window at once). */
  filesExist(_cores: CoreSlot, args: { paths: string[] }): Out<boolean[]> {
    return { result: args.paths.map((p) => existsSync(p)) };
  },

  /**
   * A layer's TOC member → the TOC JSON and its digest, checked against `expected` (the layer's
   * annotation) when given: inflate, tar header and sha256 off the FUSE thread. Errors are the
   * reader's (`EStargzError` messages naming the layer).
   */
  readToc(cores: CoreSlot, args: { member: Uint8Array; tocOffset: number; maxToc: number; expected?: string; name?: string }): Out<TocMember> {
    let plain: Uint8Array;
    try {
      plain = inflateGzip(cores.get(), args.member, args.maxToc + 3 * BLOCK);
    } catch (err) {
      throw tocInflateError(err, args.tocOffset, args.name);
    }
    const toc = tocFromMember(plain, args.tocOffset, args.maxToc, args.expected, args.name);
    return { result: toc, transfer: [toc.json.buffer as ArrayBuffer] };
  },
} satisfies Record<string, (cores: CoreSlot, args: never) => Out<unknown>>;

// Each chunk on the live instance: one that failed on a chunk is not used for the next.
function verifyBatch(cores: CoreSlot, body: Uint8Array, chunks: BatchChunk[]): { results: Array<Uint8Array | string>; transfer: Transferable[] } {
  const results: Array<Uint8Array | string> = [];
  const transfer: Transferable[] = [];
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

export type OpName = keyof typeof ops;
export type OpArgs<K extends OpName> = Parameters<(typeof ops)[K]>[1];
export type OpResult<K extends OpName> = ReturnType<(typeof ops)[K]>["result"];
