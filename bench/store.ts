// npm run bench:store [-- --runs N] [--only SECTION,…] [--long] [--long-seconds S]
//
// esgz-fast's store against the Go stargz-store 0.12 (../shared/go-stargz-store, built into
// .bench-cache/ when missing, or $ESGZ_GO_STORE), in the same run, on the same image: the two layers of
// ../shared/bench/make-layers.sh (made once into .bench-cache/store), converted by our writer (default
// settings) and pushed to one loopback docker-registry. Each store runs with its defaults (empty
// config.toml, its own empty --root) and reaches the registry over plain HTTP on 127.0.0.1. Every
// figure is taken on a fresh store, spawned after `sync` + drop_caches; the stores alternate (Go
// first in odd runs, esgz-fast first in even ones). Printed: per figure the median over the runs and
// the spread (min–max), for both stores, the ratio esgz-fast / Go (taken per run), the issue's target
// (issue 15), the floor — the same commands on bench/fuse-floor.ts, a FUSE file system on our stack
// with nothing behind it — and a reference without any store (the local copy of the tree; for podman,
// a plain pull). How each figure is taken: docs/decisions.md, "bench:store against the Go store".
// Needs root (make-layers.sh, drop_caches, podman).
//
// Sections (`--only` takes a comma list; all but `long` by default):
//   read    spawn → mounted, spawn → first `ls` of layer 2's diff/, the 20 MiB file: cold (two ways),
//           warm from the page cache, warm from the store's cache
//   layers  spawn → first `ls` of layer 1, cold and warm `find diff -type f | xargs cat` of each
//           layer, peak RSS after reading every layer
//   random  8 readers × 1 000 random 4 KiB preads of each layer on a cold store, buffered and O_DIRECT:
//           p50, p99
//   podman  `podman pull` + `podman run --rm` of the image from a cold store, and without a store
//   floor   the floor column
//   long    peak RSS after 8 readers × 60 s of random reads of both layers (--long-seconds S)
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, rm, stat, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { parseArgs, promisify } from "node:util";
import type { Podman } from "../src/demo/podman.js";
import { detachStaleMount, isMountPoint, unmountPath } from "../src/fs/fuse.js";
import { repoRoot, sharedDir } from "../test/helpers/paths.js";
import { isolatedPodman, pushEStargzImage, refDir } from "../test/helpers/podman.js";
import { startRegistry, type TestRegistry } from "../test/helpers/registry.js";
import { libcLayerTar, plainPodman, pullAndRun } from "./store/podman.js";
import type { ReadResult, ReadSpec } from "./store/random-read.js";
import { goStoreBinary, startStore, stopAll, STORE_NAMES, vmHwm, type RunningStore, type StoreKind } from "./store/stores.js";
import { Results, type Figure } from "./store/table.js";

const sh = promisify(execFile);

