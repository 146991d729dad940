// A pull (manifest, config, ranged blob reads) from a registry reached directly runs on the
// own-socket path alone: undici is never loaded into the process (its pool costs ~25 ms and
// ~11 MiB at a store's first lookup). A HEAD request still goes to undici, which shows the check
// sees it. Each pull runs in a child process: this one loads undici to push the test image.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { pushImage, startRegistry, type TestRegistry } from "../helpers/registry.js";

const run = promisify(execFile);
const child = fileURLToPath(new URL("../helpers/pull-child.js", import.meta.url));
const hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const layer = randomBytes(300_000);
let reg: TestRegistry;

test.before(async () => {
  reg = await startRegistry();
  await pushImage(reg, "lean/app", "v1", { layers: [{ data: layer }] });
});
test.after(async () => {
  await reg?.stop();
});

async function pull(...args: string[]): Promise<{ head: string; tail: string; undiciAfterPull: boolean; undiciAtEnd: boolean }> {
  const { stdout } = await run(process.execPath, [child, `${reg.host}/lean/app:v1`, ...args], { timeout: 60_000 });
  return JSON.parse(stdout);
}

test("an anonymous pull reads the right bytes without loading undici", async () => {
  const r = await pull();
  assert.is(r.head, hex(layer.subarray(0, 1000)));
  assert.is(r.tail, hex(layer.subarray(layer.length - 1000)));
  assert.is(r.undiciAfterPull, false, "manifest, config and blob ranges went on the own-socket path");
  assert.is(r.undiciAtEnd, false);
});

test("a HEAD request (blob size) is sent on undici: the check sees undici when it is loaded", async () => {
  const r = await pull("--head");
  assert.is(r.undiciAfterPull, false);
  assert.is(r.undiciAtEnd, true);
});

test.run();
