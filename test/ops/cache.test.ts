import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile, truncate, mkdir } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChunkCache, ByteLru, chunkKey, sha256Hex, type CacheEvents } from "../../src/cache/index.js";
import { CorePool } from "../../src/node/pool.js";

let root = "";
test.before(async () => { root = await mkdtemp(join(tmpdir(), "esgz-cache-")); });
test.after(async () => { await rm(root, { recursive: true, force: true }); });

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
function chunk(n: number): { hex: string; data: Uint8Array } {
  const data = new Uint8Array(randomBytes(n));
  return { hex: sha(data), data };
}
let seq = 0;
const freshDir = () => join(root, `c${seq++}`);

function counter() {
  const n = { memoryHit: 0, memoryMiss: 0, diskHit: 0, diskMiss: 0, corrupt: 0 };
  const events: CacheEvents = {
    hit: (w) => { n[w === "memory" ? "memoryHit" : "diskHit"]++; },
    miss: (w) => { n[w === "memory" ? "memoryMiss" : "diskMiss"]++; },
    corrupt: () => { n.corrupt++; },
  };
  return { n, events };
}

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const shard of await readdir(join(dir, "sha256"))) for (const f of await readdir(join(dir, "sha256", shard))) out.push(`${shard}/${f}`);
  return out.sort();
}

test("round trip: put then get from memory, and the file on disk is named by the chunk's sha256", async () => {
  const dir = freshDir();
  const c = await ChunkCache.open({ dir });
  const { hex, data } = chunk(100_000);
  await c.put(hex, data);
  assert.equal(await c.get(hex, data.length), data);
  assert.equal(c.getMemory(`sha256:${hex}`, data.length), data);
  assert.is(c.getMemory(hex, data.length - 1), undefined, "another size is another chunk");
  assert.is(await c.get(hex, data.length + 1), undefined);
  assert.equal(await files(dir), [`${hex.slice(0, 2)}/${hex}`]);
  assert.equal(new Uint8Array(await readFile(join(dir, "sha256", hex.slice(0, 2), hex))), data);
  assert.equal(await readdir(join(dir, "tmp")), [], "no temp file left");
  const fresh = await ChunkCache.open({ dir });
  assert.ok(await fresh.has(hex), "has: on disk, without reading it");
  assert.not.ok(await fresh.has("0".repeat(64)));
  assert.is(fresh.memoryBytes, 0, "has() read nothing into memory");
  assert.is(await c.get("0".repeat(64), 10), undefined);
});

test("restart: a new instance over the same directory serves the chunks from disk, verified", async () => {
  const dir = freshDir();
  const chunks = [chunk(1000), chunk(70_000), chunk(3)];
  const a = await ChunkCache.open({ dir });
  for (const { hex, data } of chunks) a.put(hex, data);
  await a.close();
  const { n, events } = counter();
  let hashed = 0;
  const b = await ChunkCache.open({ dir, events, hash: (d, p) => { hashed++; return sha256Hex(d, p); } });
  for (const { hex, data } of chunks) {
    assert.is(b.getMemory(hex, data.byteLength), undefined);
    assert.equal(await b.get(hex, data.byteLength), data);
  }
  assert.is(hashed, 3, "each disk read verified once");
  assert.equal(n, { memoryHit: 0, memoryMiss: 3, diskHit: 3, diskMiss: 0, corrupt: 0 });
  assert.equal(await b.get(chunks[0].hex, chunks[0].data.length), chunks[0].data);
  assert.is(n.memoryHit, 1, "then served from memory");
  assert.is(hashed, 3);
});

test("onNewBytes hears every chunk buffer taken in (put, disk read), not memory hits or misses", async () => {
  const dir = freshDir();
  const chunks = [chunk(1000), chunk(70_000)];
  const heard: number[] = [];
  const a = await ChunkCache.open({ dir });
  a.onNewBytes((n) => heard.push(n));
  for (const { hex, data } of chunks) a.put(hex, data);
  const small = chunk(500);
  const wide = new Uint8Array(2000);
  wide.set(small.data);
  a.put(small.hex, wide.subarray(0, 500)); // a view is copied: 500 new bytes, not 2000
  assert.equal(heard, [1000, 70_000, 500]);
  assert.equal(await a.get(chunks[0].hex, chunks[0].data.length), chunks[0].data);
  assert.is(await a.get(chunk(10).hex, 10), undefined);
  assert.equal(heard.length, 3, "a memory hit and a miss bring no new buffer");
  await a.close();
  const b = await ChunkCache.open({ dir });
  b.onNewBytes((n) => heard.push(n));
  assert.equal(await b.get(chunks[1].hex, 70_000), chunks[1].data);
  assert.equal(heard, [1000, 70_000, 500, 70_000], "a disk read");
});

