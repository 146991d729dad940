import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fixtures } from "../helpers/paths.js";
import { FileSource, MemorySource } from "../../src/estargz/source.js";
import { EStargzError } from "../../src/estargz/errors.js";

async function rejects(p: Promise<unknown>, re: RegExp, code: string): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, EStargzError);
    assert.match((err as Error).message, re);
    assert.is((err as EStargzError).code, code);
    return;
  }
  assert.unreachable(`expected an error matching ${re}`);
}

test("FileSource and MemorySource return the same bytes as the file, at any range", async () => {
  const f = fixtures()[0];
  const bytes = readFileSync(f.path);
  const file = await FileSource.open(f.path);
  const mem = new MemorySource(bytes);
  try {
    assert.is(file.size, f.size);
    assert.is(mem.size, f.size);
    for (const [off, len] of [[0, 0], [0, 1], [0, f.size], [12345, 70000], [f.size - 51, 51], [f.size, 0]]) {
      const a = await file.read(off, len);
      const b = await mem.read(off, len);
      assert.is(a.length, len);
      assert.ok(Buffer.from(a).equals(bytes.subarray(off, off + len)), `file ${off}+${len}`);
      assert.ok(Buffer.from(b).equals(bytes.subarray(off, off + len)), `memory ${off}+${len}`);
    }
    // concurrent positional reads do not interfere
    const reads = await Promise.all([0, 1000, 50000, 100000].map((o) => file.read(o, 4096)));
    reads.forEach((r, i) => assert.ok(Buffer.from(r).equals(bytes.subarray([0, 1000, 50000, 100000][i], [0, 1000, 50000, 100000][i] + 4096))));
  } finally {
    await file.close();
  }
});

test("reads outside the blob are range errors naming the source", async () => {
  const mem = new MemorySource(new Uint8Array(100), "m");
  await rejects(mem.read(90, 11), /m: read of 11 bytes at offset 90 is outside the blob \(size 100\)/, "range");
  await rejects(mem.read(-1, 1), /outside/, "range");
  await rejects(mem.read(0.5, 1), /outside/, "range");
});

test("MemorySource hands out copies", async () => {
  const data = new Uint8Array([1, 2, 3, 4]);
  const r = await new MemorySource(data).read(1, 2);
  r[0] = 99;
  assert.is(data[1], 2);
});

test("FileSource: a file truncated after opening gives an io error, not short data", async () => {
  const dir = mkdtempSync(join(tmpdir(), "esgz-src-"));
  try {
    const p = join(dir, "blob");
    writeFileSync(p, Buffer.alloc(10000, 1));
    const src = await FileSource.open(p);
    try {
      truncateSync(p, 5000);
      await rejects(src.read(4000, 2000), /blob: file ended after 5000 bytes, expected 6000/, "io");
    } finally {
      await src.close();
    }
    await rejects(FileSource.open(dir), /not a regular file/, "io");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
