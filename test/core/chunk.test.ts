// The chunk pipeline (inflate → SHA-256 → compare) on the Go-reference blobs and on crafted
// members, with the Wasm hash, the host hash (node:crypto) and the measured choice.
import { test } from "uvu";
import * as assert from "uvu/assert";
import zlib from "node:zlib";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ChunkError, ChunkVerifier, ChunkVerifyError, GzipStreamInflater, InflateError, MAX_BLOCK_SIZE, WasmBuffer, type MemberBoundary } from "../../src/core/index.js";
import { nodeCore } from "../../src/node/core.js";
import { createNodeChunkVerifier } from "../../src/node/chunk.js";
import { fixtures, fixturesDir } from "../helpers/paths.js";

const core = nodeCore();
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest();

interface FixtureChunk {
  name: string; member: Uint8Array; innerOffset: number; size: number; digest: string; expected: Uint8Array;
}

/** Every chunk of every fixture blob, with its member bytes and the bytes gunzip gives for it. */
function fixtureChunks(): FixtureChunk[] {
  const out: FixtureChunk[] = [];
  for (const fx of fixtures()) {
    const blob = readFileSync(fx.path);
    const members: MemberBoundary[] = [];
    const s = new GzipStreamInflater(core, { onMember: (m) => members.push(m), checkCrc: false });
    s.push(blob);
    s.finish();
    s.dispose();
    const whole = zlib.gunzipSync(blob);
    const byStart = new Map(members.map((m) => [m.compressedStart, m]));
    const toc = JSON.parse(readFileSync(join(fixturesDir, fx.blob.replace(/\.tar\.gz$/, ".toc.json")), "utf8"));
    const sizes = new Map<string, number>();
    for (const e of toc.entries) {
      if (e.type === "reg") sizes.set(e.name, e.size);
      if ((e.type !== "reg" && e.type !== "chunk") || !e.chunkDigest) continue;
      const m = byStart.get(e.offset)!;
      assert.ok(m, `${fx.blob}: a member starts at ${e.offset}`);
      const chunkOffset = e.chunkOffset ?? 0;
      const size = e.chunkSize || sizes.get(e.name)! - chunkOffset;
      const inner = e.innerOffset ?? 0;
      const start = m.decompressedStart + inner;
      out.push({
        name: `${fx.blob}:${e.name}@${chunkOffset}`, member: blob.subarray(m.compressedStart, m.compressedEnd),
        innerOffset: inner, size, digest: e.chunkDigest, expected: whole.subarray(start, start + size),
      });
    }
  }
  return out;
}

const chunks = fixtureChunks();

function failure(fn: () => unknown): ChunkVerifyError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ChunkVerifyError) return e;
    throw e;
  }
  throw new Error("no error");
}

test("every chunk of the Go-reference blobs verifies, with the Wasm hash, the host hash and auto", () => {
  assert.ok(chunks.length > 20, `${chunks.length} chunks`);
  assert.ok(chunks.some((c) => c.size === 65536) && chunks.some((c) => c.size < 100), "64 KiB chunks and tiny files are there");
  for (const hash of ["wasm", "host", "auto"] as const) {
    const v = createNodeChunkVerifier(core, { hash, calibrationChunks: 4 });
    try {
      for (const c of chunks) {
        const view = v.verify(c.member, c.innerOffset, c.size, c.digest);
        assert.ok(view.buffer === core.exports.memory.buffer, "the result is a view of Wasm memory");
        assert.equal(Buffer.from(view), Buffer.from(c.expected), `${hash}: ${c.name}`);
        assert.equal(sha(view), Buffer.from(c.digest.slice(7), "hex"));
      }
      if (hash !== "auto") assert.is(v.hashInUse, hash);
    } finally {
      v.dispose();
    }
  }
});

