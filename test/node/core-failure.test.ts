// A core instance that fails (a trap or an abort) is discarded, and one that a big chunk grew is let
// go after its task: in the pool's workers, on the main thread (nodeCore), in the reader's defaults.
// The failures are real: V8's limit on Wasm memory is lowered for a moment (process-wide, worker
// threads included), so the core's allocator runs out of memory and traps, as it would on a host
// out of memory.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { setFlagsFromString } from "node:v8";
import { gzipSync } from "node:zlib";
import { CorePool, type CoreDropEvent } from "../../src/node/pool.js";
import { nodeCore, settleNodeCore } from "../../src/node/core.js";
import { CORE_KEEP_BYTES, CoreFailure } from "../../src/core/wasm.js";
import { Sha256, sha256Hex } from "../../src/core/sha256.js";
import { readerDeps } from "../../src/estargz/deps.js";
import { EStargzReader } from "../../src/estargz/reader.js";
import { MemorySource } from "../../src/estargz/source.js";
import { writeEStargz } from "../../src/estargz/writer.js";
import { packTree } from "../helpers/tartree.js";
import { rejects } from "../helpers/assert.js";

/** V8's default `--wasm-max-mem-pages` (no limit below wasm32's own 4 GiB). */
const V8_DEFAULT_PAGES = 4294967295;

/** Runs `fn` while no Wasm memory may grow past `mib` MiB. */
async function withWasmLimit<T>(mib: number, fn: () => Promise<T> | T): Promise<T> {
  setFlagsFromString(`--wasm-max-mem-pages=${mib * 16}`);
  try {
    return await fn();
  } finally {
    setFlagsFromString(`--wasm-max-mem-pages=${V8_DEFAULT_PAGES}`);
  }
}

/** A chunk as the store's fetcher hands it to the pool: its gzip member is the whole body. */
function chunk(data: Uint8Array): { body: Uint8Array; chunks: Array<{ start: number; end: number; innerOffset: number; size: number; digest: Uint8Array }> } {
  const body = new Uint8Array(gzipSync(data));
  return { body, chunks: [{ start: 0, end: body.length, innerOffset: 0, size: data.length, digest: createHash("sha256").update(data).digest() }] };
}

/** Several chunks in one body, one member each, as one verification batch. */
function batch(datas: Uint8Array[]): ReturnType<typeof chunk> {
  const members = datas.map((d) => gzipSync(d));
  const body = new Uint8Array(Buffer.concat(members));
  let at = 0;
  const chunks = datas.map((d, i) => {
    const c = { start: at, end: at + members[i].length, innerOffset: 0, size: d.length, digest: createHash("sha256").update(d).digest() };
    at = c.end;
    return c;
  });
  return { body, chunks };
}

const same = (a: Uint8Array | string, b: Uint8Array) => a instanceof Uint8Array && Buffer.from(a).equals(b);

test("a pool task whose core runs out of memory (a trap) fails alone; the next task on that worker runs on a fresh core", async () => {
  const pool = new CorePool({ size: 1 });
  const dropped: CoreDropEvent[] = [];
  pool.onCoreDropped((e) => dropped.push(e));
  try {
    const first = randomBytes(1 << 20);
    const [r1] = await pool.run("verifyChunks", chunk(first));
    assert.ok(same(r1, first), "a chunk verifies before");
    // 48 MiB of zeros: its 48 KiB member is nothing, but the output block cannot grow past 32 MiB
    const [r2] = await withWasmLimit(32, () => pool.run("verifyChunks", chunk(new Uint8Array(48 << 20))));
    assert.type(r2, "string");
    assert.match(r2 as string, /esgz-fast core: alloc\(\) failed: unreachable; the instance is discarded/);
    assert.equal(dropped.map((d) => [d.dropped, d.op]), [["failed", "verifyChunks"]]);
    assert.match(dropped[0].reason ?? "", /unreachable/);
    // A member larger than any before: the input block is reallocated, which on the failed instance
    // (its output block freed before the failed allocation) could land on that freed block.
    const next = randomBytes(3 << 20);
    const [r3] = await pool.run("verifyChunks", chunk(next));
    assert.ok(same(r3, next), `the next task verifies its chunk: ${typeof r3 === "string" ? r3 : "bytes differ"}`);
    const tocMember = await pool.run("sha256", { data: new Uint8Array(10) });
    assert.is(tocMember, createHash("sha256").update(new Uint8Array(10)).digest("hex"));
    assert.is(dropped.length, 1, "no other instance was let go");
  } finally {
    await pool.close();
  }
});

