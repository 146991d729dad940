// npm run bench:store — the store on the two layers of ../shared/bench/make-layers.sh (made once into
// .bench-cache/), converted with the project's writer (default settings) and pushed to a loopback
// docker-registry, served by `esgz-fast mount` with its default settings. Each figure is printed beside
// the same read of a local copy of the tree, measured in the same run, and beside the Go stargz-store
// 0.12 figures measured on this machine (the targets). The "floor" column, also measured in the same
// run, is a FUSE file system with nothing behind it (bench/fuse-floor.ts: Node + fuse-native + our
// wrapper serving a 20 MiB file from memory): what any store on this stack pays before doing its work.
// Needs root (make-layers.sh, drop_caches).
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { repoRoot, sharedDir } from "../test/helpers/paths.js";
import { startRegistry, type TestRegistry } from "../test/helpers/registry.js";
import { cleanupMount, startStore, type StoreProcess } from "../test/helpers/fuse.js";
import { pushEStargzImage, refDir, type PushedEStargz } from "../test/helpers/podman.js";

const sh = promisify(execFile);
const cacheDir = join(repoRoot, ".bench-cache", "store");

async function timed(cmd: string): Promise<number> {
  const t0 = performance.now();
  await sh("sh", ["-c", cmd], { maxBuffer: 1 << 30 });
  return performance.now() - t0;
}

// Dirty pages are written back first (sync): drop_caches leaves them, and their writeback (the store's
// cache files of the previous step, the registry's uploads) would otherwise land inside a timed read.
const dropCaches = async () => { await sh("sync"); await writeFile("/proc/sys/vm/drop_caches", "3"); };

async function vmHwm(pid: number): Promise<number> {
  const s = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(s)![1]) / 1024;
}

interface Row { what: string; store: number; local: number; floor?: number; go: string; target: string }
const rows: Row[] = [];
/** What one idle worker thread adds to a Node process's RSS here (measured: 9.5–10.4 MiB). */
const WORKER_MIB = 10;
const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1)).padStart(7);

