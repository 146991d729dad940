// Random reads through the reader (4 KiB and 128 KiB at random offsets of random regular files),
// against (a) the core's chunk pipeline alone on the same members already in memory (the floor: what
// the reader costs beyond the core's inflate + hash) and (b) the same chunk work done with node:zlib
// + node:crypto (read the member range, inflate, sha256, compare, copy out). Same layers, same
// offsets, interleaved read by read so machine load hits all three alike.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { EStargzReader } from "../../src/estargz/reader.js";
import { readerDeps } from "../../src/estargz/deps.js";
import { FileSource } from "../../src/estargz/source.js";
import { maxCompressedFor } from "../../src/estargz/chunks.js";
import { TocType } from "../../src/core/toc.js";
import { nodeVerifyChunk } from "./baseline.js";
import { cacheDir, fmt, mb } from "./layers.js";

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
}

export async function run(): Promise<string[]> {
  const out: string[] = [];
  const line = (s: string) => { console.log(s); out.push(s); };
  line("## random reads: reader vs the core alone (member reads + chunk pipeline) vs node:zlib + node:crypto (same chunks)");
  for (const name of ["layer1.tar", "layer2.tar"]) {
    const path = join(cacheDir, `${name}.esgz.tar.gz`);
    if (!existsSync(path)) { line(`${name}: no converted layer (run the convert section first)`); continue; }
    const src = await FileSource.open(path);
    // the core-alone path uses the very verifier the reader uses (same hash choice after calibration)
    const deps = readerDeps();
    const r = await EStargzReader.open(src, deps, { allowUnverifiedToc: true });
    const files: number[] = [];
    for (let id = 0; id < r.index.count; id++) if (r.index.type(id) === TocType.reg && r.index.size(id) > 0 && !r.index.isShadowed(id)) files.push(id);
    for (const readSize of [4096, 128 * 1024]) {
      const rand = rng(readSize);
      const plan = Array.from({ length: 300 }, () => {
        const id = files[Math.floor(rand() * files.length)];
        const size = r.index.size(id);
        return { id, off: Math.floor(rand() * Math.max(1, size - readSize)), len: Math.min(readSize, size) };
      });
      let readerMs = 0, coreMs = 0, nodeMs = 0, bytes = 0, chunkBytes = 0;
      // warm-up (page cache, JIT, the verifiers' hash calibration), not timed
      for (const p of plan.slice(0, 30)) {
        await r.readFile(p.id, p.off, p.len);
        for (const c of r.chunkRefs(p.id, p.off, p.len)) {
          const end = Math.min(c.compressedEnd, c.memberOffset + maxCompressedFor(c.innerOffset + c.size));
          await deps.verifyChunk(await src.read(c.memberOffset, end - c.memberOffset), c.innerOffset, c.size, c.digest, () => {});
        }
      }
      for (const [k, p] of plan.entries()) {
        const refs = r.chunkRefs(p.id, p.off, p.len);
        const ranges = refs.map((c) => [c.memberOffset, Math.min(c.compressedEnd, c.memberOffset + maxCompressedFor(c.innerOffset + c.size))]);
        // (a) the core alone: the same member reads, then the chunk pipeline
        const core = async () => {
          const t0 = performance.now();
          const members = await Promise.all(ranges.map(([a, b]) => src.read(a, b - a)));
          for (const [i, c] of refs.entries()) await deps.verifyChunk(members[i], c.innerOffset, c.size, c.digest, (b) => { chunkBytes += b.length; });
          coreMs += performance.now() - t0;
        };
        // the reader: source reads, planning, verification, assembly
        const reader = async () => {
          const t0 = performance.now();
          bytes += (await r.readFile(p.id, p.off, p.len)).length;
          readerMs += performance.now() - t0;
        };
        // (b) node:zlib + node:crypto, source reads included
        const node = async () => {
          const t0 = performance.now();
          const buf = new Uint8Array(p.len);
          for (const [i, c] of refs.entries()) {
            const member = await src.read(ranges[i][0], ranges[i][1] - ranges[i][0]);
            const data = nodeVerifyChunk(member, c.innerOffset, c.size, c.digest);
            const from = Math.max(p.off, c.chunkOffset), to = Math.min(p.off + p.len, c.chunkOffset + c.size);
            buf.set(data.subarray(from - c.chunkOffset, to - c.chunkOffset), from - p.off);
          }
          nodeMs += performance.now() - t0;
        };
        // rotate who goes first, so caches and load favour none of them
        const order = [core, reader, node];
        for (let j = 0; j < 3; j++) await order[(j + k) % 3]();
      }
      const rps = (ms: number) => fmt(plan.length / (ms / 1000), 0);
      line(
        `${name} ${readSize / 1024} KiB ×${plan.length} (${fmt(mb(chunkBytes))} MB of chunks inflated): reader ${rps(readerMs)} reads/s | ` +
          `core alone (same member reads + chunk pipeline) ${rps(coreMs)} reads/s (reader overhead ${fmt(((readerMs - coreMs) / readerMs) * 100, 0)}% of its time) | ` +
          `node:zlib+crypto ${rps(nodeMs)} reads/s | reader vs node ${fmt(nodeMs / readerMs, 2)}×`,
      );
      void bytes;
    }
    r.close();
    await src.close();
  }
  return out;
}