test("a corrupt or truncated file is a miss, is removed and logged, and never served", async () => {
  const dir = freshDir();
  const good = chunk(50_000), cut = chunk(50_000);
  const a = await ChunkCache.open({ dir });
  a.put(good.hex, good.data);
  a.put(cut.hex, cut.data);
  await a.close();
  const flipped = new Uint8Array(good.data);
  flipped[12345] ^= 1;
  const goodPath = join(dir, "sha256", good.hex.slice(0, 2), good.hex);
  const cutPath = join(dir, "sha256", cut.hex.slice(0, 2), cut.hex);
  await writeFile(goodPath, flipped);
  await truncate(cutPath, 1000);

  const warnings: Array<[string, Record<string, unknown> | undefined]> = [];
  const { n, events } = counter();
  const b = await ChunkCache.open({ dir, events, log: { warn: (m, f) => warnings.push([m, f]), debug() {} } });
  assert.is(await b.get(good.hex, good.data.length), undefined);
  assert.is(await b.get(cut.hex, cut.data.byteLength), undefined);
  assert.is(n.corrupt, 2);
  assert.is(n.diskMiss, 2);
  assert.not.ok(existsSync(goodPath) || existsSync(cutPath), "corrupt files removed");
  assert.is(warnings.length, 2);
  assert.match(warnings[0][0], /corrupt file removed/);
  assert.is(warnings[0][1]?.chunk, `sha256:${good.hex}`);
  assert.is(warnings[0][1]?.found, `sha256:${sha(flipped)}`);
  assert.is(warnings[1][1]?.found, `sha256:${sha(cut.data.subarray(0, 1000))}`);
  // Put again after the refetch: stored and served again.
  await b.put(good.hex, good.data);
  const c = await ChunkCache.open({ dir });
  assert.equal(await c.get(good.hex, good.data.length), good.data);
});

test("hasMany answers from memory, pending writes and disk (through the worker pool); a chunk noted as written elsewhere is not written again", async () => {
  const dir = freshDir();
  const onDisk = chunk(1000), inMemory = chunk(1000), nowhere = chunk(1000), byWorker = chunk(2000);
  const a = await ChunkCache.open({ dir });
  await a.put(onDisk.hex, onDisk.data);
  const pool = new CorePool({ size: 1 });
  try {
    const b = await ChunkCache.open({ dir });
    let asked: string[] = [];
    b.useFilesExist((paths) => { asked = paths; return pool.run("filesExist", { paths }, { priority: "low" }); });
    await b.put(inMemory.hex, inMemory.data);
    assert.equal(await b.hasMany([onDisk.hex, inMemory.hex, nowhere.hex]), [true, true, false]);
    assert.is(asked.length, 2, "memory answered without a file check");
    // A worker wrote byWorker's file: the put that follows keeps it in memory and does not write it.
    const file = b.chunkFile(byWorker.hex)!;
    await mkdir(join(file.path, ".."), { recursive: true });
    await writeFile(file.path, byWorker.data);
    b.noteWritten(byWorker.hex);
    // Spy on the disk part: neither the "is it there" check nor a write may happen for it.
    const disk = (b as unknown as { disk: { exists(h: string): Promise<boolean>; write(h: string, d: Uint8Array): Promise<void> } }).disk;
    const touched: string[] = [];
    const { exists, write } = disk;
    disk.exists = (h) => { touched.push(`exists ${h}`); return exists.call(disk, h); };
    disk.write = (h, d) => { touched.push(`write ${h}`); return write.call(disk, h, d); };
    await b.put(byWorker.hex, byWorker.data, "low");
    await b.put(nowhere.hex, nowhere.data, "low");
    assert.equal(touched, [`exists ${nowhere.hex}`, `write ${nowhere.hex}`], "the noted chunk cost no disk operation");
    assert.equal(b.getMemory(byWorker.hex, byWorker.data.length), byWorker.data);
    const c = await ChunkCache.open({ dir });
    assert.equal(await c.get(byWorker.hex, byWorker.data.length), byWorker.data, "and it is served (verified) from disk");
  } finally {
    await pool.close();
  }
});

