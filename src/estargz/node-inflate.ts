// Off-thread inflation with node:zlib (libuv thread pool, so the event loop is never blocked) and
// node:crypto: `inflatePrefix` (bounded: stops once the needed bytes are out) is used by the store's
// off-thread chunk verification; `nodeVerifyChunk` / `nodeInflateMember` fit the reader's deps for
// callers that must not run the core on their own thread.
import { createHash } from "node:crypto";
import { constants, createInflateRaw, inflateRaw } from "node:zlib";
import type { VerifyChunk } from "./chunks.js";

/** Offset of the deflate data after a gzip member header. */
export function gzipHeaderEnd(b: Uint8Array): number {
  if (b.length < 10 || b[0] !== 0x1f || b[1] !== 0x8b || b[2] !== 8) throw new Error("member does not start with a gzip header");
  const flg = b[3];
  let p = 10;
  if (flg & 4) p += 2 + (b[10] | (b[11] << 8));
  if (flg & 8) { while (p < b.length && b[p] !== 0) p++; p++; }
  if (flg & 16) { while (p < b.length && b[p] !== 0) p++; p++; }
  if (flg & 2) p += 2;
  if (p > b.length) throw new Error("gzip header runs past the member");
  return p;
}

const SMALL = 64 * 1024;

function inflateSmall(member: Uint8Array, want: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    let start: number;
    try {
      start = gzipHeaderEnd(member);
    } catch (err) {
      reject(err);
      return;
    }
    // Z_SYNC_FLUSH: the range may end before the member does (the reader reads only what it needs)
    inflateRaw(member.subarray(start), { finishFlush: constants.Z_SYNC_FLUSH }, (err, out) => {
      if (err) reject(new Error(`inflate failed: ${err.message}`));
      else resolve(out.length > want ? out.subarray(0, want) : out);
    });
  });
}

/**
 * Inflates the deflate data of a gzip member until `want` bytes are out (or the data ends).
 * Returns at most `want` bytes; never buffers more than one zlib output chunk beyond it.
 */
export function inflatePrefix(member: Uint8Array, want: number): Promise<Uint8Array> {
  // Small members in one call (a stream costs more than the inflate): their output is bounded by
  // deflate's ~1032:1 ratio, so at most 64 MiB for 64 KiB in.
  if (member.length <= SMALL) return inflateSmall(member, want);
  return new Promise((resolve, reject) => {
    let start: number;
    try {
      start = gzipHeaderEnd(member);
    } catch (err) {
      reject(err);
      return;
    }
    const z = createInflateRaw({ chunkSize: Math.min(Math.max(want, 16384), 1 << 20) });
    // output grows with what actually comes out (a huge `want` must not be allocated up front)
    const pieces: Uint8Array[] = [];
    let n = 0;
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      z.removeAllListeners("data");
      z.destroy();
      if (err) reject(err);
      else if (pieces.length === 1) resolve(pieces[0]);
      else resolve(Buffer.concat(pieces, n));
    };
    z.on("data", (piece: Buffer) => {
      const k = Math.min(piece.length, want - n);
      pieces.push(k === piece.length ? piece : piece.subarray(0, k));
      n += k;
      if (n === want) finish();
    });
    z.on("error", (err: Error) => finish(new Error(`inflate failed after ${n} bytes: ${err.message}`)));
    z.on("end", () => finish());
    z.end(member.subarray(start));
  });
}

export const nodeVerifyChunk: VerifyChunk = async (member, innerOffset, size, digest, use) => {
  const out = await inflatePrefix(member, innerOffset + size);
  if (out.length < innerOffset + size) {
    throw new Error(`member inflates to ${out.length} bytes, the chunk needs ${innerOffset + size} (truncated, or the TOC's size is wrong)`);
  }
  const chunk = out.subarray(innerOffset);
  const got = createHash("sha256").update(chunk).digest();
  if (!got.equals(digest)) {
    throw new Error(`chunk digest mismatch: expected sha256:${Buffer.from(digest).toString("hex")}, got sha256:${got.toString("hex")}`);
  }
  use(chunk);
};

/** Inflates one gzip member; fails when it holds more than `maxOut` bytes. */
export async function nodeInflateMember(member: Uint8Array, maxOut: number): Promise<Uint8Array> {
  const out = await inflatePrefix(member, maxOut + 1);
  if (out.length > maxOut) throw new Error(`member inflates to more than ${maxOut} bytes`);
  return out;
}
