// SHA-256 and CRC-32 throughput: the Wasm core (1 lane, 4 SIMD lanes) beside node:crypto and
// zlib.crc32, on the same bytes, in Wasm memory (the host hashes a zero-copy view of it, as the
// chunk verifier does). Medians of several passes; each pass hashes 16 MiB.
import { createHash } from "node:crypto";
import { crc32 as zlibCrc32 } from "node:zlib";
import { crc32Region, sha256RegionPtr, sha256Regions, type WasmRegion } from "../../src/core/index.js";
import { newNodeCore } from "../../src/node/core.js";

const PASS_BYTES = 16 << 20;
const PASSES = 7;
const SIZES = [4 << 10, 64 << 10, 4 << 20];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** MB/s (10^6 bytes per second) of `fn` hashing `bytes` per call, median of PASSES after a warm-up. */
function rate(bytes: number, fn: () => void): number {
  fn();
  const r: number[] = [];
  for (let i = 0; i < PASSES; i++) {
    const t = performance.now();
    fn();
    r.push(bytes / 1e3 / (performance.now() - t));
  }
  return median(r);
}

const fmt = (x: number) => x.toFixed(0).padStart(8);
const label = (n: number) => (n >= 1 << 20 ? `${n >> 20} MiB` : `${n >> 10} KiB`).padEnd(8);

export async function run(): Promise<void> {
  const core = newNodeCore();
  const base = core.exports.alloc(PASS_BYTES);
  // Pseudo-random fill (hash speed does not depend on content, but keep it honest).
  let x = 0x9e3779b9;
  const bytes = core.bytes;
  for (let i = 0; i < PASS_BYTES; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    bytes[base + i] = x & 0xff;
  }

  console.log("\nSHA-256, MB/s (median of %d passes, %d MiB each; messages in Wasm memory)", PASSES, PASS_BYTES >> 20);
  console.log(`${"message".padEnd(8)} ${"wasm 1".padStart(8)} ${"wasm x4".padStart(8)} ${"node:crypto".padStart(11)}   x4/1   crypto/x4`);
  for (const size of SIZES) {
    const regions: WasmRegion[] = [];
    for (let p = base; p + size <= base + PASS_BYTES; p += size) regions.push({ ptr: p, len: size });
    const total = regions.length * size;
    const one = rate(total, () => { for (const r of regions) sha256RegionPtr(core, r.ptr, r.len); });
    const four = rate(total, () => { sha256Regions(core, regions); });
    const host = rate(total, () => {
      const mem = core.bytes;
      for (const r of regions) createHash("sha256").update(mem.subarray(r.ptr, r.ptr + r.len)).digest();
    });
    console.log(`${label(size)} ${fmt(one)} ${fmt(four)} ${fmt(host).padStart(11)}   ${(four / one).toFixed(2)}   ${(host / four).toFixed(2)}`);
  }

  console.log("\nCRC-32, MB/s (median of %d passes)", PASSES);
  console.log(`${"message".padEnd(8)} ${"wasm".padStart(8)} ${"zlib".padStart(8)}`);
  for (const size of SIZES) {
    const starts: number[] = [];
    for (let p = base; p + size <= base + PASS_BYTES; p += size) starts.push(p);
    const total = starts.length * size;
    const wasm = rate(total, () => { for (const p of starts) crc32Region(core, p, size); });
    const zlib = rate(total, () => {
      const mem = core.bytes;
      for (const p of starts) zlibCrc32(mem.subarray(p, p + size));
    });
    console.log(`${label(size)} ${fmt(wasm)} ${fmt(zlib)}`);
  }
  core.exports.free(base);
}

// Run directly: node dist/bench/core/sha256.js
if (import.meta.url === `file://${process.argv[1]}`) await run();
