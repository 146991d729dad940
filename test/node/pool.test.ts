import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { testPool } from "../helpers/pool-worker.js";
import { gzipSync } from "node:zlib";
import { mkdir, mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rejects } from "../helpers/assert.js";

test("tasks run in workers, inputs are transferred, results match", async () => {
  const pool = testPool(2);
  try {
    const inputs = Array.from({ length: 16 }, (_, i) => randomBytes(1000 + i * 4096));
    const expected = inputs.map((b) => createHash("sha256").update(b).digest("hex"));
    const copies = inputs.map((b) => new Uint8Array(b));
    const got = await Promise.all(copies.map((c) => pool.run("sha256", { data: c }, { transfer: [c.buffer] })));
    assert.equal(got, expected);
    assert.ok(copies.every((c) => c.byteLength === 0), "every input buffer was transferred, not copied");
  } finally {
    await pool.close();
  }
});

test("high-priority tasks overtake queued low-priority ones", async () => {
  const pool = testPool(1);
  try {
    const order: string[] = [];
    const big = () => new Uint8Array(8 << 20);
    const jobs = [
      pool.run("sha256", { data: big() }, { priority: "low" }).then(() => order.push("low1")),
      pool.run("sha256", { data: big() }, { priority: "low" }).then(() => order.push("low2")),
      pool.run("sha256", { data: big() }, { priority: "high" }).then(() => order.push("high")),
    ];
    await Promise.all(jobs);
    // low1 was already running when the others arrived; high must come before low2.
    assert.equal(order, ["low1", "high", "low2"]);
  } finally {
    await pool.close();
  }
});

test("a queued low-priority task can be promoted: it runs before the other queued low ones", async () => {
  const pool = testPool(1);
  try {
    const order: string[] = [];
    const big = () => new Uint8Array(8 << 20);
    let promote3 = () => {};
    const jobs = [
      pool.run("sha256", { data: big() }, { priority: "low" }).then(() => order.push("low1")),
      pool.run("sha256", { data: big() }, { priority: "low" }).then(() => order.push("low2")),
      pool.run("sha256", { data: big() }, { priority: "low", promotable: (p) => { promote3 = p; } }).then(() => order.push("low3")),
    ];
    promote3();
    promote3(); // a second call (or one after the task started) changes nothing
    await Promise.all(jobs);
    // low1 was already running; the promoted low3 overtakes low2.
    assert.equal(order, ["low1", "low3", "low2"]);
  } finally {
    await pool.close();
  }
});

test("an unknown operation fails its task and the pool keeps working", async () => {
  const pool = testPool(1);
  try {
    await rejects(() => pool.run("nope" as "sha256", { data: new Uint8Array(1) }), /unknown operation nope/);
    assert.is(await pool.run("sha256", { data: new Uint8Array(0) }), createHash("sha256").digest("hex"));
  } finally {
    await pool.close();
  }
});

test("a task whose input cannot be sent (a detached buffer) fails alone; the worker takes the next task", async () => {
  const pool = testPool(1);
  try {
    const data = new Uint8Array(1000);
    await pool.run("sha256", { data }, { transfer: [data.buffer] }); // detaches `data` here
    await rejects(() => pool.run("sha256", { data }, { transfer: [data.buffer] }), /detached|clone/i);
    const fresh = randomBytes(100);
    assert.is(await pool.run("sha256", { data: new Uint8Array(fresh) }), createHash("sha256").update(fresh).digest("hex"));
  } finally {
    await pool.close();
  }
});

test("verifyChunks with a cache dir: the verified chunks asked for are written (temp + rename), failed ones are not; chunksExist", async () => {
  const dir = await mkdtemp(join(tmpdir(), "esgz-pool-"));
  await mkdir(join(dir, "tmp")); // as the cache's open makes it
  const pool = testPool(1);
  try {
    const datas = [randomBytes(70_000), randomBytes(1000), randomBytes(5000)];
    const members = datas.map((d) => gzipSync(d));
    const body = new Uint8Array(Buffer.concat(members));
    let at = 0;
    const chunks = datas.map((d, i) => {
      const c = { start: at, end: at + members[i].length, innerOffset: 0, size: d.length, digest: new Uint8Array(createHash("sha256").update(d).digest()) };
      at += members[i].length;
      return c;
    });
    chunks[1].digest[0] ^= 1; // chunk 1 does not hash to its digest
    const hex = (i: number) => Buffer.from(chunks[i].digest).toString("hex");
    const path = (i: number) => join(dir, "sha256", hex(i).slice(0, 2), hex(i));
    const { results, onDisk } = await pool.run("verifyChunks", { body, chunks, cacheDir: dir, write: [true, true, true] }, { transfer: [body.buffer] });
    assert.equal(onDisk, [true, false, true]);
    // not asked to write: verified, not written
    const again = new Uint8Array(Buffer.concat(members));
    const second = await pool.run("verifyChunks", { body: again, chunks: [chunks[2]], cacheDir: dir, write: [false] }, { transfer: [again.buffer] });
    assert.equal(second.onDisk, [false]);
    assert.ok(second.results[0] instanceof Uint8Array);
    assert.ok(results[0] instanceof Uint8Array && Buffer.from(results[0]).equals(datas[0]));
    assert.type(results[1], "string");
    assert.ok(results[2] instanceof Uint8Array && Buffer.from(results[2]).equals(datas[2]));
    assert.ok((await readFile(path(0))).equals(datas[0]));
    assert.ok((await readFile(path(2))).equals(datas[2]));
    assert.not.ok(existsSync(path(1)), "a chunk that failed verification is not written");
    assert.equal(await readdir(join(dir, "tmp")), [], "no temp file left");
    assert.equal(await pool.run("chunksExist", { dir, hexes: [hex(0), hex(1), hex(2)] }), [true, false, true]);
  } finally {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("close rejects queued tasks", async () => {
  const pool = testPool(1);
  const running = pool.run("sha256", { data: new Uint8Array(4 << 20) });
  const queued = pool.run("sha256", { data: new Uint8Array(1) });
  const closing = pool.close();
  await rejects(() => queued, /closed/);
  await running.catch(() => undefined);
  await closing;
  await rejects(() => pool.run("sha256", { data: new Uint8Array(1) }), /closed/);
});

test.run();
