// Chunk verification off the FUSE thread: the member is inflated by node:zlib on libuv's thread pool
// (the estargz reader's bounded `inflatePrefix`) and hashed with WebCrypto, also computed off the main
// thread. The event loop only waits on promises. (The Wasm core's chunk verifier in the worker pool
// replaces this once it exists: same signature.)
import { constants, inflateRaw } from "node:zlib";
import { gzipHeaderEnd, inflatePrefix } from "../estargz/node-inflate.js";
import type { VerifyChunk } from "./fetcher.js";

/** Up to this output size a chunk is inflated in one piece (no pieces to join: half the peak memory). */
const ONE_PIECE_MAX = 16 << 20;

function inflateOnePiece(member: Uint8Array, want: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    let start: number;
    try {
      start = gzipHeaderEnd(member);
    } catch (e) {
      reject(e);
      return;
    }
    inflateRaw(member.subarray(start), { chunkSize: Math.max(want, 1024), finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: want + (1 << 20) },
      (err, out) => (err ? reject(new Error(`inflate failed: ${err.message}`)) : resolve(out)));
  });
}

export const verifyChunkOffThread: VerifyChunk = async (member, innerOffset, size, digest) => {
  const want = innerOffset + size;
  // A member that goes on well past the chunk (several payloads in one member) takes the bounded
  // streaming path instead.
  const out = want <= ONE_PIECE_MAX
    ? await inflateOnePiece(member, want).catch(() => inflatePrefix(member, want))
    : await inflatePrefix(member, want);
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

/**
 * At most `n` verifications at once (each holds a zlib stream and its output), and at most `lowLimit`
 * of them background work; reads a process waits on go first. Without it a 4 MiB background window of small files would start
 * hundreds of inflates at once.
 */
export function limitVerify(verify: VerifyChunk, n: number, lowLimit = 1): VerifyChunk {
  let running = 0;
  let runningLow = 0;
  const high: Array<() => void> = [];
  const low: Array<() => void> = [];
  const next = () => {
    while (running < n) {
      let start = high.shift();
      if (!start && runningLow < lowLimit) start = low.shift();
      if (!start) return;
      start();
    }
  };
  return (member, innerOffset, size, digest, priority) => new Promise<Uint8Array>((resolve, reject) => {
    const isLow = priority === "low";
    (isLow ? low : high).push(() => {
      running++;
      if (isLow) runningLow++;
      verify(member, innerOffset, size, digest, priority).then(resolve, reject).finally(() => {
        running--;
        if (isLow) runningLow--;
        next();
      });
    });
    next();
  });
}
