// Random 4 KiB preads for bench:store, in its own process (a process must not read a mount it serves,
// and the bench's event loop must not sit between a read and its clock): READERS worker threads, each a
// loop of synchronous `pread`s, each timed alone (performance.now() around readSync). Reader k draws
// its sequence of (file, offset) from a fixed-seed generator seeded with SEED + k, so every store (and
// the local copy) gets the same reads; a file is opened on its first draw (not timed) and kept open.
// Files are the regular, non-empty files given, drawn uniformly. Buffered (`direct` false): the offset is
// uniform over [0, size - 4096], and the kernel's page cache and readahead stand between the reader and
// the store, as for any program. `direct`: the file is opened O_DIRECT and the offset is a uniform
// multiple of 4096, so every pread reaches the store (and, on a local disk, the disk) as one 4 KiB read.
//
//   node dist/bench/store/random-read.js SPEC.json
// SPEC: { files: [{ root, path, size }], seed, readers, reads, seconds, direct } — `root` indexes the roots
// given later; `seconds` > 0 reads for that long instead of `reads` per reader.
// Prints "ready" once the workers are up, then waits for one stdin line: a JSON array of roots (the
// directories `root` indexes, e.g. two layers' diff/). Prints one JSON line (ReadResult) and exits.
import { createHash } from "node:crypto";
import { constants, openSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

export interface ReadSpec {
  files: Array<{ root: number; path: string; size: number }>;
  seed: number;
  readers: number;
  reads: number;
  seconds: number;
  direct: boolean;
}

export interface ReadResult {
  count: number;
  /** Latency percentiles of single preads, ms. */
  p50: number;
  p99: number;
  max: number;
  wallMs: number;
  /** sha256 over every reader's bytes in order: equal for equal sequences over equal trees. */
  digest: string;
}

const READ = 4096;

/** mulberry32: small, fast, and the same sequence everywhere for a seed. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface WorkerInput { spec: ReadSpec; index: number }

function readerLoop({ spec, index }: WorkerInput, roots: string[]): { lat: Float64Array; count: number; digest: string } {
  const next = generator(spec.seed + index);
  const fds = new Map<number, number>();
  // O_DIRECT on a local file system wants an aligned buffer: a Wasm memory starts on a page.
  const buf = spec.direct ? Buffer.from(new WebAssembly.Memory({ initial: 1 }).buffer, 0, READ) : Buffer.allocUnsafe(READ);
  const flags = constants.O_RDONLY | (spec.direct ? constants.O_DIRECT : 0);
  const hash = createHash("sha256");
  const cap = spec.seconds > 0 ? 1 << 22 : spec.reads;
  let lat = new Float64Array(Math.min(cap, 1 << 16));
  let count = 0;
  const until = performance.now() + spec.seconds * 1000;
  while (spec.seconds > 0 ? performance.now() < until && count < cap : count < spec.reads) {
    const fi = Math.floor(next() * spec.files.length);
    const f = spec.files[fi];
    const offset = spec.direct ? Math.floor(next() * Math.ceil(f.size / READ)) * READ : Math.floor(next() * Math.max(1, f.size - READ + 1));
    let fd = fds.get(fi);
    if (fd === undefined) { fd = openSync(join(roots[f.root], f.path), flags); fds.set(fi, fd); }
    const t = performance.now();
    const n = readSync(fd, buf, 0, READ, offset);
    const dt = performance.now() - t;
    if (count === lat.length) { const l = new Float64Array(lat.length * 2); l.set(lat); lat = l; }
    lat[count++] = dt;
    hash.update(buf.subarray(0, n));
  }
  return { lat: lat.subarray(0, count), count, digest: hash.digest("hex") };
}

if (!isMainThread) {
  const input = workerData as WorkerInput;
  parentPort!.postMessage("ready");
  parentPort!.once("message", (roots: string[]) => {
    const r = readerLoop(input, roots);
    parentPort!.postMessage(r, [r.lat.buffer as ArrayBuffer]);
  });
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const spec = JSON.parse(readFileSync(process.argv[2], "utf8")) as ReadSpec;
  const workers = Array.from({ length: spec.readers }, (_, index) => new Worker(fileURLToPath(import.meta.url), { workerData: { spec, index } }));
  await Promise.all(workers.map((w) => new Promise((r) => w.once("message", r))));
  process.stdout.write("ready\n");
  const input = createInterface({ input: process.stdin });
  const line = await new Promise<string>((resolve) => input.once("line", resolve));
  input.close();
  const roots = JSON.parse(line) as string[];
  const t0 = performance.now();
  const results = await Promise.all(workers.map((w) => new Promise<{ lat: Float64Array; count: number; digest: string }>((resolve, reject) => {
    w.once("message", resolve);
    w.once("error", reject);
    w.postMessage(roots);
  })));
  const wallMs = performance.now() - t0;
  const all = new Float64Array(results.reduce((n, r) => n + r.count, 0));
  let at = 0;
  for (const r of results) { all.set(r.lat, at); at += r.count; }
  all.sort();
  const q = (p: number) => all[Math.min(all.length - 1, Math.floor(p * all.length))];
  const digest = createHash("sha256").update(results.map((r) => r.digest).join("")).digest("hex");
  const out: ReadResult = { count: all.length, p50: q(0.5), p99: q(0.99), max: all[all.length - 1], wallMs, digest };
  process.stdout.write(JSON.stringify(out) + "\n");
  await Promise.all(workers.map((w) => w.terminate()));
  process.exit(0);
}
