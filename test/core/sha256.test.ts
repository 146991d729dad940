import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { Sha256, sha256, sha256Hex, sha256Region, sha256RegionPtr, sha256Regions, sha256x4, toHex } from "../../src/core/index.js";
import { newNodeCore } from "../../src/node/core.js";

const core = newNodeCore();
const big = randomBytes(5 * 1024 * 1024 + 13);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const nodeHex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

// A seeded generator, so a failure names a reproducible case.
let seed = 12345;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);

/** Copies `data` into a fresh Wasm block at `misalign` bytes past a 16-byte boundary. */
function inWasm(data: Uint8Array, misalign = 0): { ptr: number; release(): void } {
  const block = core.exports.alloc(data.length + misalign + 1);
  core.bytes.set(data, block + misalign);
  return { ptr: block + misalign, release: () => core.exports.free(block) };
}

test("FIPS 180-2 vectors", () => {
  const abc = Buffer.from("abc");
  assert.is(sha256Hex(core, new Uint8Array(0)), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.is(sha256Hex(core, abc), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert.is(sha256Hex(core, Buffer.from("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  assert.is(sha256Hex(core, Buffer.alloc(1_000_000, "a")),
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
});

test("every length 0..300 (block edges 55/56/63/64 and their multiples), one-shot and incremental, aligned and not", () => {
  const h = new Sha256(core);
  for (let len = 0; len <= 300; len++) {
    const data = big.subarray(len, 2 * len);
    const want = nodeHex(data);
    const r = inWasm(data, len % 7);
    assert.is(hex(sha256Region(core, r.ptr, len)), want, `one-shot region, len ${len}`);
    assert.is(h.updateRegion(r.ptr, len).digestHex(), want, `incremental region, len ${len}`);
    r.release();
    assert.is(hex(sha256(core, data)), want, `one-shot array, len ${len}`);
    assert.is(hex(h.update(data).digest()), want, `incremental array, len ${len}`);
  }
  h.free();
});

test("several MB: JS arrays (staged), Wasm regions and views of Wasm memory (in place)", () => {
  for (const len of [65_535, 65_536, 65_537, 1 << 20, big.length]) {
    const data = big.subarray(0, len);
    const want = nodeHex(data);
    assert.is(hex(sha256(core, data)), want, `array, len ${len}`);
    const r = inWasm(data, 3);
    assert.is(hex(sha256Region(core, r.ptr, len)), want, `region, len ${len}`);
    assert.is(hex(sha256(core, core.slice(r.ptr, len))), want, `view, len ${len}`);
    const out = sha256RegionPtr(core, r.ptr, len);
    assert.is(hex(core.slice(out, 32)), want, `digest left in Wasm memory, len ${len}`);
    r.release();
  }
});

test("hashing a large JS array never grows Wasm memory", () => {
  sha256(core, big.subarray(0, 100));
  const before = core.exports.memory.buffer.byteLength;
  const h = new Sha256(core);
  h.update(big);
  assert.is(h.digestHex(), nodeHex(big));
  sha256(core, big);
  h.free();
  assert.is(core.exports.memory.buffer.byteLength, before);
});

test("random split points give the one-pass digest (arrays and regions, empty pieces included)", () => {
  const msg = big.subarray(0, 700_001);
  const want = nodeHex(msg);
  const r = inWasm(msg, 5);
  const h = new Sha256(core);
  for (let round = 0; round < 40; round++) {
    let off = 0;
    while (off < msg.length) {
      const n = Math.min(msg.length - off, Math.floor(rnd() ** 4 * 100_000));
      if (round % 2) h.update(msg.subarray(off, off + n));
      else h.updateRegion(r.ptr + off, n);
      off += n;
    }
    assert.is(h.digestHex(), want, `round ${round}`);
  }
  // many tiny pieces across block edges
  for (let off = 0; off < 4096; off++) h.update(msg.subarray(off, off + 1));
  assert.is(h.digestHex(), nodeHex(msg.subarray(0, 4096)));
  h.free();
  r.release();
});

test("reuse: digest starts a new message, reset drops input, free forbids further use", () => {
  const h = new Sha256(core);
  assert.is(h.update(Buffer.from("abc")).digestHex(), nodeHex(Buffer.from("abc")));
  assert.is(h.update(Buffer.from("abc")).digestHex(), nodeHex(Buffer.from("abc")), "second message, same hasher");
  assert.is(h.digestHex(), nodeHex(new Uint8Array(0)), "nothing added since the last digest");
  h.update(big.subarray(0, 1000)).reset().update(Buffer.from("x"));
  assert.is(h.digestHex(), nodeHex(Buffer.from("x")));
  h.free();
  assert.throws(() => h.update(Buffer.from("x")), /after free/);
  h.free(); // idempotent
});

test("four lanes: 1–4 messages of different lengths, empty lanes included", () => {
  const lens = [0, 1, 3, 55, 56, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4096, 65_536 + 7];
  for (let count = 1; count <= 4; count++) {
    for (let t = 0; t < 120; t++) {
      const msgs = Array.from({ length: count }, () => {
        const len = lens[Math.floor(rnd() * lens.length)];
        const off = Math.floor(rnd() * 1000);
        return big.subarray(off, off + len);
      });
      const got = sha256x4(core, msgs).map(hex);
      assert.equal(got, msgs.map(nodeHex), `lengths ${msgs.map((m) => m.length).join(",")}`);
    }
  }
  assert.equal(sha256x4(core, []), []);
  assert.equal(sha256x4(core, [new Uint8Array(0), new Uint8Array(0)]).map(hex), [nodeHex(new Uint8Array(0)), nodeHex(new Uint8Array(0))]);
});

test("four lanes: every length 0..300 in each lane position, unaligned regions", () => {
  for (let len = 0; len <= 300; len++) {
    const msgs = [len, 300 - len, (len * 7) % 301, len + 64].map((l, i) => big.subarray(i * 500 + len, i * 500 + len + l));
    const blocks = msgs.map((m, i) => inWasm(m, i * 3 + 1));
    const got = sha256Regions(core, blocks.map((b, i) => ({ ptr: b.ptr, len: msgs[i].length }))).map(hex);
    blocks.forEach((b) => b.release());
    assert.equal(got, msgs.map(nodeHex), `lengths ${msgs.map((m) => m.length).join(",")}`);
  }
});

test("many messages through four lanes: lanes refill as messages end, a long one finishes alone", () => {
  for (let t = 0; t < 12; t++) {
    const count = 5 + Math.floor(rnd() * 60);
    const msgs = Array.from({ length: count }, (_, i) => {
      // one long message in some rounds, so it outlives all others
      const len = t % 3 === 0 && i === 1 ? 3_000_000 + t : Math.floor(rnd() ** 3 * 200_000);
      const off = Math.floor(rnd() * 100_000);
      return big.subarray(off, off + len);
    });
    const staged = inWasm(big, 0);
    const regions = msgs.map((m) => ({ ptr: staged.ptr + m.byteOffset - big.byteOffset, len: m.length }));
    const viaRegions = sha256Regions(core, regions).map(hex);
    staged.release();
    const want = msgs.map(nodeHex);
    assert.equal(viaRegions, want, `round ${t}, ${count} messages`);
    assert.equal(sha256x4(core, msgs).map(hex), want, `round ${t}, staged arrays`);
  }
});

test("four lanes over views of Wasm memory hash in place", () => {
  const msgs = [big.subarray(0, 100_000), big.subarray(5, 70_000), big.subarray(9, 9), big.subarray(1, 200)];
  const blocks = msgs.map((m) => inWasm(m, 1));
  const views = blocks.map((b, i) => core.slice(b.ptr, msgs[i].length));
  assert.equal(sha256x4(core, views).map(hex), msgs.map(nodeHex));
  blocks.forEach((b) => b.release());
});

test("regions outside Wasm memory are refused before the core reads them", () => {
  const size = core.exports.memory.buffer.byteLength;
  assert.throws(() => sha256Region(core, size - 10, 11), /outside Wasm memory/);
  assert.throws(() => new Sha256(core).updateRegion(-1, 4), /outside Wasm memory/);
  assert.throws(() => sha256Regions(core, [{ ptr: 0, len: 1 }, { ptr: size, len: 1 }]), /outside Wasm memory/);
  assert.is(hex(sha256Region(core, size - 10, 10)), nodeHex(core.bytes.subarray(size - 10)));
});

test("toHex formats lowercase, whole arrays or a range", () => {
  const b = Uint8Array.from([0, 1, 0xab, 0xff, 0x10]);
  assert.is(toHex(b), "0001abff10");
  assert.is(toHex(b, 2, 2), "abff");
});

test.run();