test("auto measures both hashes on the first chunks, then keeps one; without a host hash it is Wasm", () => {
  const v = createNodeChunkVerifier(core, { calibrationChunks: 8 });
  const data = Buffer.alloc(64 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  const member = zlib.gzipSync(data, { level: 1 });
  const digest = sha(data);
  try {
    assert.is(v.hashInUse, "calibrating");
    for (let i = 0; i < 8; i++) v.verify(member, 0, data.length, digest);
    assert.is(v.calibration.chunks, 8);
    assert.is(v.calibration.bytes, 8 * data.length);
    assert.ok(v.hashInUse === "wasm" || v.hashInUse === "host", v.hashInUse);
    assert.is(v.hashInUse, v.calibration.hostMs < v.calibration.wasmMs ? "host" : "wasm");
    assert.equal(Buffer.from(v.verify(member, 0, data.length, digest)), data);
  } finally {
    v.dispose();
  }
  const plain = new ChunkVerifier(core);
  try {
    assert.is(plain.hashInUse, "wasm");
    assert.equal(Buffer.from(plain.verify(member, 0, data.length, `sha256:${digest.toString("hex")}`)), data);
  } finally {
    plain.dispose();
  }
  assert.throws(() => new ChunkVerifier(core, { hash: "host" }), /needs a hostHash/);
});

test("several payloads in one member: each chunk at its inner offset; CRC is not what is checked", () => {
  const a = Buffer.from("first payload ".repeat(500));
  const b = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 13) & 255));
  const c = Buffer.from("third");
  const member = zlib.gzipSync(Buffer.concat([a, b, c]));
  // A wrong CRC-32 in the trailer does not matter: the digest covers the bytes.
  const badCrc = Buffer.from(member);
  badCrc[badCrc.length - 8] ^= 0xff;
  for (const hash of ["wasm", "host"] as const) {
    const v = createNodeChunkVerifier(core, { hash });
    try {
      for (const m of [member, badCrc]) {
        assert.equal(Buffer.from(v.verify(m, 0, a.length, sha(a))), a);
        assert.equal(Buffer.from(v.verify(m, a.length, b.length, sha(b))), b);
        assert.equal(Buffer.from(v.verify(m, a.length + b.length, c.length, sha(c))), c);
        assert.is(v.verify(m, a.length, 0, sha(new Uint8Array(0))).length, 0);
      }
    } finally {
      v.dispose();
    }
  }
});

test("a flipped byte, a wrong size and a wrong digest each give their own error, in both hash modes", () => {
  const data = Buffer.from(readFileSync("/usr/lib/python3.11/os.py").subarray(0, 40000));
  const digest = sha(data);
  const stored = zlib.gzipSync(data, { level: 0 });
  const dynamic = zlib.gzipSync(data, { level: 9 });
  for (const hash of ["wasm", "host"] as const) {
    const v = createNodeChunkVerifier(core, { hash });
    try {
      // A flipped payload byte in a stored block inflates fine: the digest catches it.
      const flipped = Buffer.from(stored);
      flipped[1000] ^= 0x01;
      let e = failure(() => v.verify(flipped, 0, data.length, digest));
      assert.is(e.failure, "digest");
      assert.is(e.code, ChunkError.DIGEST_MISMATCH);
      assert.is(e.expected, `sha256:${digest.toString("hex")}`);
      const wrong = Buffer.from(data);
      wrong[1000 - 10 - 5] ^= 0x01; // 10-byte gzip header + 5-byte stored block header
      assert.is(e.actual, `sha256:${sha(wrong).toString("hex")}`);
      assert.match(e.message, /digest mismatch: expected sha256:[0-9a-f]{64}, got sha256:[0-9a-f]{64}/);
      // A flipped byte in the gzip header: an inflate error with its position.
      const badHeader = Buffer.from(dynamic);
      badHeader[2] = 7;
      e = failure(() => v.verify(badHeader, 0, data.length, digest));
      assert.is(e.failure, "inflate");
      assert.is(e.code, InflateError.GZIP_HEADER);
      assert.is(e.position, 0);
      // Flipped bits inside the Huffman data: some error, never a wrong success.
      for (let k = 0; k < 50; k++) {
        const bad = Buffer.from(dynamic);
        bad[20 + ((k * 7919) % (bad.length - 30))] ^= 1 << (k & 7);
        const f = failure(() => v.verify(bad, 0, data.length, digest));
        assert.ok(f.failure === "inflate" || f.failure === "digest" || f.failure === "size", f.message);
      }
      // Truncated member: inflate error TRUNCATED.
      e = failure(() => v.verify(dynamic.subarray(0, dynamic.length >> 1), 0, data.length, digest));
      assert.is(e.failure, "inflate");
      assert.is(e.code, InflateError.TRUNCATED);
      // Expected size larger than the member: size mismatch with both numbers.
      e = failure(() => v.verify(dynamic, 0, data.length + 5, digest));
      assert.is(e.failure, "size");
      assert.is(e.code, ChunkError.SIZE_MISMATCH);
      assert.is(e.expected, String(data.length + 5));
      assert.is(e.actual, String(data.length));
      e = failure(() => v.verify(dynamic, 100, data.length, digest));
      assert.is(e.failure, "size");
      assert.is(e.actual, String(data.length - 100));
      // Expected size smaller: those bytes do not have that digest.
      e = failure(() => v.verify(dynamic, 0, data.length - 1, digest));
      assert.is(e.failure, "digest");
      // Wrong digest.
      e = failure(() => v.verify(dynamic, 0, data.length, sha(Buffer.from("other"))));
      assert.is(e.failure, "digest");
      // After all that, a good chunk still verifies.
      assert.equal(Buffer.from(v.verify(dynamic, 0, data.length, digest)), data);
      assert.throws(() => v.verify(dynamic, 0, data.length, "sha256:abc"), /not a sha256 digest/);
    } finally {
      v.dispose();
    }
  }
});