const SECTIONS = ["read", "layers", "random", "podman", "floor", "long"] as const;
type Section = (typeof SECTIONS)[number];
const { values: opts } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    only: { type: "string" },
    long: { type: "boolean", default: false },
    "long-seconds": { type: "string", default: "60" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (opts.help) {
  console.log("npm run bench:store -- [--runs N (3)] [--only read,layers,random,podman,floor,long] [--long] [--long-seconds S (60)]");
  process.exit(0);
}
const RUNS = Number(opts.runs);
const LONG_SECONDS = Number(opts["long-seconds"]);
const only = opts.only?.split(",").map((s) => s.trim()).filter(Boolean);
for (const s of only ?? []) if (!SECTIONS.includes(s as Section)) throw new Error(`--only: no section "${s}" (${SECTIONS.join(", ")})`);
const sections = new Set<Section>(only ? (only as Section[]) : SECTIONS.filter((s) => s !== "long" || opts.long));
if (opts.long) sections.add("long");
if (!(RUNS >= 1) || !(LONG_SECONDS > 0)) throw new Error("--runs and --long-seconds take positive numbers");

const READERS = 8;
const READS = 1000;
const SEED = 15;
const BIG = "data/big-20m.bin";
/** What one idle worker thread adds to a Node process's RSS here (measured: 9.5–10.4 MiB): the store
 *  needs one (its inflate and hashes run there), the floor has none. */
const WORKER_MIB = 10;

// The rows, in the order of issue 15's table. Targets: the ratio esgz-fast / Go the issue asks for.
const FIGURES: Array<readonly [string, Figure]> = [
  ["mounted", { label: "spawn → mounted", unit: "ms", target: "≤ 1.0×" }],
  ["ls2", { label: "spawn → first `ls -la` of layer 2's diff/", unit: "ms", target: "≤ 1.0×" }],
  ["ls1", { label: "spawn → first `ls -la` of layer 1's diff/", unit: "ms", target: "≤ 1.0×" }],
  ["coldResolved", { label: "cold `cat` 20 MiB, layer resolved earlier (pull's lookups, then first `ls`)", unit: "ms", target: "≤ 0.25×" }],
  ["coldLs", { label: "cold `cat` 20 MiB, started right after the first `ls`", unit: "ms", target: "≤ 0.25×" }],
  ["warmPage", { label: "warm `cat` 20 MiB, page cache", unit: "ms", target: "≤ 1.0×" }],
  ["warmStore", { label: "warm `cat` 20 MiB, store cache (file's pages evicted)", unit: "ms", target: "≤ 1.0×" }],
  ["blob", { label: "whole `blob` of layer 2 read (`cat`; reference: `curl` of the blob from the registry)", unit: "ms", target: "" }],
  ["cold1", { label: "cold `find diff -type f \\| xargs cat`, layer 1", unit: "ms", target: "≤ 0.4×" }],
  ["cold2", { label: "cold `find diff -type f \\| xargs cat`, layer 2", unit: "ms", target: "≤ 0.4×" }],
  ["warm1", { label: "warm `find … \\| xargs cat`, layer 1 (page cache)", unit: "ms", target: "≤ 1.0×" }],
  ["warm2", { label: "warm `find … \\| xargs cat`, layer 2 (page cache)", unit: "ms", target: "≤ 1.0×" }],
  ["rss", { label: "peak RSS (VmHWM) after reading every layer", unit: "MiB", target: "≤ 1.0×", floorExtra: WORKER_MIB }],
  ["podman", { label: "`podman pull` + `podman run --rm` (/bin/hello), cold store", unit: "ms", target: "≤ 0.8×" }],
  ["podmanPull", { label: "… of which `podman pull`", unit: "ms", target: "" }],
  ["podmanRun", { label: "… of which `podman run`", unit: "ms", target: "" }],
  ...(["b", "d"] as const).flatMap((m) => [1, 2].flatMap((i) => [
    [`p50_${m}${i}`, { label: `random 4 KiB pread p50, layer ${i}, ${m === "b" ? "buffered" : "O_DIRECT"}, ${READERS} × ${READS}, cold store`, unit: "ms", target: "≤ 1.0×" }],
    [`p99_${m}${i}`, { label: `… p99`, unit: "ms", target: "≤ 0.2×" }],
  ] as const)),
  ["longRss", { label: `peak RSS after ${READERS} readers × ${LONG_SECONDS} s of random O_DIRECT reads, both layers`, unit: "MiB", target: "" }],
  ["longP50", { label: `… pread p50 over those ${LONG_SECONDS} s`, unit: "ms", target: "" }],
  ["longP99", { label: `… pread p99 over those ${LONG_SECONDS} s`, unit: "ms", target: "" }],
];
const results = new Results(FIGURES);

const cacheDir = join(repoRoot, ".bench-cache", "store");
const work = join(tmpdir(), `esgz-bench-store-${process.pid}`);
let reg: TestRegistry | undefined;
const podmans = new Set<Podman>();
const children = new Set<ChildProcess>();
const mountpoints = new Set<string>();

// ---------------------------------------------------------------------------------------------
// Commands, timed from this process (each `sh -c`: the same few ms of process start on every column).

async function timed(cmd: string): Promise<number> {
  const t0 = performance.now();
  await sh("sh", ["-c", cmd], { maxBuffer: 1 << 30 });
  return performance.now() - t0;
}
const q = (p: string) => `'${p.replaceAll("'", `'\\''`)}'`;
const lsCmd = (dir: string) => `ls -la ${q(dir)} > /dev/null`;
const catCmd = (file: string) => `cat ${q(file)} > /dev/null`;
const allCmd = (dir: string) => `cd ${q(dir)} && find . -type f -print0 | xargs -0 cat > /dev/null`;
/** Evicts one file's pages from the page cache (GNU dd: posix_fadvise(POSIX_FADV_DONTNEED) over the whole file). */
const evictCmd = (file: string) => `dd if=${q(file)} iflag=nocache count=0 status=none`;

// Dirty pages are written back first (sync): drop_caches leaves them, and their writeback (the
// previous store's cache files, the registry's uploads) would otherwise land inside a timed read.
async function dropCaches(): Promise<void> {
  await sh("sync");
  await writeFile("/proc/sys/vm/drop_caches", "3");
}

async function sha256Of(file: string): Promise<string> {
  const { stdout } = await sh("sha256sum", [file], { maxBuffer: 1 << 20 });
  return stdout.split(" ")[0];
}

// ---------------------------------------------------------------------------------------------
// Set-up: layers, local copies, the registry and the two images.

interface Bench {
  goBinary: string;
  /** The two benchmark layers' trees extracted on this disk. */
  local: string[];
  /** The image of the two layers, and each layer's diff/ under a mountpoint. */
  ref: string;
  diff(mnt: string, i: number): string;
  /** The podman image: a loader-and-libc layer under the same two layers, Cmd /bin/hello. */
  runRef: string;
  /** Regular non-empty files of each layer (paths relative to its root), for the random reads. */
  files: Array<Array<{ path: string; size: number }>>;
  bigSha256: string;
  /** Layer 2's blob on the registry. */
  blobUrl: string;
}

async function regularFiles(root: string): Promise<Array<{ path: string; size: number }>> {
  const out: Array<{ path: string; size: number }> = [];
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    const { size } = await stat(path);
    if (size > 0) out.push({ path: path.slice(root.length + 1), size });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

async function setUp(): Promise<Bench> {
  const goBinary = await goStoreBinary();
  await mkdir(cacheDir, { recursive: true });
  const tars = [join(cacheDir, "layer1.tar"), join(cacheDir, "layer2.tar")];
  if (!tars.every((t) => existsSync(t))) {
    console.error("making the benchmark layers (once, into .bench-cache/store)…");
    await sh("bash", [join(sharedDir, "bench", "make-layers.sh"), cacheDir], { maxBuffer: 1 << 26 });
  }
  const libcTar = join(cacheDir, "libc.tar");
  if (!existsSync(libcTar)) await libcLayerTar(cacheDir, libcTar);
  const local = [join(cacheDir, "local1"), join(cacheDir, "local2")];
  for (let i = 0; i < 2; i++) {
    if (!existsSync(local[i])) {
      await mkdir(local[i]);
      await sh("tar", ["--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", tars[i], "-C", local[i]]);
    }
  }
  reg = await startRegistry();
  const img = await pushEStargzImage(reg, "bench/app", "v1", tars); // writer defaults
  const run = await pushEStargzImage(reg, "bench/run", "v1", [libcTar, ...tars], { cmd: ["/bin/hello"] });
  console.log(`layers: ${img.layers.map((l, i) => `layer ${i + 1} ${(l.size / 2 ** 20).toFixed(1)} MiB (${(img.facts[i].uncompressedSize / 2 ** 20).toFixed(1)} MiB tar)`).join(", ")}; podman's image adds a ${(run.layers[0].size / 2 ** 20).toFixed(1)} MiB layer with /bin/hello's loader and libc`);
  return {
    goBinary, local, ref: img.ref, runRef: run.ref,
    diff: (mnt, i) => join(mnt, refDir(img.ref), img.layers[i].digest, "diff"),
    files: await Promise.all(local.map(regularFiles)),
    bigSha256: await sha256Of(join(local[1], BIG)),
    blobUrl: `${reg.url}/v2/bench/app/blobs/${img.layers[1].digest}`,
  };
}

// ---------------------------------------------------------------------------------------------
// The stores, each fresh: an empty root, spawned after the page cache was dropped.

let storeSerial = 0;
async function fresh(b: Bench, kind: StoreKind): Promise<RunningStore> {
  await dropCaches();
  const mnt = join(work, `mnt-${kind}`);
  mountpoints.add(mnt);
  return startStore(kind, { mountpoint: mnt, root: join(work, `root-${kind}-${storeSerial++}`), goBinary: b.goBinary });
}

/** Stops the store and deletes its root (its cache), config and log. */
async function done(s: RunningStore): Promise<void> {
  await s.stop();
  for (const p of [s.root, `${s.root}.config.toml`, `${s.root}.log`]) await rm(p, { recursive: true, force: true });
}

let readerSerial = 0;
/** A random-read process, started and ready (workers up) before the store it will read is spawned. */
async function startReader(spec: ReadSpec): Promise<{ go(roots: string[]): Promise<ReadResult>; kill(): void }> {
  const specPath = join(work, `reads-${readerSerial++}.json`);
  await writeFile(specPath, JSON.stringify(spec));
  const child = spawn(process.execPath, [join(repoRoot, "dist", "bench", "store", "random-read.js"), specPath], { stdio: ["pipe", "pipe", "inherit"] });
  children.add(child);
  const lines = createInterface({ input: child.stdout! });
  const next = () => new Promise<string>((resolve, reject) => {
    lines.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`random-read exited (${code})`)));
  });
  const ready = await next();
  if (ready !== "ready") throw new Error(`random-read: ${ready}`);
  return {
    async go(roots) {
      child.stdin!.end(JSON.stringify(roots) + "\n");
      const r = JSON.parse(await next()) as ReadResult;
      await new Promise((res) => (child.exitCode === null ? child.once("exit", res) : res(null)));
      children.delete(child);
      await rm(specPath, { force: true });
      return r;
    },
    kill() { child.kill("SIGKILL"); children.delete(child); void rm(specPath, { force: true }); },
  };
}

function readSpec(b: Bench, layers: number[], direct: boolean, seconds = 0): ReadSpec {
  const files = layers.flatMap((i, root) => b.files[i].map((f) => ({ root, ...f })));
  return { files, seed: SEED, readers: READERS, reads: READS, seconds, direct };
}
/** The random-read cases: buffered and O_DIRECT, each layer. */
const RANDOM = (["b", "d"] as const).flatMap((m) => [0, 1].map((i) => ({ m, i, key: `${m}${i + 1}` })));

// ---------------------------------------------------------------------------------------------
// Sections: each step takes one store kind and returns its figures; the run records both as pairs.

type Figures = Record<string, number>;

const steps: Record<Exclude<Section, "floor">, Array<(b: Bench, kind: StoreKind) => Promise<Figures>>> = {
  read: [
    // Fresh store: first `ls` of layer 2, then at once the cold cat, the warm one, and one after
    // evicting the file's pages (served from the store's cache).
    async (b, kind) => {
      const s = await fresh(b, kind);
      try {
        const diff = b.diff(s.mountpoint, 1);
        await timed(lsCmd(diff));
        const ls2 = performance.now() - s.spawnedAt;
        const big = join(diff, BIG);
        const coldLs = await timed(catCmd(big));
        const warmPage = await timed(catCmd(big));
        await timed(evictCmd(big));
        const warmStore = await timed(catCmd(big));
        if ((await sha256Of(big)) !== b.bigSha256) throw new Error(`${STORE_NAMES[kind]} served ${BIG} with other bytes than the layer's`);
        // The raw blob, whole (what podman save/push read): esgz-fast fetches and checks all of it first.
        const blob = await timed(catCmd(join(diff, "..", "blob")));
        return { mounted: s.mountedMs, ls2, coldLs, warmPage, warmStore, blob };
      } finally { await done(s); }
    },
    // Fresh store: first what `podman pull` does through an additional layer store for each layer
    // (stat diff, info and blob, read info: the layer resolves), then the first `ls` of layer 2's
    // diff/ and at once the cold cat. No pause anywhere.
    async (b, kind) => {
      const s = await fresh(b, kind);
      try {
        const layerDirs = [0, 1].map((i) => q(join(b.diff(s.mountpoint, i), "..")));
        await timed(`for d in ${layerDirs.join(" ")}; do stat "$d/diff" "$d/info" "$d/blob" > /dev/null; cat "$d/info" > /dev/null; done`);
        const diff = b.diff(s.mountpoint, 1);
        await timed(lsCmd(diff));
        const coldResolved = await timed(catCmd(join(diff, BIG)));
        return { mounted: s.mountedMs, coldResolved };
      } finally { await done(s); }
    },
  ],
  layers: [
    // Layer 1 cold and warm, then layer 2 read whole (untimed): the peak RSS after every layer.
    async (b, kind) => {
      const s = await fresh(b, kind);
      try {
        const [d1, d2] = [b.diff(s.mountpoint, 0), b.diff(s.mountpoint, 1)];
        await timed(lsCmd(d1));
        const ls1 = performance.now() - s.spawnedAt;
        const cold1 = await timed(allCmd(d1));
        const warm1 = await timed(allCmd(d1));
        await timed(allCmd(d2));
        return { mounted: s.mountedMs, ls1, cold1, warm1, rss: await s.peakRss() };
      } finally { await done(s); }
    },
    async (b, kind) => {
      const s = await fresh(b, kind);
      try {
        const d2 = b.diff(s.mountpoint, 1);
        await timed(lsCmd(d2));
        const cold2 = await timed(allCmd(d2));
        const warm2 = await timed(allCmd(d2));
        return { mounted: s.mountedMs, cold2, warm2 };
      } finally { await done(s); }
    },
  ],
  random: RANDOM.map(({ m, i, key }) => async (b: Bench, kind: StoreKind): Promise<Figures> => {
    const reader = await startReader(readSpec(b, [i], m === "d"));
    let s: RunningStore | undefined;
    try {
      s = await fresh(b, kind);
      const diff = b.diff(s.mountpoint, i);
      await timed(lsCmd(diff));
      const r = await reader.go([diff]);
      randomDigests.set(`${key}:${kind}`, r.digest);
      return { [`p50_${key}`]: r.p50, [`p99_${key}`]: r.p99 };
    } finally {
      reader.kill();
      if (s) await done(s);
    }
  }),
  podman: [
    async (b, kind) => {
      const s = await fresh(b, kind);
      let podman: Podman | undefined;
      try {
        podman = await isolatedPodman(reg!.host, s.mountpoint);
        podmans.add(podman);
        const r = await pullAndRun(podman, b.runRef);
        return { podman: r.pullMs + r.runMs, podmanPull: r.pullMs, podmanRun: r.runMs };
      } finally {
        if (podman) { await podman.cleanup(); podmans.delete(podman); }
        await done(s);
      }
    },
  ],
  long: [
    async (b, kind) => {
      const reader = await startReader(readSpec(b, [0, 1], true, LONG_SECONDS));
      let s: RunningStore | undefined;
      try {
        s = await fresh(b, kind);
        const diffs = [b.diff(s.mountpoint, 0), b.diff(s.mountpoint, 1)];
        for (const d of diffs) await timed(lsCmd(d));
        const r = await reader.go(diffs);
        return { longRss: await s.peakRss(), longP50: r.p50, longP99: r.p99 };
      } finally {
        reader.kill();
        if (s) await done(s);
      }
    },
  ],
};
/** The random reads' digests, per layer and store: each must equal the local copy's (same sequence, same bytes). */
const randomDigests = new Map<string, string>();

