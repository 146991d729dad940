// The verify pass inflates a small blob on the main thread and a larger one in the inflate worker
// (pass.ts, INLINE_BYTES): both ways must give the same digests, member table, decompressed stream and
// errors, on good blobs, broken gzip, a decompression bomb and a failing read.
import { createHash } from "node:crypto";
import { setFlagsFromString } from "node:v8";
import { readFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { fixtures } from "../helpers/paths.js";
import { inflatesInline, runPass, stopInflateWorker, type PassResult } from "../../src/verify/pass.js";
import type { LayerBlob } from "../../src/verify/target.js";

/** An in-memory blob streamed in `piece`-byte pieces; `failAt`: the stream throws once it reaches that offset. */
function memoryBlob(bytes: Uint8Array, piece = 64 << 10, failAt?: number): LayerBlob {
  return {
    size: bytes.length,
    read: async (offset, length) => bytes.slice(offset, offset + length),
    async *stream(start, end) {
      for (let o = start; o < end; o += piece) {
        if (failAt !== undefined && o >= failAt) throw new Error("disk on fire");
        await new Promise((r) => setImmediate(r));
        yield bytes.slice(o, Math.min(end, o + piece));
      }
    },
    close: async () => {},
  };
}

interface Seen { bytes: number; sha256: string }

/** A consumer that drains the stream slowly (one event-loop turn a piece) and hashes what it got. */
async function drain(stream: AsyncIterable<Uint8Array>): Promise<Seen> {
  const h = createHash("sha256");
  let bytes = 0;
  for await (const b of stream) {
    h.update(b);
    bytes += b.length;
    await new Promise((r) => setImmediate(r));
  }
  return { bytes, sha256: "sha256:" + h.digest("hex") };
}

const MODES = { inline: String(1 << 30), worker: "0" } as const;

async function passIn(mode: keyof typeof MODES, blob: LayerBlob): Promise<PassResult<Seen>> {
  process.env.ESGZ_VERIFY_INLINE_BYTES = MODES[mode];
  assert.is(inflatesInline(blob.size), mode === "inline");
  if (mode === "inline") await stopInflateWorker(); // a running worker would be used whatever the size
  return runPass(blob, drain);
}

function members(r: PassResult<Seen>): string {
  const out: string[] = [];
  for (let i = 0; i < r.members.count; i++) out.push(JSON.stringify(r.members.get(i)));
  return out.join("\n");
}

async function bothWays(bytes: Uint8Array, failAt?: number): Promise<[PassResult<Seen>, PassResult<Seen>]> {
  const inline = await passIn("inline", memoryBlob(bytes, 64 << 10, failAt));
  const worker = await passIn("worker", memoryBlob(bytes, 64 << 10, failAt));
  for (const k of ["digest", "bytesRead", "gzipError", "ioError", "diffId", "uncompressedSize", "consumed"] as const) {
    assert.equal(inline[k], worker[k], `${k}: inline ${JSON.stringify(inline[k])}, worker ${JSON.stringify(worker[k])}`);
  }
  // after a failed read the member table is not used (the layer ends with the I/O error), and how far
  // the worker got before the pass gave up on it is a race
  if (!inline.ioError) assert.is(members(inline), members(worker));
  return [inline, worker];
}

test.after(async () => {
  delete process.env.ESGZ_VERIFY_INLINE_BYTES;
  await stopInflateWorker();
});

test("the Go-reference blobs: same digest, diffID, size, members and stream both ways", async () => {
  for (const f of fixtures()) {
    const bytes = await readFile(f.path);
    const [r] = await bothWays(bytes);
    assert.is(r.digest, f.blobDigest, f.blob);
    assert.is(r.diffId, f.diffId, f.blob);
    assert.is(r.uncompressedSize, f.uncompressedSize, f.blob);
    assert.is(r.consumed.sha256, f.diffId, `${f.blob}: the consumer saw the whole decompressed stream`);
    assert.ok(r.members.count > 1, f.blob);
    assert.is(r.gzipError, undefined);
  }
});

test("a flipped byte in compressed data: the same gzip error at the same blob offset both ways", async () => {
  const bytes = Buffer.from(await readFile(fixtures()[0].path));
  bytes[2000] ^= 0xff;
  const [r] = await bothWays(bytes);
  assert.ok(r.gzipError, "gzip error reported");
  assert.ok(r.gzipError!.position >= 0 && r.gzipError!.position < bytes.length, JSON.stringify(r.gzipError));
  assert.is(r.diffId, undefined);
  assert.is(r.digest, "sha256:" + createHash("sha256").update(bytes).digest("hex"), "the blob is still hashed to the end");
});

test("a truncated blob: the stream ends inside a member both ways", async () => {
  const bytes = (await readFile(fixtures()[0].path)).subarray(0, 100_000);
  const [r] = await bothWays(bytes);
  assert.ok(r.gzipError, "gzip error reported");
  assert.is(r.bytesRead, bytes.length);
});

test("a decompression bomb (96 MiB of zeros in ~100 KB) streams through whole both ways", async () => {
  const bomb = gzipSync(new Uint8Array(96 << 20), { level: 9 });
  const [r] = await bothWays(bomb);
  assert.is(r.uncompressedSize, 96 << 20);
  assert.is(r.consumed.bytes, 96 << 20);
});

test("a read that fails: an I/O error and no digest both ways", async () => {
  const bytes = await readFile(fixtures()[0].path);
  const [r] = await bothWays(bytes, 64 << 10);
  assert.is(r.ioError, "disk on fire");
  assert.is(r.digest, undefined);
});

test("a pass whose core runs out of memory (a trap in the inflate worker) fails alone: the next pass on that worker inflates on a fresh core", async () => {
  const bytes = gzipSync(Buffer.from("x".repeat(1 << 20)));
  await stopInflateWorker(); // a worker started now has a fresh core of 256 KiB: its inflater needs more
  setFlagsFromString("--wasm-max-mem-pages=16"); // 1 MiB, for every Wasm memory of the process
  let failed: PassResult<Seen>;
  try {
    failed = await passIn("worker", memoryBlob(bytes));
  } finally {
    setFlagsFromString("--wasm-max-mem-pages=4294967295"); // V8's default
  }
  assert.match(failed.gzipError?.message ?? "", /^inflater failed: esgz-fast core: \w+\(\) failed: unreachable; the instance is discarded$/);
  assert.is(failed.digest, "sha256:" + createHash("sha256").update(bytes).digest("hex"), "the blob was still read and hashed");
  const next = await passIn("worker", memoryBlob(bytes));
  assert.is(next.gzipError, undefined);
  assert.is(next.consumed.sha256, "sha256:" + createHash("sha256").update("x".repeat(1 << 20)).digest("hex"));
});

test.run();
