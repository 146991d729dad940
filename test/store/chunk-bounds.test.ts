// Chunk sizes from a TOC are bounded before anything is allocated, and one hostile layer cannot
// break the store for the others (issue 14, part 4). A real docker-registry, `esgz-fast mount` as its
// own process with its metrics endpoint, and three images: an ordinary one; a crafted one whose TOC
// claims a 1 GiB chunk (and one just under the Wasm core's largest block) for tiny members; and a
// valid one with a 512 MiB and a 1 GiB file of zeros, each in one chunk.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { freePort, pushImage, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { cleanupMount, run, startStore, tempDir, type StoreProcess } from "../helpers/fuse.js";
import { estargzOf, pushEStargzImage, refDir, TOC_DIGEST, type PushedEStargz } from "../helpers/podman.js";
import { withToc } from "../helpers/toc-rewrite.js";
import { tarHeader } from "../helpers/esgz-tamper.js";
import { writeEStargz } from "../../src/estargz/writer.js";
import { rejects } from "../helpers/assert.js";
import { CORE_KEEP_BYTES } from "../../src/core/wasm.js";
import { MAX_BLOCK_SIZE } from "../../src/core/buffer.js";
import { DEFAULT_MAX_CHUNK_SIZE } from "../../src/estargz/reader.js";

const GIB = 1 << 30;
const HALF = 512 << 20;
/** A size the store lets through when the bound is raised to the most the core allocates. */
const ALMOST = MAX_BLOCK_SIZE - 20;

let reg: TestRegistry;
let work: string;
let other: PushedEStargz;
let otherFiles: Record<string, Buffer>;
let crafted: { ref: string; digest: string };
let big: { ref: string; digest: string };
let store: StoreProcess | undefined;
let metricsPort = 0;

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const diffOf = (img: { ref: string }, digest: string) => join(store!.mountpoint, refDir(img.ref), digest, "diff");

async function metrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
}
const sample = (text: string, series: string) => {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

/** VmRSS and VmHWM (peak) of the store process, in bytes. */
async function rss(pid: number): Promise<{ now: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(status)![1]) * 1024;
  return { now: kb("VmRSS"), peak: kb("VmHWM") };
}

async function start(configToml: string, args: string[] = []): Promise<StoreProcess> {
  metricsPort = await freePort();
  const n = store ? 2 : 1;
  store = await startStore({
    mountpoint: join(work, `mnt${n}`), root: join(work, `root${n}`), configToml,
    args: ["-metrics-address", `127.0.0.1:${metricsPort}`, ...args],
  });
  return store;
}

async function stop(): Promise<void> {
  const s = store;
  if (!s) return;
  await s.stop().catch(() => {});
  await cleanupMount(s.mountpoint).catch(() => {});
}

/** Every file of the ordinary image reads back as written. */
async function otherImageReads(): Promise<void> {
  const diff = diffOf(other, other.layers[0].digest);
  for (const [name, data] of Object.entries(otherFiles)) {
    assert.is(sha(await readFile(join(diff, name))), sha(data), `${name} of the other image`);
  }
}