// References without a store, taken once per run beside the stores.
const references: Partial<Record<Section, (b: Bench) => Promise<Figures>>> = {
  read: async (b) => {
    await dropCaches();
    const ls2 = await timed(lsCmd(b.local[1]));
    const big = join(b.local[1], BIG);
    const coldLs = await timed(catCmd(big));
    const warmPage = await timed(catCmd(big));
    await timed(evictCmd(big));
    const warmStore = await timed(catCmd(big));
    const blob = await timed(`curl -sf -o /dev/null ${q(b.blobUrl)}`);
    return { ls2, coldLs, coldResolved: coldLs, warmPage, warmStore, blob };
  },
  layers: async (b) => {
    const f: Figures = {};
    for (const i of [0, 1]) {
      await dropCaches();
      if (i === 0) f.ls1 = await timed(lsCmd(b.local[0]));
      f[`cold${i + 1}`] = await timed(allCmd(b.local[i]));
      f[`warm${i + 1}`] = await timed(allCmd(b.local[i]));
    }
    return f;
  },
  random: async (b) => {
    const f: Figures = {};
    for (const { m, i, key } of RANDOM) {
      const reader = await startReader(readSpec(b, [i], m === "d"));
      try {
        await dropCaches();
        const r = await reader.go([b.local[i]]);
        for (const kind of ["go", "esgz"] as const) {
          const d = randomDigests.get(`${key}:${kind}`);
          if (d !== undefined && d !== r.digest) throw new Error(`random reads (${key}): ${STORE_NAMES[kind]} returned other bytes than the local copy`);
        }
        Object.assign(f, { [`p50_${key}`]: r.p50, [`p99_${key}`]: r.p99 });
      } finally { reader.kill(); }
    }
    return f;
  },
  podman: async (b) => {
    await dropCaches();
    const podman = await plainPodman(reg!.host);
    podmans.add(podman);
    try {
      const r = await pullAndRun(podman, b.runRef); // the run: from local storage, the image just pulled
      return { podman: r.pullMs + r.runMs, podmanPull: r.pullMs, podmanRun: r.runMs };
    } finally {
      await podman.cleanup();
      podmans.delete(podman);
    }
  },
};

