// npm run bench:verify — `esgz-fast verify` on the two benchmark layers (../shared/bench/make-layers.sh,
// converted with our writer; cached in .bench-cache/), beside, in the same run, the shell pipeline
// `sha256sum blob; gzip -dc blob | sha256sum` (blob digest + diffID only: it checks less).
// Per layer: verifyLayer() in this process (the work itself: wall time and CPU time of all threads),
// the CLI (the bundled `bin`) as a subprocess (what a user waits for, Node start-up and module loading
// included), and the shell pipeline (wall time and its processes' CPU time). Median of a few runs. On a
// busy machine the wall times follow the load; the CPU times much less.
import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { convertLayerFile } from "../src/convert/layer.js";
import { blobTarget } from "../src/verify/inputs/blob.js";
import { verifyLayer } from "../src/verify/layer.js";
import { CHECKS, layerFailed } from "../src/verify/checks.js";
import { cliPath } from "../src/demo/store.js";

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

/** Wall and CPU (user + system, every thread of this process) milliseconds of `fn`. */
async function timeCpu(fn: () => Promise<unknown>): Promise<[number, number]> {
  const c = process.cpuUsage();
  const wall = await time(fn);
  const d = process.cpuUsage(c);
  return [wall, (d.user + d.system) / 1000];
}

/** The pipeline, timed by bash: wall ms and its children's CPU ms (from `times`). */
async function pipelineRun(blob: string): Promise<[number, number, string]> {
  let out = "";
  const wall = await time(async () => {
    out = await sh("bash", ["-c", 'sha256sum "$1"; gzip -dc "$1" | sha256sum; times', "-", blob]);
  });
  const lines = out.trim().split("\n");
  const m = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s/.exec(lines[lines.length - 1]);
  const cpu = m ? (Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 1000 : NaN;
  return [wall, cpu, out];
}

const ms = (x: number) => `${x.toFixed(0).padStart(5)} ms`;

console.log(`verify: ${RUNS} runs each, median; pipeline = sha256sum blob; gzip -dc blob | sha256sum`);
console.log(`load average: ${(await import("node:os")).loadavg().map((x) => x.toFixed(1)).join(" ")} on ${(await import("node:os")).cpus().length} CPUs`);
console.log(
  `${"layer".padEnd(7)} ${"blob MiB".padStart(8)} ${"tar MiB".padStart(8)} | ${"verify wall".padStart(11)} ${"cpu".padStart(8)} | ${"CLI wall".padStart(9)} | ${"pipeline wall".padStart(13)} ${"cpu".padStart(8)} | speed-up: wall, CLI wall, cpu`,
);
/** Per layer: the CLI's wall time for the 1.5× target (the pipeline's / 1.5). */
const budgets: string[] = [];
for (const i of [1, 2]) {
  const { blob, facts } = await layer(i);
  const flags = { digest: facts.digest, size: facts.size, tocDigest: facts.tocDigest, diffId: facts.diffId, uncompressedSize: facts.uncompressedSize };
  const target = await blobTarget(blob, flags);
  // one warm-up of each, and a check that everything really verified
  const report = await verifyLayer(target);
  if (layerFailed(report) || CHECKS.some((c) => report.checks[c].status !== "pass")) {
    throw new Error(`layer${i}: verify did not pass every check: ${JSON.stringify(report.checks)}`);
  }
  const [, , out] = await pipelineRun(blob);
  if (!out.includes(facts.diffId.slice(7)) || !out.includes(facts.digest.slice(7))) throw new Error(`pipeline output unexpected: ${out}`);
  const cliArgs = [cliPath, "verify", blob, "--digest", facts.digest, "--toc-digest", facts.tocDigest, "--diff-id", facts.diffId, "--uncompressed-size", String(facts.uncompressedSize)];
  const t = { wall: [] as number[], cpu: [] as number[], cli: [] as number[], pipe: [] as number[], pipeCpu: [] as number[] };
  for (let r = 0; r < RUNS; r++) {
    const [pw, pc] = await pipelineRun(blob);
    t.pipe.push(pw);
    t.pipeCpu.push(pc);
    const [w, c] = await timeCpu(() => verifyLayer(target));
    t.wall.push(w);
    t.cpu.push(c);
    t.cli.push(await time(() => sh(process.execPath, cliArgs)));
  }
  const [w, c, cli, pw, pc] = [median(t.wall), median(t.cpu), median(t.cli), median(t.pipe), median(t.pipeCpu)];
  budgets.push(`layer${i} ${ms(pw / 1.5).trim()}`);
  console.log(
    `layer${i}`.padEnd(7),
    (facts.size / 2 ** 20).toFixed(1).padStart(8),
    (facts.uncompressedSize / 2 ** 20).toFixed(1).padStart(8),
    "|", ms(w).padStart(11), ms(c).padStart(8),
    "|", ms(cli).padStart(9),
    "|", ms(pw).padStart(13), ms(pc).padStart(8),
    `| ${(pw / w).toFixed(2)}×, ${(pw / cli).toFixed(2)}×, ${(pc / c).toFixed(2)}×`,
  );
}
// The floor under the CLI column: Node starting and exiting, and Node starting one worker thread that
// exits at once (the CLI's inflate runs in one) — before reading a byte of the blob.
const nodeStart = [] as number[];
const withWorker = [] as number[];
const workerScript = 'const { Worker } = require("node:worker_threads"); new Worker("", { eval: true }).on("exit", () => {});';
for (let r = 0; r < RUNS; r++) {
  nodeStart.push(await time(() => sh(process.execPath, ["-e", ""])));
  withWorker.push(await time(() => sh(process.execPath, ["-e", workerScript])));
}
console.log(`(node start-up alone: ${median(nodeStart).toFixed(0)} ms; with one worker thread started and ended: ${median(withWorker).toFixed(0)} ms)`);
console.log(`(the CLI's time for 1.5× the pipeline: ${budgets.join(", ")} — before verifying anything, Node uses the above)`);