test.before(async () => {
  work = await tempDir("esgz-bounds-");
  reg = await startRegistry();
  // the ordinary image: small files and a 3 MiB incompressible file in 1 MiB chunks (its members are
  // staged in Wasm memory: on a damaged core that is where "memory access out of bounds" came from)
  const tree = join(work, "other");
  await mkdir(join(tree, "data"), { recursive: true });
  otherFiles = { "etc/hello.txt": Buffer.from("hello\n"), "data/blob.bin": randomBytes(3 << 20) };
  await mkdir(join(tree, "etc"));
  for (const [name, data] of Object.entries(otherFiles)) await writeFile(join(tree, name), data);
  await run("tar", ["--format=pax", "--sort=name", "-C", tree, "-cf", join(work, "other.tar"), "."]);
  other = await pushEStargzImage(reg, "test/other", "v1", [join(work, "other.tar")], { chunkSize: 1 << 20 });

  // the crafted image: real members, a TOC that lies about two files' sizes (digest re-made to match)
  const tree2 = join(work, "crafted");
  await mkdir(tree2);
  for (const f of ["bomb.txt", "almost.txt", "ok.txt"]) await writeFile(join(tree2, f), `${f}\n`);
  await run("tar", ["--format=pax", "--sort=name", "-C", tree2, "-cf", join(work, "crafted.tar"), "."]);
  const { blob } = await estargzOf(join(work, "crafted.tar"));
  const lying = withToc(blob, (es) => {
    es.find((e) => e.name.replace(/^\.\//, "") === "bomb.txt")!.size = GIB;
    es.find((e) => e.name.replace(/^\.\//, "") === "almost.txt")!.size = ALMOST;
  });
  const pushed = await pushImage(reg, "test/crafted", "v1", {
    layers: [{ data: lying.blob, annotations: { [TOC_DIGEST]: lying.tocDigest } }],
    config: { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: ["sha256:" + sha(gunzipSync(lying.blob))] } },
  });
  crafted = { ref: pushed.ref, digest: pushed.layers[0].digest };

  // the valid image with big chunks: files of zeros, each one chunk (the tar made as it is read)
  const parts: Buffer[] = [];
  const facts = await writeEStargz(zerosTar([["half.bin", HALF], ["gig.bin", GIB]], { "small.txt": "small\n" }),
    (b) => { parts.push(Buffer.from(b)); }, { chunkSize: GIB, compressionLevel: 1 });
  const pushedBig = await pushImage(reg, "test/big", "v1", {
    layers: [{ data: Buffer.concat(parts), annotations: { [TOC_DIGEST]: facts.tocDigest } }],
    config: { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [facts.diffId] } },
  });
  big = { ref: pushedBig.ref, digest: pushedBig.layers[0].digest };
});

/** A tar of files of zeros and small text files, produced piece by piece (nothing of it on disk). */
async function* zerosTar(zeroFiles: Array<[string, number]>, textFiles: Record<string, string>): AsyncGenerator<Uint8Array> {
  const zeros = new Uint8Array(8 << 20);
  for (const [name, size] of zeroFiles) {
    yield tarHeader(name, size);
    for (let o = 0; o < size; o += zeros.length) yield zeros.subarray(0, Math.min(zeros.length, size - o));
    if (size % 512) yield new Uint8Array(512 - (size % 512));
  }
  for (const [name, text] of Object.entries(textFiles)) {
    yield tarHeader(name, text.length);
    yield Buffer.concat([Buffer.from(text), Buffer.alloc((512 - (text.length % 512)) % 512)]);
  }
  yield new Uint8Array(1024);
}

test.after(async () => {
  await stop();
  await reg?.stop();
  if (work) await run("rm", ["-rf", work]).catch(() => {});
});

test("default bound: a TOC claiming a 1 GiB chunk answers EIO for that file alone, and every other image keeps reading", async () => {
  const s = await start("");
  await otherImageReads();
  const diff = diffOf(crafted, crafted.digest);
  assert.is(await readFile(join(diff, "ok.txt"), "utf8"), "ok.txt\n");
  const err = await rejects(() => readFile(join(diff, "bomb.txt")), /EIO|input\/output error/i);
  assert.is((err as NodeJS.ErrnoException).code, "EIO");
  await rejects(() => readFile(join(diff, "almost.txt")), /EIO|input\/output error/i);
  // the rest of the crafted layer, the other image, a lookup of a new image: all as before
  assert.is(await readFile(join(diff, "ok.txt"), "utf8"), "ok.txt\n");
  await otherImageReads();
  assert.is(await readFile(join(diffOf(big, big.digest), "small.txt"), "utf8"), "small\n");
  const logs = s.logs();
  assert.match(logs, `"msg":"layer has chunks over [blob] max_chunk_size: reads of their files answer EIO"`);
  assert.match(logs, new RegExp(`"path":"[^"]*/bomb.txt","error":"[^"]*inflates to ${GIB} bytes, over \\[blob\\] max_chunk_size = ${DEFAULT_MAX_CHUNK_SIZE}: not fetched"`));
  assert.not.match(logs, /core: .* failed|worker core failed/);
});

test("default bound: a valid layer's 512 MiB and 1 GiB chunks are refused without being fetched or allocated; its small file reads", async () => {
  const s = store!;
  const diff = diffOf(big, big.digest);
  for (const f of ["half.bin", "gig.bin"]) {
    const err = await rejects(() => readFile(join(diff, f)), /EIO|input\/output error/i);
    assert.is((err as NodeJS.ErrnoException).code, "EIO", f);
  }
  assert.is(await readFile(join(diff, "small.txt"), "utf8"), "small\n");
  const half = new RegExp(`"path":"[^"]*/half.bin","error":"[^"]*inflates to ${HALF} bytes, over \\[blob\\] max_chunk_size`);
  assert.match(await s.logsWith(half), half);
  const text = await metrics();
  const held = sample(text, "esgz_worker_core_memory_bytes")!;
  assert.ok(held < CORE_KEEP_BYTES, `the workers' cores hold ${held} bytes`);
  assert.is(sample(text, `esgz_worker_core_replacements_total{reason="memory"}`), undefined, "no worker core ever grew past the threshold");
  const mem = await rss(s.pid);
  assert.ok(mem.peak < 300 << 20, `the store's peak RSS ${mem.peak >> 20} MiB: nothing of 512 MiB was ever allocated`);
  await stop();
});

test("bound raised: a 512 MiB chunk is served, and afterwards the worker gives its memory back; 1 GiB still answers EIO; a claim just under the core's limit fails alone", async () => {
  // the chunk must fit the memory cache, or every FUSE read would re-read it from the disk cache
  const s = await start(`[blob]\nmax_chunk_size = ${MAX_BLOCK_SIZE}\n`, ["-memory-cache-bytes", String(640 << 20)]);
  const diff = diffOf(big, big.digest);
  const zeros = createHash("sha256");
  const block = new Uint8Array(16 << 20);
  for (let i = 0; i < HALF / block.length; i++) zeros.update(block);
  const out = await run("sha256sum", [join(diff, "half.bin")], { timeoutMs: 300_000 });
  assert.is(out.split(" ")[0], zeros.digest("hex"), "half.bin reads back as 512 MiB of zeros");
  let text = await metrics();
  assert.ok((sample(text, `esgz_worker_core_replacements_total{reason="memory"}`) ?? 0) >= 1, "the worker that verified it replaced its core");
  const held = sample(text, "esgz_worker_core_memory_bytes")!;
  assert.ok(held < CORE_KEEP_BYTES, `afterwards the workers' cores hold ${held} bytes (threshold ${CORE_KEEP_BYTES})`);
  // 1 GiB is more than the core allocates in one block: over any bound
  await rejects(() => readFile(join(diff, "gig.bin")), /EIO|input\/output error/i);
  // a claim the bound lets through: the worker allocates it, the member holds 12 bytes: EIO
  const cdiff = diffOf(crafted, crafted.digest);
  await rejects(() => readFile(join(cdiff, "almost.txt")), /EIO|input\/output error/i);
  const almost = new RegExp(`"path":"[^"]*/almost.txt","error":"[^"]*size mismatch: expected ${ALMOST} bytes`);
  assert.match(await s.logsWith(almost), almost);
  await rejects(() => readFile(join(cdiff, "bomb.txt")), /EIO|input\/output error/i);
  assert.is(await readFile(join(cdiff, "ok.txt"), "utf8"), "ok.txt\n");
  await otherImageReads();
  text = await metrics();
  const after = sample(text, "esgz_worker_core_memory_bytes")!;
  assert.ok(after < CORE_KEEP_BYTES, `the workers' cores hold ${after} bytes after the 1 GiB allocation`);
  assert.not.match(s.logs(), /worker core failed/);
});

test.run();
