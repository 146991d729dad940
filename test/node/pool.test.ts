import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { CorePool } from "../../src/node/pool.js";
import { rejects } from "../helpers/assert.js";

test("tasks run in workers, inputs are transferred, results match", async () => {
  const pool = new CorePool({ size: 2 });
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
  const pool = new CorePool({ size: 1 });
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

test("an unknown operation fails its task and the pool keeps working", async () => {
  const pool = new CorePool({ size: 1 });
  try {
    await rejects(() => pool.run("nope" as "sha256", { data: new Uint8Array(1) }), /unknown operation nope/);
    assert.is(await pool.run("sha256", { data: new Uint8Array(0) }), createHash("sha256").digest("hex"));
  } finally {
    await pool.close();
  }
});

test("close rejects queued tasks", async () => {
  const pool = new CorePool({ size: 1 });
  const running = pool.run("sha256", { data: new Uint8Array(4 << 20) });
  const queued = pool.run("sha256", { data: new Uint8Array(1) });
  const closing = pool.close();
  await rejects(() => queued, /closed/);
  await running.catch(() => undefined);
  await closing;
  await rejects(() => pool.run("sha256", { data: new Uint8Array(1) }), /closed/);
});

test.run();
