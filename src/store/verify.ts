// Chunk verification off the FUSE thread: the member is inflated by node:zlib on libuv's thread pool
// (the estargz reader's bounded `inflatePrefix`) and hashed with WebCrypto, also computed off the main
// thread. The event loop only waits on promises. (The Wasm core's chunk verifier in the worker pool
// replaces this once it exists: same signature.)
import { inflatePrefix } from "../estargz/node-inflate.js";
import type { VerifyChunk } from "./fetcher.js";

export const verifyChunkOffThread: VerifyChunk = async (member, innerOffset, size, digest) => {
  const out = await inflatePrefix(member, innerOffset + size);
  if (out.length < innerOffset + size) {
    throw new Error(`member inflates to ${out.length} bytes, the chunk needs ${innerOffset + size} (truncated, or the TOC's size is wrong)`);
  }
  const chunk = out.subarray(innerOffset, innerOffset + size);
  const got = new Uint8Array(await crypto.subtle.digest("SHA-256", chunk as Uint8Array<ArrayBuffer>));
  if (!Buffer.from(got).equals(Buffer.from(digest))) {
    throw new Error(`chunk digest mismatch: expected sha256:${Buffer.from(digest).toString("hex")}, got sha256:${Buffer.from(got).toString("hex")}`);
  }
  // A chunk that is a view into a bigger inflate output would pin that output in the cache: copy it.
  return chunk.byteLength === chunk.buffer.byteLength ? chunk : chunk.slice();
};