/** The floor: bench/fuse-floor.ts (its own process) timed with the same commands. */
async function floor(): Promise<Figures> {
  const mnt = join(work, "mnt-floor");
  mountpoints.add(mnt);
  await mkdir(mnt, { recursive: true });
  await dropCaches();
  const t0 = performance.now();
  const child = spawn(process.execPath, [join(repoRoot, "dist", "bench", "fuse-floor.js"), mnt, String(20 << 20)], { stdio: ["ignore", "ignore", "inherit"] });
  children.add(child);
  try {
    while (!(await isMountPoint(mnt))) {
      if (child.exitCode !== null) throw new Error(`fuse-floor exited (${child.exitCode}) before it mounted`);
      await new Promise((r) => setTimeout(r, 1));
    }
    const mounted = performance.now() - t0;
    await timed(lsCmd(mnt));
    const ls = performance.now() - t0;
    const big = join(mnt, "big.bin");
    const cold = await timed(catCmd(big));
    const warmPage = await timed(catCmd(big));
    await timed(evictCmd(big));
    const warmStore = await timed(catCmd(big));
    const rss = await vmHwm(child.pid!);
    return { mounted, ls1: ls, ls2: ls, coldLs: cold, coldResolved: cold, warmPage, warmStore, rss };
  } finally {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null) child.kill("SIGKILL");
    children.delete(child);
    await detachStaleMount(mnt).catch(() => unmountPath(mnt).catch(() => {}));
  }
}