test("concurrent puts of one digest write one file; a get during a put is answered; concurrent gets share one read", async () => {
  const dir = freshDir();
  const { hex, data } = chunk(2 << 20);
  const c = await ChunkCache.open({ dir, memoryBytes: 1024 });
  const p1 = c.put(hex, data);
  const p2 = c.put(hex, new Uint8Array(data));
  assert.equal(await c.get(hex, data.length), data, "served while the write is pending (memory bound too small to hold it)");
  await Promise.all([p1, p2]);
  assert.equal(await files(dir), [`${hex.slice(0, 2)}/${hex}`]);
  assert.equal(await readdir(join(dir, "tmp")), []);

  let hashed = 0;
  const d = await ChunkCache.open({ dir, memoryBytes: 1024, hash: (x, p) => { hashed++; return sha256Hex(x, p); } });
  const got = await Promise.all([d.get(hex, data.length), d.get(hex, data.length), d.get(hex, data.length)]);
  for (const g of got) assert.equal(g, data);
  assert.is(hashed, 1);
  // Many distinct concurrent puts all land.
  const many = Array.from({ length: 40 }, () => chunk(4096));
  await Promise.all(many.map(({ hex, data }) => c.put(hex, data)));
  assert.is((await files(dir)).length, 41);
});

test("leftover temp files of a killed process are removed at open", async () => {
  const dir = freshDir();
  await mkdir(join(dir, "tmp"), { recursive: true });
  await writeFile(join(dir, "tmp", `${"a".repeat(64)}.123.abc`), "partial");
  await ChunkCache.open({ dir });
  assert.equal(await readdir(join(dir, "tmp")), []);
});

test("the memory LRU stays within its byte bound and evicts the least recently used", async () => {
  const lru = new ByteLru(10_000);
  lru.set("a", new Uint8Array(4000));
  lru.set("b", new Uint8Array(4000));
  lru.get("a");
  lru.set("c", new Uint8Array(4000));
  assert.ok(lru.has("a") && lru.has("c") && !lru.has("b"));
  assert.is(lru.bytes, 8000);
  lru.set("huge", new Uint8Array(20_000));
  assert.not.ok(lru.has("huge"));
  assert.is(lru.bytes, 8000);

  const c = await ChunkCache.open({ memoryBytes: 256 << 10 });
  const chunks = Array.from({ length: 30 }, () => chunk(30_000));
  for (const { hex, data } of chunks) {
    await c.put(hex, data);
    assert.ok(c.memoryBytes <= 256 << 10, `memory ${c.memoryBytes}`);
  }
  assert.is(c.memoryBytes, 8 * 30_000);
  assert.ok(c.getMemory(chunks[29].hex, 30_000) && !c.getMemory(chunks[0].hex, 30_000));
  // A view into a larger buffer is copied, so the bound counts what is really held.
  const big = new Uint8Array(1 << 20);
  const view = big.subarray(0, 1000);
  const vh = sha(view);
  await c.put(vh, view);
  assert.is(c.getMemory(vh, 1000)!.buffer.byteLength, 1000);
});

