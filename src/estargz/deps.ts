// The reader's default dependencies: the Wasm core's TOC index (this thread's core instance), and
// chunk / TOC-member inflation through node:zlib on libuv's thread pool until the core's inflate and
// chunk verifier are wired in here.
import { TocIndex } from "../core/toc.js";
import { nodeCore } from "../node/core.js";
import type { ReaderDeps } from "./reader.js";
import { nodeInflateMember, nodeVerifyChunk } from "./node-inflate.js";

export function readerDeps(): ReaderDeps<TocIndex> {
  const core = nodeCore();
  return {
    inflateMember: nodeInflateMember,
    buildIndex: (json, tocOffset) => TocIndex.build(core, json, { tocOffset }),
    verifyChunk: nodeVerifyChunk,
  };
}