// ---------------------------------------------------------------------------------------------

let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  return (cleaning ??= (async () => {
    for (const c of children) c.kill("SIGKILL");
    for (const p of podmans) await p.cleanup().catch(() => {});
    await stopAll();
    for (const m of mountpoints) await detachStaleMount(m).catch(() => unmountPath(m).catch(() => {}));
    await reg?.stop().catch(() => {});
    await rm(work, { recursive: true, force: true }).catch(() => {});
  })());
}
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    console.error(`\n${sig}: stopping the stores, podman and the registry…`);
    void cleanup().finally(() => { report(`interrupted (${sig}): partial`); process.exit(130); });
  });
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("bench:store needs root (make-layers.sh, drop_caches, podman)");
  await mkdir(work, { recursive: true });
  try {
    const b = await setUp();
    const load0 = loadavg()[0];
    const t0 = performance.now();
    for (let run = 0; run < RUNS; run++) {
      const order: StoreKind[] = run % 2 === 0 ? ["go", "esgz"] : ["esgz", "go"];
      for (const section of SECTIONS) {
        if (!sections.has(section)) continue;
        process.stderr.write(`run ${run + 1}/${RUNS}: ${section}…\n`);
        if (section === "floor") {
          for (const [k, v] of Object.entries(await floor())) results.add(k, "floor", v);
          continue;
        }
        for (const step of steps[section]) {
          const got: Partial<Record<StoreKind, Figures>> = {};
          for (const kind of order) got[kind] = await step(b, kind);
          for (const k of Object.keys(got.go!)) results.addPair(k, got.go![k], got.esgz![k]);
        }
        const ref = references[section];
        if (ref) for (const [k, v] of Object.entries(await ref(b))) results.add(k, "reference", v);
      }
    }
    report(`${RUNS} run(s), ${((performance.now() - t0) / 1000).toFixed(0)} s; load average ${load0.toFixed(1)} → ${loadavg()[0].toFixed(1)} on ${cpus().length} CPUs`);
  } finally {
    await cleanup();
  }
}