test("in one batch, the chunk that makes the core fail is the only one that fails: the rest run on a fresh instance", async () => {
  const pool = new CorePool({ size: 1 });
  try {
    const a = randomBytes(200_000), b = randomBytes(300_000);
    const results = await withWasmLimit(32, () => pool.run("verifyChunks", batch([a, new Uint8Array(48 << 20), b])));
    assert.ok(same(results[0], a));
    assert.match(results[1] as string, /core: alloc\(\) failed/);
    assert.ok(same(results[2], b), `chunk after the failure: ${typeof results[2] === "string" ? results[2] : "bytes differ"}`);
  } finally {
    await pool.close();
  }
});

test("a worker whose core one big chunk grew past CORE_KEEP_BYTES lets it go after the task; 4 MiB chunks never do", async () => {
  const pool = new CorePool({ size: 1 });
  const dropped: CoreDropEvent[] = [];
  pool.onCoreDropped((e) => dropped.push(e));
  try {
    for (let i = 0; i < 4; i++) {
      const data = randomBytes(4 << 20);
      const [r] = await pool.run("verifyChunks", chunk(data));
      assert.ok(same(r, data));
    }
    assert.equal(dropped, [], "the usual chunks keep their instance");
    const held = pool.coreMemoryBytes;
    assert.ok(held > 4 << 20 && held <= CORE_KEEP_BYTES, `a worker after 4 MiB chunks holds ${held} bytes of Wasm memory`);
    const big = new Uint8Array(96 << 20).fill(7);
    const [r] = await pool.run("verifyChunks", chunk(big));
    assert.ok(same(r, big), "the big chunk is verified");
    assert.equal(dropped.map((d) => d.dropped), ["memory"]);
    assert.ok(dropped[0].bytes > 96 << 20, `it held ${dropped[0].bytes} bytes`);
    assert.ok(pool.coreMemoryBytes < CORE_KEEP_BYTES, `after the task the worker holds ${pool.coreMemoryBytes} bytes`);
    const small = randomBytes(1000);
    const [r2] = await pool.run("verifyChunks", chunk(small));
    assert.ok(same(r2, small));
    assert.ok(pool.coreMemoryBytes < 4 << 20, `a fresh instance: ${pool.coreMemoryBytes} bytes`);
  } finally {
    await pool.close();
  }
});

test("the main thread's core: a trap discards it, nodeCore() is a fresh one, objects made on the failed one refuse to run", async () => {
  const before = nodeCore();
  const hasher = new Sha256(before);
  const mib = Math.ceil(before.memoryBytes / 2 ** 20);
  const err = await withWasmLimit(mib + 8, () => rejects(() => before.exports.alloc((mib + 16) << 20), /alloc\(\) failed: unreachable/));
  assert.instance(err, CoreFailure);
  assert.ok(before.failed);
  assert.throws(() => hasher.update(new Uint8Array(4)), (e: Error) => e instanceof CoreFailure && /refused: this instance failed earlier \(unreachable\)/.test(e.message));
  hasher.free(); // releasing into a failed instance does nothing
  const after = nodeCore();
  assert.ok(after !== before && !after.failed, "a fresh instance");
  assert.is(sha256Hex(after, new Uint8Array(3)), createHash("sha256").update(new Uint8Array(3)).digest("hex"));
  assert.is(settleNodeCore(), undefined, "a healthy, small instance is kept");
});

test("the reader's defaults: a chunk that makes the work core fail fails that read; the next reads of the same reader succeed", async () => {
  const big = new Uint8Array(24 << 20).fill(1);
  const tar = await packTree([
    { name: "big.bin", type: "file", mode: 0o644, uid: 0, gid: 0, mtime: new Date(0), data: big },
    { name: "small.txt", type: "file", mode: 0o644, uid: 0, gid: 0, mtime: new Date(0), data: Buffer.from("small\n") },
  ]);
  const parts: Uint8Array[] = [];
  const facts = await writeEStargz((async function* () { yield tar; })(), (b) => { parts.push(Buffer.from(b)); }, { chunkSize: 32 << 20 });
  const reader = await EStargzReader.open(new MemorySource(Buffer.concat(parts), "layer"), readerDeps(), { tocDigest: facts.tocDigest });
  try {
    await withWasmLimit(16, () => rejects(() => reader.readWholeFile("big.bin"), /core: alloc\(\) failed: unreachable/));
    assert.is(Buffer.from(await reader.readWholeFile("small.txt")).toString(), "small\n");
    assert.ok(Buffer.from(await reader.readWholeFile("big.bin")).equals(big), "the big file reads once memory allows");
  } finally {
    reader.close();
  }
});

test.run();