test("members already in Wasm memory are verified in place, into the caller's output region", () => {
  const data = Buffer.from("in place ".repeat(4000));
  const member = zlib.gzipSync(data);
  const inBuf = new WasmBuffer(core);
  const outBuf = new WasmBuffer(core, data.length);
  const v = createNodeChunkVerifier(core, { hash: "wasm" });
  try {
    const inPtr = inBuf.write(member);
    const view = v.verifyRegion(inPtr, member.length, 0, data.length, sha(data), outBuf.ptr);
    assert.is(view.byteOffset, outBuf.ptr);
    assert.equal(Buffer.from(outBuf.view(data.length)), data);
    assert.equal(Buffer.from(v.verify(inBuf.view(member.length), 0, data.length, sha(data))), data);
  } finally {
    v.dispose();
    inBuf.dispose();
    outBuf.dispose();
  }
});

test("an expected digest given as a view of Wasm memory stays the expected one when memory grows", () => {
  const a = Buffer.from("the chunk's bytes ".repeat(10));
  const wrong = sha(Buffer.from("something else"));
  const v = createNodeChunkVerifier(core, { hash: "wasm" });
  const held = new WasmBuffer(core);
  try {
    assert.equal(Buffer.from(v.verify(zlib.gzipSync(a), 0, a.length, sha(a))), a); // leaves sha(a) in the core
    // The same bytes again, behind padding larger than all of Wasm memory (input and output blocks
    // must grow), against a wrong digest held in Wasm memory.
    const pad = core.exports.memory.buffer.byteLength + (1 << 20);
    const member = zlib.gzipSync(Buffer.concat([Buffer.alloc(pad), a]), { level: 1 });
    held.write(wrong);
    const e = failure(() => v.verify(member, pad, a.length, held.view(32)));
    assert.is(e.failure, "digest");
    assert.is(e.expected, `sha256:${wrong.toString("hex")}`);
    assert.equal(Buffer.from(v.verify(member, pad, a.length, sha(a))), a);
  } finally {
    v.dispose();
    held.dispose();
  }
});

test("random chunks: the pipeline agrees with node:zlib + node:crypto", () => {
  let seed = 11;
  const r = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const wasm = createNodeChunkVerifier(core, { hash: "wasm" });
  const host = createNodeChunkVerifier(core, { hash: "host" });
  try {
    for (let i = 0; i < 60; i++) {
      const size = Math.floor(r() * r() * 300_000);
      const data = Buffer.alloc(size);
      for (let j = 0; j < size; j++) data[j] = r() < 0.7 && j > 8 ? data[j - 1 - Math.floor(r() * 8)] : Math.floor(r() * 256);
      const member = zlib.gzipSync(data, { level: i % 10 });
      const digest = createHash("sha256").update(zlib.gunzipSync(member)).digest();
      assert.equal(Buffer.from(wasm.verify(member, 0, size, digest)), data, `wasm #${i}`);
      assert.equal(Buffer.from(host.verify(member, 0, size, digest)), data, `host #${i}`);
    }
  } finally {
    wasm.dispose();
    host.dispose();
  }
});

test("a chunk that would inflate to more than the core allocates in one block is refused before anything is allocated", () => {
  const data = Buffer.from("a small chunk\n");
  const member = zlib.gzipSync(data);
  const v = createNodeChunkVerifier(core, { hash: "host" });
  try {
    assert.equal(Buffer.from(v.verify(member, 0, data.length, sha(data))), data);
    const before = core.memoryBytes;
    for (const [inner, size] of [[0, 2 ** 30], [2 ** 30 - 8, 8], [0, 2 ** 40]]) {
      try {
        v.verify(member, inner, size, sha(data));
        assert.unreachable("refused");
      } catch (e) {
        assert.instance(e, ChunkVerifyError);
        const err = e as ChunkVerifyError;
        assert.is(err.failure, "limit");
        assert.is(err.code, ChunkError.TOO_LARGE);
        assert.match(err.message, `is more than the core holds in one block (${MAX_BLOCK_SIZE})`);
      }
    }
    assert.is(core.memoryBytes, before, "memory did not grow");
    assert.not.ok(core.failed);
    assert.equal(Buffer.from(v.verify(member, 0, data.length, sha(data))), data, "the verifier goes on");
  } finally {
    v.dispose();
  }
});

test("WasmBuffer: a block over MAX_BLOCK_SIZE is a RangeError and the block it had is kept", () => {
  const b = new WasmBuffer(core, 100);
  try {
    const p = b.ptr;
    assert.throws(() => b.ensure(MAX_BLOCK_SIZE + 1), (e: Error) => e instanceof RangeError && /more than the core allocates in one block/.test(e.message));
    assert.is(b.ptr, p);
    assert.is(b.capacity, 100);
    assert.not.ok(core.failed);
  } finally {
    b.dispose();
  }
});

test.run();