test("the memory LRU: probation entries (background work) are evicted first and never displace a reader's chunks", async () => {
  const lru = new ByteLru(10_000);
  lru.set("reader1", new Uint8Array(4000));
  lru.set("bg1", new Uint8Array(3500), true);
  lru.set("bg2", new Uint8Array(3500), true); // over the bound: the older probation entry goes
  assert.ok(lru.has("reader1") && lru.has("bg2") && !lru.has("bg1"));
  lru.set("bg3", new Uint8Array(7000), true); // would need the reader's room: dropped instead
  assert.ok(lru.has("reader1") && !lru.has("bg3"));
  assert.is(lru.bytes, 7500);
  lru.set("reader2", new Uint8Array(4000)); // a regular entry evicts probation first
  assert.ok(lru.has("reader1") && lru.has("reader2") && !lru.has("bg2"));
  lru.set("bg4", new Uint8Array(2000), true);
  assert.ok(lru.get("bg4"), "a hit promotes a probation entry");
  lru.set("reader3", new Uint8Array(4000)); // now bg4 is a regular entry: LRU order applies
  assert.ok(!lru.has("reader1") && lru.has("bg4") && lru.has("reader2") && lru.has("reader3"));
  assert.is(lru.bytes, 10_000);
  lru.delete("bg4");
  assert.is(lru.bytes, 8000);
  assert.is(lru.size, 2);

  // Through the cache: low-priority puts keep the high-priority chunks in memory.
  const c = await ChunkCache.open({ memoryBytes: 100_000 });
  const mine = [chunk(40_000), chunk(40_000)];
  for (const { hex, data } of mine) await c.put(hex, data);
  for (let i = 0; i < 10; i++) { const { hex, data } = chunk(15_000); await c.put(hex, data, "low"); }
  assert.ok(mine.every(({ hex, data }) => c.getMemory(hex, data.length)), "background puts displaced no reader chunk");
  assert.ok(c.memoryBytes <= 100_000);
});

test("memory-only mode: nothing on disk, chunks served from memory, a restart starts empty", async () => {
  const { n, events } = counter();
  const c = await ChunkCache.open({ events });
  assert.not.ok(c.persistent);
  const { hex, data } = chunk(1000);
  await c.put(hex, data);
  assert.equal(await c.get(hex, data.length), data);
  const d = await ChunkCache.open({ events });
  assert.is(await d.get(hex, data.length), undefined);
  assert.equal(n, { memoryHit: 1, memoryMiss: 1, diskHit: 0, diskMiss: 0, corrupt: 0 });
});

test("digests that could escape the directory are refused", async () => {
  const c = await ChunkCache.open({ dir: freshDir() });
  for (const bad of ["../../etc/passwd", "sha512:" + "a".repeat(64), "A".repeat(64), "a".repeat(63)]) {
    assert.throws(() => chunkKey(bad), /not a sha256 digest/);
    assert.throws(() => c.put(bad, new Uint8Array(1)), /not a sha256 digest/);
  }
  assert.is(await sha256Hex(new TextEncoder().encode("abc"), "high"), sha(new TextEncoder().encode("abc")));
});


test("a chunk file is hashed once per process: written or checked files are read straight into the caller's buffer, others are checked first", async () => {
  const dir = freshDir();
  const { hex, data } = chunk(300_000);
  let hashed = 0;
  const hash: typeof sha256Hex = (x, p) => { hashed++; return sha256Hex(x, p); };
  const a = await ChunkCache.open({ dir, memoryBytes: 1024, hash });
  assert.is(a.readInto(hex, data.length, new Uint8Array(10), 0, 10), undefined, "nothing on disk yet");
  await a.put(hex, data);
  assert.ok(a.readable(hex, data.length), "written by this process");
  assert.not.ok(a.readable(hex, data.length + 1), "another size is another chunk");
  const into = new Uint8Array(5000);
  assert.is(await a.readInto(hex, data.length, into, 1234, 5000), 5000);
  assert.equal(into, data.subarray(1234, 6234));
  assert.is(hashed, 0, "its own write is not hashed again");
  await a.close();
  // A restarted store: the file is checked at its first read, then read directly.
  const b = await ChunkCache.open({ dir, memoryBytes: 1024, hash });
  assert.not.ok(b.readable(hex, data.length), "not checked by this process yet");
  assert.equal(await b.get(hex, data.length), data);
  assert.is(hashed, 1);
  assert.is(await b.readInto(hex, data.length, into, 0, 5000), 5000);
  assert.equal(into, data.subarray(0, 5000));
  assert.is(hashed, 1, "read directly after its check");
  await b.close();
  // A file changed while no store ran is checked, removed, and never read directly.
  const path = join(dir, "sha256", hex.slice(0, 2), hex);
  const bad = new Uint8Array(data);
  bad[7] ^= 0xff;
  await writeFile(path, bad);
  const c = await ChunkCache.open({ dir, memoryBytes: 1024, hash });
  assert.is(c.readInto(hex, data.length, into, 0, 10), undefined);
  assert.is(await c.get(hex, data.length), undefined);
  assert.not.ok(existsSync(path));
  assert.is(c.readInto(hex, data.length, into, 0, 10), undefined);
  await c.close();
});

test.run();
