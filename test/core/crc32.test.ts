import { test } from "uvu";
import * as assert from "uvu/assert";
import { crc32 as zcrc32 } from "node:zlib";
import { randomBytes } from "node:crypto";
import { Crc32, crc32, crc32Region } from "../../src/core/index.js";
import { newNodeCore } from "../../src/node/core.js";

const core = newNodeCore();
const big = randomBytes(5 * 1024 * 1024 + 13);

test("known values: empty, 'a', '123456789'", () => {
  assert.is(crc32(core, new Uint8Array(0)), 0);
  assert.is(crc32(core, Buffer.from("a")), 0xe8b7be43);
  assert.is(crc32(core, Buffer.from("123456789")), 0xcbf43926);
});

test("every length 0..300 at every start alignment 0..15 equals zlib.crc32", () => {
  const p = core.exports.alloc(400);
  for (let align = 0; align < 16; align++) {
    for (let len = 0; len <= 300; len++) {
      const data = big.subarray(align * 1000, align * 1000 + len);
      core.bytes.set(data, p + align);
      assert.is(crc32Region(core, p + align, len), zcrc32(data), `len ${len} align ${align}`);
    }
  }
  core.exports.free(p);
});

test("several MB, from a JS array (staged) and in place in Wasm memory", () => {
  for (const len of [1 << 16, (1 << 16) + 1, 1 << 20, big.length]) {
    const data = big.subarray(0, len);
    const want = zcrc32(data);
    assert.is(crc32(core, data), want, `staged, len ${len}`);
    const p = core.exports.alloc(len);
    core.bytes.set(data, p);
    assert.is(crc32Region(core, p, len), want, `region, len ${len}`);
    assert.is(crc32(core, core.slice(p, len)), want, `view of Wasm memory, len ${len}`);
    core.exports.free(p);
  }
});

test("continuing from a previous CRC at random split points equals one pass", () => {
  const want = zcrc32(big);
  let seed = 1;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let round = 0; round < 20; round++) {
    const c = new Crc32(core);
    let off = 0;
    while (off < big.length) {
      const n = Math.min(big.length - off, Math.floor(rnd() ** 3 * 300_000));
      c.update(big.subarray(off, off + n));
      off += n;
    }
    assert.is(c.value, want, `round ${round}`);
  }
  // seed semantics match zlib's: crc32(b, crc32(a)) == crc32(a ‖ b)
  assert.is(crc32(core, big.subarray(777), zcrc32(big.subarray(0, 777))), want);
});

test.run();
