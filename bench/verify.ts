// npm run bench:verify [-- --runs N] — `esgz-fast verify` on three layer blobs converted with our writer
// (cached in .bench-cache/): the two benchmark layers of ../shared/bench/make-layers.sh (4.7 and 10.9 MiB)
// and a ~20 MiB one (layer 2's 20 MiB file beside 9.5 MiB of incompressible bytes), beside, in the same
// run, the shell pipeline `sha256sum blob; gzip -dc blob | sha256sum` (blob digest + diffID only: it
// checks less). Per blob: the CLI (the bundled `bin`) as a subprocess (what a user waits for, Node
// start-up and module loading included: issue 15's target is pipeline / CLI ≥ 1.0×), the pipeline
// (wall time and its processes' CPU time), and verifyLayer() in this process (the work itself: wall
// time and CPU time of all threads). Runs interleaved; median and min–max over the runs. On a busy
// machine the wall times follow the load; the CPU times much less.
import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createCipheriv } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { convertLayerFile } from "../src/convert/layer.js";
import { blobTarget } from "../src/verify/inputs/blob.js";
import { verifyLayer } from "../src/verify/layer.js";
import { CHECKS, layerFailed } from "../src/verify/checks.js";
import { cliPath } from "../src/demo/store.js";
import { spread } from "./store/table.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const cache = join(root, ".bench-cache");
const shared = process.env.ESGZ_SHARED ?? resolve(root, "..", "shared");
const { values: opts } = parseArgs({ options: { runs: { type: "string", default: process.env.BENCH_RUNS ?? "5" } } });
const RUNS = Number(opts.runs);
if (!(RUNS >= 1)) throw new Error("--runs takes a positive number");

interface Facts { digest: string; size: number; tocDigest: string; diffId: string; uncompressedSize: number }

/** The two benchmark layers' tars (make-layers.sh, once). */
function benchTar(i: 1 | 2): string {
  const tar = join(cache, `layer${i}.tar`);
  if (!existsSync(tar)) {
    console.error(`making the benchmark layers in ${cache} (make-layers.sh, needs root)…`);
    execFileSync("bash", [join(shared, "bench", "make-layers.sh"), cache], { stdio: ["ignore", "ignore", "inherit"] });
  }
  return tar;
}

/** A ~20 MiB blob's tar: layer 2's 20 MiB file (compresses to about half) and 9.5 MiB of AES-CTR keystream (does not compress). */
async function bigTar(): Promise<string> {
  const tar = join(cache, "layer20m.tar");
  if (existsSync(tar)) return tar;
  const dir = join(cache, "layer20m");
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, "data"), { recursive: true });
  execFileSync("tar", ["-xf", benchTar(2), "-C", dir, "./data/big-20m.bin"]);
  const keystream = createCipheriv("aes-128-ctr", Buffer.alloc(16), Buffer.alloc(16)).update(Buffer.alloc(9.5 * 2 ** 20));
  await writeFile(join(dir, "data", "random-9m.bin"), keystream);
  execFileSync("sh", ["-c", `find "$1" -exec touch -h -d '2024-01-02 03:04:05 UTC' {} + && tar --format=pax --numeric-owner --sort=name -C "$1" -cf "$2" .`, "sh", dir, tar]);
  await rm(dir, { recursive: true, force: true });
  return tar;
}

/** A blob converted from `tar` with the writer's defaults, and its facts (both cached). */
async function layer(name: string, tar: string): Promise<{ blob: string; facts: Facts }> {
  const blob = join(cache, `${name}.esgz`);
  const factsFile = join(cache, `${name}.facts.json`);
  if (!existsSync(blob) || !existsSync(factsFile)) {
    const r = await convertLayerFile(tar, blob);
    await writeFile(factsFile, JSON.stringify({ digest: r.digest, size: r.size, tocDigest: r.tocDigest, diffId: r.diffId, uncompressedSize: r.uncompressedSize }));
  }
  return { blob, facts: JSON.parse(await readFile(factsFile, "utf8")) };
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

const blobs: Array<[string, string]> = [["layer 1", "layer1"], ["layer 2", "layer2"], ["20 MiB", "layer20m"]];
const tars = [benchTar(1), benchTar(2), await bigTar()];
console.log(`bench:verify, ${RUNS} runs, interleaved; load average ${loadavg()[0].toFixed(1)} on ${cpus().length} CPUs; median (min–max) over the runs\n`);
console.log("| blob | MiB (tar MiB) | `esgz-fast verify` (CLI) | pipeline | pipeline / CLI | target | verifyLayer() in process: wall, CPU | pipeline CPU |");
console.log("|---|---|---|---|---|---|---|---|");
for (const [k, [label, name]] of blobs.entries()) {
  const { blob, facts } = await layer(name, tars[k]);
  const flags = { digest: facts.digest, size: facts.size, tocDigest: facts.tocDigest, diffId: facts.diffId, uncompressedSize: facts.uncompressedSize };
  const target = await blobTarget(blob, flags);
  // one warm-up of each, and a check that everything really verified
  const report = await verifyLayer(target);
  if (layerFailed(report) || CHECKS.some((c) => report.checks[c].status !== "pass")) {
    throw new Error(`${label}: verify did not pass every check: ${JSON.stringify(report.checks)}`);
  }
  const [, , out] = await pipelineRun(blob);
  if (!out.includes(facts.diffId.slice(7)) || !out.includes(facts.digest.slice(7))) throw new Error(`pipeline output unexpected: ${out}`);
  const cliArgs = [cliPath, "verify", blob, "--digest", facts.digest, "--toc-digest", facts.tocDigest, "--diff-id", facts.diffId, "--uncompressed-size", String(facts.uncompressedSize)];
  await sh(process.execPath, cliArgs);
  const t = { wall: [] as number[], cpu: [] as number[], cli: [] as number[], pipe: [] as number[], pipeCpu: [] as number[], ratio: [] as number[] };
  for (let r = 0; r < RUNS; r++) {
    // The two sides of the ratio back to back, in alternating order.
    const cli = () => time(() => sh(process.execPath, cliArgs));
    let c: number, pw: number, pc: number;
    if (r % 2) { c = await cli(); [pw, pc] = await pipelineRun(blob); } else { [pw, pc] = await pipelineRun(blob); c = await cli(); }
    t.cli.push(c);
    t.pipe.push(pw);
    t.pipeCpu.push(pc);
    t.ratio.push(pw / c);
    const [w, cpu] = await timeCpu(() => verifyLayer(target));
    t.wall.push(w);
    t.cpu.push(cpu);
  }
  const mib = (n: number) => (n / 2 ** 20).toFixed(1);
  console.log(`| ${label} | ${mib(facts.size)} (${mib(facts.uncompressedSize)}) | ${spread(t.cli, "ms")} | ${spread(t.pipe, "ms")} | ${spread(t.ratio, "×")} | ≥ 1.0× | ${spread(t.wall, "ms")}, ${spread(t.cpu, "ms")} | ${spread(t.pipeCpu, "ms")} |`);
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
console.log([
  "",
  "pipeline: `sha256sum blob; gzip -dc blob | sha256sum` (bash, wall; CPU of its processes from `times`). CLI: `node",
  "dist/bundle/cli.js verify BLOB --digest … --toc-digest … --diff-id … --uncompressed-size …` as a subprocess, wall.",
  `Floor under the CLI column: Node starting and exiting ${spread(nodeStart, "ms")}; starting one worker thread that ends at once ${spread(withWorker, "ms")}.`,
].join("\n"));
