// The chunk pipeline: inflate one gzip member → SHA-256 of the chunk's bytes → compare with the
// expected digest, in one call, the output left in Wasm memory for the host to read in place.
// The gzip CRC-32 is not computed: the chunk's SHA-256 is the stronger check (and the CRC would
// cost about as much as the inflation itself).

import { State } from "./inflate/decoder";
import { inflate_oneshot, INFLATE_FLAG_GZIP } from "./inflate";
import { sha256_digest } from "./sha256";

export const CHUNK_OK: i32 = 0;
/** The member decompressed to fewer bytes than innerOffset + size (actual count in outLen). */
export const CHUNK_SIZE_MISMATCH: i32 = -18;
/** The chunk's SHA-256 differs from the expected one (actual digest written to `actualPtr`). */
export const CHUNK_DIGEST_MISMATCH: i32 = -19;

/** Flag: hash and compare in Wasm (else the host hashes the returned bytes itself). */
export const CHUNK_FLAG_HASH: u32 = 1;

/**
 * Inflates the member at [inPtr, inPtr+inLen) into [outPtr, outPtr+innerOffset+size) (the member
 * may hold more: only that prefix is decoded) and, with CHUNK_FLAG_HASH, checks that the SHA-256
 * of the `size` bytes at outPtr+innerOffset equals the 32 bytes at expectedPtr, writing the
 * computed digest to actualPtr. Returns CHUNK_OK, an inflate error (position in the inflate
 * state's errPos), CHUNK_SIZE_MISMATCH or CHUNK_DIGEST_MISMATCH.
 */
export function chunk_verify(
  state: usize, inPtr: usize, inLen: usize, innerOffset: usize, size: usize, outPtr: usize,
  expectedPtr: usize, actualPtr: usize, flags: u32,
): i32 {
  const want = innerOffset + size;
  const r = inflate_oneshot(state, inPtr, inLen, outPtr, want, INFLATE_FLAG_GZIP);
  if (r < 0) return r;
  if (<usize>changetype<State>(state).outLen != want) return CHUNK_SIZE_MISMATCH;
  if (!(flags & CHUNK_FLAG_HASH)) return CHUNK_OK;
  sha256_digest(outPtr + innerOffset, size, actualPtr);
  if (load<u64>(actualPtr) != load<u64>(expectedPtr) || load<u64>(actualPtr, 8) != load<u64>(expectedPtr, 8) ||
      load<u64>(actualPtr, 16) != load<u64>(expectedPtr, 16) || load<u64>(actualPtr, 24) != load<u64>(expectedPtr, 24)) {
    return CHUNK_DIGEST_MISMATCH;
  }
  return CHUNK_OK;
}