let reported = false;
/** Prints the table (what was measured so far, when `how` says it stopped early) and how it was taken. */
function report(how: string): void {
  if (reported) return;
  reported = true;
  console.log(`\nbench:store, ${how}; median (min–max) over the runs\n`);
  console.log(results.table());
  console.log([
    "",
    "Each store fresh (own empty root, empty config.toml: its defaults), spawned after sync + drop_caches; mounted: the",
    "mountpoint in /proc/self/mountinfo (polled every ms), on every fresh store of `read` and `layers`. Cold `cat`: started",
    "right after the first `ls` of the layer's diff/ (no pause, no cache drop); \"resolved earlier\": before that `ls`, each",
    "layer's diff, info and blob stat'ed and its info read, as `podman pull` does. Store cache: `dd iflag=nocache count=0`",
    "(posix_fadvise DONTNEED) on the file, then `cat`. Peak RSS: VmHWM of the store after reading layer 1 twice and layer 2.",
    `Random reads: ${READERS} worker threads × ${READS} preads of 4 KiB each timed alone, files uniform over the layer's regular`,
    "files, offsets uniform (O_DIRECT: multiples of 4 KiB, every read reaches the store); fixed seed, so every store and the",
    "reference read the same places, and the bytes read are checked against the reference's.",
    "Floor: bench/fuse-floor.ts, a FUSE file system on Node + fuse-native + our wrapper serving one 20 MiB file from memory,",
    `timed with the same commands (it has no worker thread: the RSS target is marked against the floor + ${WORKER_MIB} MiB).`,
    "Reference: the same commands on the layers' trees extracted on this disk; for podman, a plain pull (no additional",
    "layer store) and the `podman run` from local storage that follows it.",
  ].join("\n"));
}

main().catch((e) => {
  console.error(e);
  void cleanup().finally(() => { report("failed: partial"); process.exit(1); });
});
