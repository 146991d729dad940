// Layer reads without FUSE: a real eStargz blob (the project's writer) served from memory, chunks
// verified by the worker pool, a memory-only chunk cache; what the layer asks of the cache is logged.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import { writeEStargz } from "../../src/estargz/writer.js";
import { EStargzReader } from "../../src/estargz/reader.js";
import { readerDeps } from "../../src/estargz/deps.js";
import { ChunkCache } from "../../src/cache/index.js";
import { testPool } from "../helpers/pool-worker.js";
import { Layer, type FetchSettings } from "../../src/layer/layer.js";
import type { ChunkStore } from "../../src/layer/cache.js";
import type { VerifyBatch } from "../../src/layer/verify.js";
import { packTree } from "../helpers/tartree.js";

const CHUNK = 512 << 10;

async function layerOf(data: Uint8Array, memoryBytes: number, gate?: Promise<void>) {
  const tar = await packTree([{ name: "big.bin", type: "file", mode: 0o644, uid: 0, gid: 0, mtime: new Date(0), data }]);
  const parts: Buffer[] = [];
  async function* input() { yield tar; }
  const facts = await writeEStargz(input(), (b) => { parts.push(Buffer.from(b)); }, { chunkSize: CHUNK });
  const blob = Buffer.concat(parts);
  const plain = { size: blob.length, read: async (o: number, l: number) => new Uint8Array(blob.subarray(o, o + l)) };
  const reader = await EStargzReader.open({ ...plain, name: "test" }, readerDeps(), { tocDigest: facts.tocDigest });
  // Chunk reads (after the TOC) wait for `gate`.
  const source = { size: blob.length, read: async (o: number, l: number) => { await gate; return plain.read(o, l); } };
  const verified: Array<{ priority: string; sizes: number[] }> = [];
  const pool = testPool(2);
  const verify: VerifyBatch = (body, chunks, priority, promotable) => {
    verified.push({ priority, sizes: chunks.map((c) => c.size) });
    return pool.run("verifyChunks", { body, chunks }, { priority, transfer: [body.buffer as ArrayBuffer], promotable });
  };
  const memory = await ChunkCache.open({ memoryBytes });
  const asked: string[] = [];
  const cache: ChunkStore = {
    getMemory: (hex, size) => memory.getMemory(hex, size),
    hasMemory: (hex) => memory.hasMemory(hex),
    get: (hex, size, p) => { asked.push(hex); return memory.get(hex, size, p); },
    put: (hex, d, p) => memory.put(hex, d, p),
    remember: (hex, d) => memory.remember(hex, d),
    hasMany: (hexes) => memory.hasMany(hexes),
    readable: (hex, size) => memory.readable(hex, size),
    readInto: (hex, size, into, o, l) => memory.readInto(hex, size, into, o, l),
  };
  const settings: FetchSettings = {
    blobDir: "/nonexistent", chunkSize: 50_000, prefetchSize: 0, prefetchTimeoutMs: 10_000, noPrefetch: true, noBackgroundFetch: true, prefetchAsyncSize: 0,
  };
  const layer = new Layer({ repository: "test/layer", digest: facts.digest, size: blob.length, tocDigest: facts.tocDigest }, reader.index, reader.footer.tocOffset,
    source, verify, cache, settings, { warn() {}, debug() {} });
  await layer.start();
  const id = reader.fileId("big.bin");
  return { layer, id, asked, verified, close: () => pool.close() };
}

test("a sequential reader gets the next chunk asked early, on a second pass over the file too", async () => {
  const data = new Uint8Array(randomBytes(5 * CHUNK));
  // The memory cache holds two chunks: the second pass has to fetch every chunk again.
  const { layer, id, asked, close } = await layerOf(data, 2 * CHUNK + 1000);
  try {
    const chunkHex = (k: number) => layer.map.digestHex(layer.map.cid(id, k));
    for (const pass of [1, 2]) {
      asked.length = 0;
      const firstRead = new Map<number, number>(); // chunk → position in `asked` when a read first touched it
      const out = new Uint8Array(data.length);
      for (let off = 0; off < data.length; off += 128 << 10) {
        const k = Math.floor(off / CHUNK);
        if (!firstRead.has(k)) firstRead.set(k, asked.length);
        const n = await layer.reader.readFile(id, out.subarray(off, off + (128 << 10)), off, 128 << 10);
        assert.is(n, 128 << 10);
      }
      assert.ok(Buffer.from(out).equals(Buffer.from(data)), `pass ${pass}: the file's bytes`);
      for (let k = 1; k < 5; k++) {
        const at = asked.indexOf(chunkHex(k));
        assert.ok(at >= 0 && at < firstRead.get(k)!, `pass ${pass}: chunk ${k} asked before the reader got there (asked at ${at}, read at ${firstRead.get(k)})`);
      }
    }
  } finally {
    await close();
  }
});

test("a read inside a chunk the memory cache holds is answered at once (no promise), with the same bytes", async () => {
  const data = new Uint8Array(randomBytes(2 * CHUNK));
  const { layer, id, close } = await layerOf(data, 8 * CHUNK);
  try {
    const first = new Uint8Array(1000);
    const r1 = layer.reader.readFile(id, first, CHUNK + 10, 1000);
    assert.ok(r1 instanceof Promise, "a cold chunk is fetched");
    assert.is(await r1, 1000);
    const again = new Uint8Array(1000);
    const r2 = layer.reader.readFile(id, again, CHUNK + 10, 1000);
    assert.is(r2, 1000, "answered synchronously from memory");
    assert.ok(Buffer.from(again).equals(Buffer.from(data.subarray(CHUNK + 10, CHUNK + 1010))));
    assert.ok(Buffer.from(first).equals(Buffer.from(again)));
    // a read across two chunks takes the asynchronous path (and still gets the right bytes)
    const across = new Uint8Array(2000);
    const r3 = layer.reader.readFile(id, across, CHUNK - 1000, 2000);
    assert.is(await r3, 2000);
    assert.ok(Buffer.from(across).equals(Buffer.from(data.subarray(CHUNK - 1000, CHUNK + 1000))));
  } finally {
    await close();
  }
});

test("a reader waiting on a chunk the background fetch has in flight gets it verified at high priority", async () => {
  const data = new Uint8Array(randomBytes(3 * CHUNK));
  let open = () => {};
  const gate = new Promise<void>((r) => { open = r; });
  const { layer, id, verified, close } = await layerOf(data, 8 * CHUNK, gate);
  try {
    const m = layer.map;
    const last = m.cid(id, 2);
    const background = layer.reader.fetchRange(0, m.memberEnd[last], "low"); // the whole file, waiting on the gate
    const out = new Uint8Array(1000);
    const read = layer.reader.readFile(id, out, CHUNK + 5, 1000); // chunk 1, in flight in the background
    await new Promise((r) => setTimeout(r, 20));
    open();
    assert.is(await read, 1000);
    assert.ok(Buffer.from(out).equals(Buffer.from(data.subarray(CHUNK + 5, CHUNK + 1005))));
    await background;
    // Background batches of up to 256 KiB (at least one chunk) in blob order: the writer's 1-byte
    // landmark, the file's chunk 0, 1, 2 — the reader's chunk 1: high, the others low.
    assert.is(m.count, 4);
    assert.equal(verified, [
      { priority: "low", sizes: [1] }, { priority: "low", sizes: [CHUNK] }, { priority: "high", sizes: [CHUNK] }, { priority: "low", sizes: [CHUNK] },
    ]);
  } finally {
    await close();
  }
});

test.run();
