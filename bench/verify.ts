// npm run bench:verify — `esgz-fast verify` on the two benchmark layers (../shared/bench/make-layers.sh,
// converted with our writer; cached in .bench-cache/), beside, in the same run, the shell pipeline
// `sha256sum blob; gzip -dc blob | sha256sum` (blob digest + diffID only: it checks less).
// Three figures per layer: verifyLayer() in this process (the work itself), the CLI as a subprocess
// (what a user waits for, Node start-up included), and the shell pipeline. Median of a few runs.
import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { convertLayerFile } from "../src/convert/layer.js";
import { blobTarget } from "../src/verify/inputs/blob.js";
import { verifyLayer } from "../src/verify/layer.js";
import { CHECKS, layerFailed } from "../src/verify/checks.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const cache = join(root, ".bench-cache");
const shared = process.env.ESGZ_SHARED ?? resolve(root, "..", "shared");
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

interface Facts { digest: string; size: number; tocDigest: string; diffId: string; uncompressedSize: number }

async function layer(i: number): Promise<{ blob: string; facts: Facts }> {
  const tar = join(cache, `layer${i}.tar`);
  const blob = join(cache, `layer${i}.esgz`);
  const factsFile = join(cache, `layer${i}.facts.json`);
  await mkdir(cache, { recursive: true });
  if (!existsSync(tar)) {
    console.error(`making the benchmark layers in ${cache} (make-layers.sh, needs root)…`);
    execFileSync("bash", [join(shared, "bench", "make-layers.sh"), cache], { stdio: ["ignore", "ignore", "inherit"] });
  }
  if (!existsSync(blob) || !existsSync(factsFile)) {
    const r = await convertLayerFile(tar, blob);
    await writeFile(factsFile, JSON.stringify({ digest: r.digest, size: r.size, tocDigest: r.tocDigest, diffId: r.diffId, uncompressedSize: r.uncompressedSize }));
  }
  return { blob, facts: JSON.parse(await readFile(factsFile, "utf8")) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

function sh(cmd: string, args: string[]): Promise<string> {
  return new Promise((res, rej) => execFile(cmd, args, { maxBuffer: 16 << 20 }, (err, out) => (err ? rej(err) : res(out))));
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

const ms = (x: number) => `${x.toFixed(0).padStart(5)} ms`;

console.log(`verify: ${RUNS} runs each, median; pipeline = sha256sum blob; gzip -dc blob | sha256sum`);
console.log(`${"layer".padEnd(8)} ${"blob MiB".padStart(8)} ${"tar MiB".padStart(8)} ${"verify (in-process)".padStart(20)} ${"verify (CLI)".padStart(13)} ${"pipeline".padStart(9)}  in-process/CLI speed-up vs pipeline`);
for (const i of [1, 2]) {
  const { blob, facts } = await layer(i);
  const flags = { digest: facts.digest, size: facts.size, tocDigest: facts.tocDigest, diffId: facts.diffId, uncompressedSize: facts.uncompressedSize };
  const target = await blobTarget(blob, flags);
  // one warm-up of each, and a check that everything really verified
  const report = await verifyLayer(target);
  if (layerFailed(report) || CHECKS.some((c) => report.checks[c].status !== "pass")) {
    throw new Error(`layer${i}: verify did not pass every check: ${JSON.stringify(report.checks)}`);
  }
  const pipeline = () => sh("bash", ["-c", 'sha256sum "$1"; gzip -dc "$1" | sha256sum', "-", blob]);
  const out = await pipeline();
  if (!out.includes(facts.diffId.slice(7)) || !out.includes(facts.digest.slice(7))) throw new Error(`pipeline output unexpected: ${out}`);
  const cliArgs = [join(root, "dist", "src", "cli", "main.js"), "verify", blob, "--digest", facts.digest, "--toc-digest", facts.tocDigest, "--diff-id", facts.diffId, "--uncompressed-size", String(facts.uncompressedSize)];
  const t = { inproc: [] as number[], cli: [] as number[], pipe: [] as number[] };
  for (let r = 0; r < RUNS; r++) {
    t.pipe.push(await time(pipeline));
    t.inproc.push(await time(() => verifyLayer(target)));
    t.cli.push(await time(() => sh(process.execPath, cliArgs)));
  }
  const [a, b, c] = [median(t.inproc), median(t.cli), median(t.pipe)];
  console.log(
    `layer${i}`.padEnd(8),
    (facts.size / 2 ** 20).toFixed(1).padStart(8),
    (facts.uncompressedSize / 2 ** 20).toFixed(1).padStart(8),
    ms(a).padStart(20),
    ms(b).padStart(13),
    ms(c).padStart(9),
    ` ${(c / a).toFixed(2)}× / ${(c / b).toFixed(2)}×`,
  );
}
const nodeStart = [] as number[];
for (let r = 0; r < RUNS; r++) nodeStart.push(await time(() => sh(process.execPath, ["-e", ""])));
console.log(`(node start-up alone: ${median(nodeStart).toFixed(0)} ms)`);
