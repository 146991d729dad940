// The reader's default dependencies, all in the Wasm core of this thread: the TOC index, the
// streaming gzip inflater for the TOC member, and the chunk pipeline (inflate → sha256 → compare in
// one call; node:crypto's hash where it measures faster). For callers that must not run inflate on
// their thread (the FUSE store), pass a ChunkProvider backed by the worker pool instead.
import { TocIndex } from "../core/toc.js";
import { GzipStreamInflater } from "../core/inflate.js";
import type { Core } from "../core/wasm.js";
import { nodeCore } from "../node/core.js";
import { createNodeChunkVerifier } from "../node/chunk.js";
import type { ReaderDeps } from "./reader.js";

/** Inflates concatenated gzip members (the TOC member) with the core; refuses more than `maxOut` bytes out. */
export function inflateGzip(core: Core, data: Uint8Array, maxOut: number): Uint8Array {
  const pieces: Uint8Array[] = [];
  let total = 0;
  const inflater = new GzipStreamInflater(core, {
    onData: (bytes) => {
      total += bytes.length;
      if (total > maxOut) throw new Error(`inflates to more than ${maxOut} bytes`);
      pieces.push(bytes.slice()); // views of Wasm memory are only valid during the callback
    },
  });
  try {
    inflater.push(data);
    inflater.finish();
  } finally {
    inflater.dispose();
  }
  if (pieces.length === 1) return pieces[0];
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of pieces) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function readerDeps(core: Core = nodeCore()): ReaderDeps<TocIndex> {
  const verifier = createNodeChunkVerifier(core);
  return {
    inflateMember: async (member, maxOut) => inflateGzip(core, member, maxOut),
    buildIndex: (json, tocOffset) => TocIndex.build(core, json, { tocOffset }),
    // the verifier's result is a view of Wasm memory valid until its next call: used right away
    verifyChunk: async (member, innerOffset, size, digest, use) => use(verifier.verify(member, innerOffset, size, digest)),
  };
}
