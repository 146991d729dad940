// Convert throughput: our writer (tar → eStargz, level 9, parallel members) against `gzip -9` of the
// same tar, and fflate vs node:zlib on the same members (the choice of compressor), same run.
import { spawnSync } from "node:child_process";
import { closeSync, openSync, readFileSync, statSync } from "node:fs";
import { open, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import { gzipSync } from "node:zlib";
import { gzipSync as fflateGzip } from "fflate";
import { fileSink, writeEStargz } from "../../src/estargz/writer.js";
import { benchLayers, cacheDir, fmt, mb } from "./layers.js";

function timeGzip9(path: string): { sec: number; size: number } {
  const out = join(cacheDir, `${basename(path)}.gzip9`);
  const fd = openSync(out, "w");
  const t0 = performance.now();
  const r = spawnSync("gzip", ["-9", "-c", path], { stdio: ["ignore", fd, "inherit"] });
  const sec = (performance.now() - t0) / 1000;
  closeSync(fd);
  if (r.status !== 0) throw new Error("gzip -9 failed");
  return { sec, size: statSync(out).size };
}

export async function run(): Promise<string[]> {
  const out: string[] = [];
  const line = (s: string) => { console.log(s); out.push(s); };
  line("## convert: tar → eStargz (level 9) vs gzip -9 of the same tar");
  for (const layer of benchLayers()) {
    const size = statSync(layer).size;
    const g = timeGzip9(layer);
    const dest = join(cacheDir, `${basename(layer)}.esgz.tar.gz`);
    const fh = await open(dest, "w");
    const t0 = performance.now();
    const r = await writeEStargz(layer, fileSink(fh), {});
    const sec = (performance.now() - t0) / 1000;
    await fh.close();
    line(
      `${basename(layer)} (${fmt(mb(size))} MB): esgz-fast ${fmt(mb(size) / sec)} MB/s → ${fmt(mb(r.size), 2)} MB | ` +
        `gzip -9 ${fmt(mb(size) / g.sec)} MB/s → ${fmt(mb(g.size), 2)} MB | speed ratio ${fmt(g.sec / sec, 2)}× (target ≥ 0.9×)`,
    );
  }
  // compressor choice: the same 4 MiB members through node:zlib and fflate at level 9, single thread
  const data = readFileSync(benchLayers()[1]).subarray(0, 16 << 20);
  const members: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += 4 << 20) members.push(data.subarray(i, i + (4 << 20)));
  const t = (f: (m: Uint8Array) => Uint8Array) => {
    const t0 = performance.now();
    let n = 0;
    for (const m of members) n += f(m).length;
    return { sec: (performance.now() - t0) / 1000, n };
  };
  const z = t((m) => gzipSync(m, { level: 9 }));
  const f = t((m) => fflateGzip(m, { level: 9 }));
  line(
    `compressor, 4 × 4 MiB members of layer2, level 9, one thread: node:zlib ${fmt(mb(data.length) / z.sec)} MB/s → ${fmt(mb(z.n), 2)} MB | ` +
      `fflate ${fmt(mb(data.length) / f.sec)} MB/s → ${fmt(mb(f.n), 2)} MB`,
  );
  await rm(join(cacheDir, "layer1.tar.gzip9"), { force: true });
  await rm(join(cacheDir, "layer2.tar.gzip9"), { force: true });
  return out;
}
