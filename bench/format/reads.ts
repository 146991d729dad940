// Random reads through the reader (4 KiB and 128 KiB at random offsets of random regular files) vs
// the same chunk work done by hand with node:zlib + node:crypto (read the member range, inflate,
// sha256, compare, copy out), same layers, same offsets, same run.
import { existsSync } from "node:fs";
import { basename, join } from "node:path";
import { EStargzReader } from "../../src/estargz/reader.js";
import { readerDeps } from "../../src/estargz/deps.js";
import { FileSource } from "../../src/estargz/source.js";
import { maxCompressedFor } from "../../src/estargz/chunks.js";
import { nodeVerifyChunk } from "./baseline.js";
import { cacheDir, fmt, mb } from "./layers.js";
import { TocType } from "../../src/core/toc.js";

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
  line("## random reads: reader vs node:zlib + node:crypto doing the same chunk work");
  for (const name of ["layer1.tar", "layer2.tar"]) {
    const path = join(cacheDir, `${name}.esgz.tar.gz`);
    if (!existsSync(path)) { line(`${name}: no converted layer (run the convert section first)`); continue; }
    const src = await FileSource.open(path);
    const r = await EStargzReader.open(src, readerDeps(), { allowUnverifiedToc: true });
    const files: number[] = [];
    for (let id = 0; id < r.index.count; id++) if (r.index.type(id) === TocType.reg && r.index.size(id) > 0 && !r.index.isShadowed(id)) files.push(id);
    for (const readSize of [4096, 128 * 1024]) {
      const rand = rng(readSize);
      const plan = Array.from({ length: 400 }, () => {
        const id = files[Math.floor(rand() * files.length)];
        const size = r.index.size(id);
        return { id, off: Math.floor(rand() * Math.max(1, size - readSize)), len: Math.min(readSize, size) };
      });
      let bytes = 0;
      let t0 = performance.now();
      for (const p of plan) bytes += (await r.readFile(p.id, p.off, p.len)).length;
      const readerSec = (performance.now() - t0) / 1000;
      // baseline: same chunks, node:zlib (sync) + node:crypto, one source read per chunk
      let bbytes = 0;
      t0 = performance.now();
      for (const p of plan) {
        const refs = r.chunkRefs(p.id, p.off, p.len);
        const buf = new Uint8Array(p.len);
        for (const c of refs) {
          const end = Math.min(c.compressedEnd, c.memberOffset + maxCompressedFor(c.innerOffset + c.size));
          const member = await src.read(c.memberOffset, end - c.memberOffset);
          const data = await nodeVerifyChunk(member, c.innerOffset, c.size, c.digest);
          const from = Math.max(p.off, c.chunkOffset), to = Math.min(p.off + p.len, c.chunkOffset + c.size);
          buf.set(data.subarray(from - c.chunkOffset, to - c.chunkOffset), from - p.off);
        }
        bbytes += buf.length;
      }
      const baseSec = (performance.now() - t0) / 1000;
      line(
        `${basename(name)} ${readSize / 1024} KiB reads ×${plan.length}: reader ${fmt(plan.length / readerSec, 0)} reads/s (${fmt(mb(bytes) / readerSec)} MB/s) | ` +
          `node:zlib+crypto ${fmt(plan.length / baseSec, 0)} reads/s (${fmt(mb(bbytes) / baseSec)} MB/s) | ratio ${fmt(baseSec / readerSec, 2)}×`,
      );
    }
    r.close();
    await src.close();
  }
  return out;
}
