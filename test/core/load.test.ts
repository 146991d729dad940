import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { loadCore, loadCoreSync } from "../../src/core/index.js";
import { wasmPath } from "../../src/node/core.js";

test("the core loads from bytes, sync and async, release and debug builds", async () => {
  for (const variant of ["release", "debug"] as const) {
    const bytes = readFileSync(wasmPath(variant));
    const a = loadCoreSync(bytes);
    const b = await loadCore(bytes);
    for (const core of [a, b]) {
      const p = core.exports.alloc(1000);
      assert.ok(p > 0 && p % 16 === 0, `aligned pointer, got ${p}`);
      core.bytes.fill(7, p, p + 1000);
      assert.is(core.slice(p, 1000).reduce((s, x) => s + x, 0), 7000);
      core.exports.free(p);
    }
  }
});

test.run();