/** The floor (bench/fuse-floor.ts): spawn → first `ls`, a read of its 20 MiB file with the page cache dropped, then warm; peak RSS. */
async function measureFloor(mnt: string): Promise<{ firstLs: number; ready: number; cold: number; warm: number; rss: number }> {
  await mkdir(mnt, { recursive: true });
  await dropCaches();
  const t0 = performance.now();
  const child = spawn(process.execPath, [join(repoRoot, "dist", "bench", "fuse-floor.js"), mnt, String(20 << 20)], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once("data", () => resolve());
      child.once("exit", (code) => reject(new Error(`fuse-floor exited (${code}) before it was ready`)));
    });
    const ready = performance.now() - t0;
    await sh("sh", ["-c", `ls -la ${mnt} > /dev/null`]);
    const firstLs = performance.now() - t0;
    await dropCaches();
    const cold = await timed(`cat ${mnt}/big.bin > /dev/null`);
    const warm = await timed(`cat ${mnt}/big.bin > /dev/null`);
    const rss = await vmHwm(child.pid!);
    return { firstLs, ready, cold, warm, rss };
  } finally {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null) child.kill("SIGKILL");
    await cleanupMount(mnt).catch(() => {});
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("bench:store needs root (make-layers.sh, drop_caches)");
  await mkdir(cacheDir, { recursive: true });
  const tars = [join(cacheDir, "layer1.tar"), join(cacheDir, "layer2.tar")];
  if (!tars.every((t) => existsSync(t))) {
    console.log("making the benchmark layers (once, into .bench-cache/store)...");
    await sh("bash", [join(sharedDir, "bench", "make-layers.sh"), cacheDir], { maxBuffer: 1 << 26 });
  }
  // The local copy: the same trees extracted on this disk.
  const local = [join(cacheDir, "local1"), join(cacheDir, "local2")];
  for (let i = 0; i < 2; i++) {
    if (!existsSync(local[i])) {
      await mkdir(local[i]);
      await sh("tar", ["--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", tars[i], "-C", local[i]]);
    }
  }
  const work = join(tmpdir(), `esgz-bench-store-${process.pid}`);
  await mkdir(work, { recursive: true });
  let reg: TestRegistry | undefined;
  let store: StoreProcess | undefined;
  const mnt = join(work, "mnt");
  let peak = 0;
  let floorRss = 0;
  try {
    reg = await startRegistry();
    const img: PushedEStargz = await pushEStargzImage(reg, "bench/app", "v1", tars); // writer defaults
    const diff = (i: number) => join(mnt, refDir(img.ref), img.layers[i].digest, "diff");
    console.log(`layers: ${img.layers.map((l, i) => `layer${i + 1} ${(l.size / 1048576).toFixed(1)} MiB (${(img.facts[i].uncompressedSize / 1048576).toFixed(1)} MiB tar)`).join(", ")}`);

    // A fresh store (empty cache), timed from the spawn; `first` is the command run once it answers.
    let run = 0;
    const fresh = async (first: string): Promise<number> => {
      if (store) { peak = Math.max(peak, await vmHwm(store.pid)); await store.stop(); }
      await dropCaches();
      const t0 = performance.now();
      store = await startStore({ mountpoint: mnt, root: join(work, `root${run++}`), logLevel: "info" });
      lastReady = performance.now() - t0;
      await sh("sh", ["-c", first], { maxBuffer: 1 << 30 });
      return performance.now() - t0;
    };
    let lastReady = 0;

    // spawn → first ls of a layer's diff (image resolved, TOC fetched and indexed on the way)
    for (const i of [0, 1]) {
      const t = await fresh(`ls -la ${diff(i)} > /dev/null`);
      await dropCaches();
      const l = await timed(`ls -la ${local[i]} > /dev/null`);
      rows.push({ what: `spawn → first ls, layer${i + 1}`, store: t, local: l, go: "66–93", target: "≤ 60" });
      rows.push({ what: `  of which spawn → mounted and ready`, store: lastReady, local: 0, go: "-", target: "-" });
    }
    // cold / warm 20 MiB read (layer 2), on the store that just listed layer 2
    const big = "data/big-20m.bin";
    {
      const file = (dir: string) => `cat ${join(dir, big)} > /dev/null`;
      await dropCaches();
      const cold = await timed(file(diff(1)));
      const warm = await timed(file(diff(1)));
      await dropCaches();
      const coldLocal = await timed(file(local[1]));
      const warmLocal = await timed(file(local[1]));
      rows.push({ what: "cold read of 20 MiB file", store: cold, local: coldLocal, go: "830", target: "≤ 200" });
      rows.push({ what: "warm read, page cache", store: warm, local: warmLocal, go: "4", target: "≤ 6" });
      await dropCaches();
      const warmStore = await timed(file(diff(1)));
      await dropCaches();
      const warmStoreLocal = await timed(file(local[1]));
      rows.push({ what: "warm read, store cache (page cache dropped)", store: warmStore, local: warmStoreLocal, go: "16", target: "≤ 24" });
    }
    // cold and warm whole layers: find -type f | xargs cat, each on a fresh store
    const goCold = ["2014", "1610"];
    for (const i of [0, 1]) {
      const all = (dir: string) => `cd ${dir} && find . -type f -print0 | xargs -0 cat > /dev/null`;
      const t0 = await fresh(`ls ${diff(i)} > /dev/null`);
      void t0;
      await dropCaches();
      const cold = await timed(all(diff(i)));
      const warm = await timed(all(diff(i)));
      await dropCaches();
      const coldLocal = await timed(all(local[i]));
      const warmLocal = await timed(all(local[i]));
      rows.push({ what: `cold find|xargs cat, layer${i + 1}`, store: cold, local: coldLocal, go: goCold[i], target: `≤ ${(Number(goCold[i]) * 0.4).toFixed(0)}` });
      rows.push({ what: `warm find|xargs cat, layer${i + 1} (page cache)`, store: warm, local: warmLocal, go: "-", target: "-" });
    }
    peak = Math.max(peak, await vmHwm(store!.pid));
    await store!.stop();
    store = undefined;
    const floor = await measureFloor(join(work, "floor"));
    const set = (what: string, v: number) => { for (const r of rows) if (r.what.startsWith(what)) r.floor = v; };
    set("spawn → first ls", floor.firstLs);
    set("  of which", floor.ready);
    set("cold read of 20 MiB", floor.cold);
    set("warm read, page cache", floor.warm);
    set("warm read, store cache", floor.cold);
    floorRss = floor.rss;
  } finally {
    await store?.stop().catch(() => {});
    await cleanupMount(mnt).catch(() => {});
    await reg?.stop();
    await rm(work, { recursive: true, force: true });
  }
  const opt = (v: number | undefined) => (v === undefined ? "-".padStart(7) : fmt(v));
  console.log(`\n${"".padEnd(46)}  esgz-fast   local copy     floor   Go stargz-store   target   (ms)`);
  // A target under the floor cannot be met by anything built on this stack: say so beside it.
  const below = (floor: number | undefined, target: string) => {
    const t = /^≤ (\d+)$/.exec(target);
    return floor !== undefined && t && floor > Number(t[1]) ? `${target} (below the floor)` : target;
  };
  for (const r of rows) console.log(`${r.what.padEnd(46)}  ${fmt(r.store)}   ${fmt(r.local)}   ${opt(r.floor)}      ${r.go.padStart(9)}      ${below(r.floor, r.target)}`);
  console.log(`${"store peak RSS (VmHWM), MiB".padEnd(46)}  ${fmt(peak)}   ${"-".padStart(7)}   ${fmt(floorRss)}      ${"65".padStart(9)}      ${below(floorRss + WORKER_MIB, "≤ 65")}`);
  console.log("floor: a FUSE file system serving one 20 MiB file from memory on the same stack (bench/fuse-floor.ts);");
  console.log(`for RSS the floor has no worker thread, which the store must have (its inflate and hashes run there): ~${WORKER_MIB} MiB more`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
