// The reader's default dependencies, all in Wasm cores of this thread: the TOC index, the
// streaming gzip inflater for the TOC member, and the chunk pipeline (inflate → sha256 → compare in
// one call; node:crypto's hash where it measures faster). Callers that must not inflate on their
// thread (the FUSE store) give the reader their own `readToc` instead.
import { TocIndex } from "../core/toc.js";
import { inflateGzip } from "../core/inflate.js";
import { CoreSlot, type Core } from "../core/wasm.js";
import { newNodeCore } from "../node/core.js";
import { chunkVerifierOf } from "../node/chunk.js";
import type { ReaderDeps } from "./reader.js";

// Chunks and TOC members of every reader are inflated in one instance of their own, let go after a
// task that made it fail (trap, abort) or grow past CORE_KEEP_BYTES (a big chunk).
const work = new CoreSlot(newNodeCore);

/**
 * The defaults. Without `core`, each reader's index lives in an instance of its own (a failure
 * elsewhere never reaches it; closing the reader gives its memory back) and inflation runs in the
 * shared work instance above. With `core`, all of it runs there (a failed `core` then answers
 * `CoreFailure`: make new deps on a new core).
 */
export function readerDeps(core?: Core): ReaderDeps<TocIndex> {
  const task = <T>(fn: (c: Core) => T): T => {
    if (core) return fn(core);
    try {
      return fn(work.get());
    } finally {
      work.settle();
    }
  };
  return {
    inflateMember: async (member, maxOut) => task((c) => inflateGzip(c, member, maxOut)),
    buildIndex: (json, tocOffset) => TocIndex.build(core ?? newNodeCore(), json, { tocOffset }),
    // the verifier's result is a view of Wasm memory valid until its next call: used right away
    verifyChunk: async (member, innerOffset, size, digest, use) => task((c) => use(chunkVerifierOf(c).verify(member, innerOffset, size, digest))),
  };
}
