// The operations the store's worker threads run (src/node/pool.ts runs them; store-worker.ts is the
// entry): verifying fetched chunks, writing small verified chunks to the disk cache, checking which
// chunks the cache holds, and reading a layer's TOC member — all off the FUSE thread.
import type { CoreSlot } from "../core/wasm.js";
import { readTocMember, type TocMember } from "../estargz/reader.js";
import { verifyChunks, type BatchChunk } from "../layer/verify.js";
import type { OpOut } from "../node/pool-worker.js";
import { chunksExistSync, writeChunkSync } from "../cache/disk.js";

export const storeOps = {
  /**
   * Verifies every chunk of a fetched blob range in one round trip (the store's small files come by the
   * hundred). With `cacheDir`, chunks marked in `write` are also written to the disk cache there before
   * their bytes go back (`onDisk[i]`): background fetches of small-file layers then cost the FUSE
   * thread no file operations. Only verified bytes are written.
   */
  verifyChunks(cores: CoreSlot, args: { body: Uint8Array; chunks: BatchChunk[]; cacheDir?: string; write?: boolean[] }): OpOut<{ results: Array<Uint8Array | string>; onDisk?: boolean[] }> {
    const { results, transfer } = verifyChunks(cores, args.body, args.chunks);
    const { cacheDir, write } = args;
    const onDisk = cacheDir && write
      ? results.map((r, i) => r instanceof Uint8Array && write[i] && writeChunkSync(cacheDir, hexOf(args.chunks[i].digest), r))
      : undefined;
    return { result: { results, onDisk }, transfer };
  },

  /** Which chunks have a file in the disk cache at `dir` (the cache's "already on disk?" for a fetch window). */
  chunksExist(_cores: CoreSlot, args: { dir: string; hexes: string[] }): OpOut<boolean[]> {
    return { result: chunksExistSync(args.dir, args.hexes) };
  },

  /**
   * A layer's TOC member → the TOC JSON and its digest, checked against `expected` (the layer's
   * annotation) when given: inflate, tar header and sha256. Errors are the reader's (`EStargzError`
   * messages naming the layer).
   */
  readToc(cores: CoreSlot, args: { member: Uint8Array; tocOffset: number; maxToc: number; expected?: string; name?: string }): OpOut<TocMember> {
    const toc = readTocMember(cores.get(), args.member, args.tocOffset, args.maxToc, args.expected, args.name);
    return { result: toc, transfer: [toc.json.buffer as ArrayBuffer] };
  },
};

export type StoreOps = typeof storeOps;

const hexOf = (digest: Uint8Array): string => Buffer.from(digest.buffer, digest.byteOffset, 32).toString("hex");
