// The baseline the reader is measured against: the same chunk work (inflate the member, take the
// chunk's bytes, sha256, compare) done with node:zlib and node:crypto.
import { createHash } from "node:crypto";
import { constants, inflateRawSync, gunzipSync } from "node:zlib";

/** Skips a gzip member header; returns the offset of its deflate data. */
function gzipHeaderEnd(b: Uint8Array): number {
  if (b[0] !== 0x1f || b[1] !== 0x8b || b[2] !== 8) throw new Error("not a gzip member");
  const flg = b[3];
  let p = 10;
  if (flg & 4) p += 2 + (b[10] | (b[11] << 8));
  if (flg & 8) while (b[p++] !== 0);
  if (flg & 16) while (b[p++] !== 0);
  if (flg & 2) p += 2;
  return p;
}

export function nodeVerifyChunk(member: Uint8Array, innerOffset: number, size: number, digest: Uint8Array): Uint8Array {
  // the member range may be a prefix of the member (the reader stops where the chunk can end)
  const out = inflateRawSync(member.subarray(gzipHeaderEnd(member)), { finishFlush: constants.Z_SYNC_FLUSH });
  const chunk = out.subarray(innerOffset, innerOffset + size);
  if (chunk.length !== size) throw new Error(`member inflates to ${out.length} bytes, chunk needs ${innerOffset + size}`);
  const got = createHash("sha256").update(chunk).digest();
  if (!got.equals(digest)) throw new Error("chunk digest mismatch");
  return chunk;
}

export async function nodeInflateMember(member: Uint8Array, maxOut: number): Promise<Uint8Array> {
  return gunzipSync(member, { maxOutputLength: maxOut });
}
