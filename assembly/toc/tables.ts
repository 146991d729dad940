// Appending to the tables of the build (state.ts): records, pool strings, numbers. Tables double
// when full; `finish.ts` shrinks them to size at the end.
import { fail, E_HUGE } from "./errors";
import { hadHigh, decodeString, validUtf8, repairUtf8 } from "./scan";
import { Node, Chunk, Entry, NONE, NUM_BIG, DIGEST_BYTES } from "./layout";
import { B, NodeTemp, MAX_NODES, POOL_SLACK, SCRATCH_SLACK } from "./state";

export function grown(ptr: usize, bytes: usize): usize {
  return ptr == 0 ? heap.alloc(bytes) : heap.realloc(ptr, bytes);
}

/** A new node id (its records uninitialised), or NONE past MAX_NODES. */
export function newNode(): u32 {
  if (B.nodeCount == B.nodeCap) {
    if (B.nodeCap >= MAX_NODES) return NONE;
    const cap = B.nodeCap ? B.nodeCap * 2 : 256;
    B.nodes = grown(B.nodes, <usize>cap * offsetof<Node>());
    B.temps = grown(B.temps, <usize>cap * offsetof<NodeTemp>());
    B.nodeCap = cap;
  }
  if (B.nodeCount >= MAX_NODES) return NONE;
  return B.nodeCount++;
}

/** A new chunk index (its record, position and digest uninitialised). */
export function newChunk(): u32 {
  if (B.chunkCount == B.chunkCap) {
    const cap = B.chunkCap ? B.chunkCap * 2 : 256;
    B.chunks = grown(B.chunks, <usize>cap * offsetof<Chunk>());
    B.chunkPos = grown(B.chunkPos, <usize>cap << 2);
    B.digests = grown(B.digests, <usize>cap * DIGEST_BYTES);
    B.chunkCap = cap;
  }
  return B.chunkCount++;
}

export function pushEntry(pos: u32, node: u32, chunkWord: u32): void {
  if (B.entryCount == B.entryCap) {
    const cap = B.entryCap ? B.entryCap * 2 : 256;
    B.entries = grown(B.entries, <usize>cap * offsetof<Entry>());
    B.entryCap = cap;
  }
  const e = changetype<Entry>(B.entries + <usize>B.entryCount * offsetof<Entry>());
  e.pos = pos;
  e.node = node;
  e.chunk = chunkWord;
  B.entryCount++;
}

// ---- strings ---------------------------------------------------------------------------------

export function ensurePool(extra: usize): void {
  const need = <usize>B.poolLen + extra + POOL_SLACK;
  if (need > <usize>B.poolCap) {
    let cap = <usize>B.poolCap * 2;
    if (cap < need) cap = need;
    B.pool = grown(B.pool, cap);
    B.poolCap = <u32>cap;
  }
}

/** Room for n bytes in the scratch buffer (its contents are not kept). */
export function ensureScratch(n: usize): void {
  if (n + SCRATCH_SLACK > B.scratchCap) {
    B.scratchCap = n + SCRATCH_SLACK > B.scratchCap * 2 ? n + SCRATCH_SLACK : B.scratchCap * 2;
    if (B.scratch) heap.free(B.scratch);
    B.scratch = heap.alloc(B.scratchCap);
  }
}

/** Length of the pool string at ref. */
@inline export function refLen(ref: u32): u32 {
  return load<u32>(B.pool + ref - 4);
}

/** Starts a pool string of n bytes (written by the caller at the returned ref); ensurePool(n + 8) first. */
@inline export function poolAppend(n: u32): u32 {
  const hdr = (B.poolLen + 3) & ~3;
  store<u32>(B.pool + hdr, n);
  B.poolLen = hdr + 4 + n;
  return hdr + 4;
}

/**
 * Copies the JSON string body [s, e) (decoding escapes if esc) into the pool; returns its ref, or
 * NONE (error E_HUGE at `at`) if longer than `limit` bytes.
 */
export function poolString(s: usize, e: usize, esc: bool, limit: usize, at: usize): u32 {
  const raw = e - s;
  if (!esc && raw > limit) return <u32>fail(E_HUGE, at) | NONE;
  ensurePool(raw + 8);
  const hdr = (B.poolLen + 3) & ~3;
  const dst = B.pool + hdr + 4;
  let n: usize;
  if (esc) {
    n = decodeString(s, e, dst) - dst;
    if (n > limit) return <u32>fail(E_HUGE, at) | NONE;
  } else {
    memory.copy(dst, s, raw);
    n = raw;
  }
  if (hadHigh && !validUtf8(dst, n)) {
    // invalid UTF-8 becomes U+FFFD per byte, as Go reads it: repair through the scratch buffer
    ensureScratch(n);
    memory.copy(B.scratch, dst, n);
    ensurePool(n * 3 + 8);
    n = repairUtf8(B.scratch, n, B.pool + hdr + 4) - (B.pool + hdr + 4);
    if (n > limit) return <u32>fail(E_HUGE, at) | NONE;
  }
  store<u32>(B.pool + hdr, <u32>n);
  B.poolLen = hdr + 4 + <u32>n;
  return hdr + 4;
}

/** Drops the most recent pool string if nothing was appended after it. */
export function dropString(ref: u32, len: u32): void {
  if (ref != NONE && B.poolLen == ref + len) B.poolLen = ref - 4;
}

// ---- numbers: below NUM_BIG inline, else NUM_BIG | index in nums ---------------------------------

function pushNum(v: f64): u32 {
  if (B.numCount == B.numCap) {
    const cap = B.numCap ? B.numCap * 2 : 64;
    B.nums = grown(B.nums, <usize>cap << 3);
    B.numCap = cap;
  }
  store<f64>(B.nums + (<usize>B.numCount << 3), v);
  return NUM_BIG | B.numCount++;
}

@inline export function encNum(v: u64): u32 {
  return v < <u64>NUM_BIG ? <u32>v : pushNum(<f64>v);
}

@inline export function decNum(w: u32): u64 {
  return w < NUM_BIG ? <u64>w : <u64>load<f64>(B.nums + (<usize>(w & ~NUM_BIG) << 3));
}

/** A modtime: whole non-negative seconds below 2^31 inline, else (sec, nsec) as two nums. */
export function encTime(sec: i64, nsec: u32): u32 {
  if (nsec == 0 && sec >= 0 && sec < <i64>NUM_BIG) return <u32>sec;
  const i = pushNum(<f64>sec);
  pushNum(<f64>nsec);
  return i;
}
