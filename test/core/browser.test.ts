// Embeddable for real: `esgz-fast/core` loads in headless Chromium from plain HTTP (by URL, no
// bundler: an import map names the package) and gunzips + hashes a Go-reference eStargz blob
// with exactly the results Node gets, which match the fixture's recorded digests.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { crc32 as zlibCrc32, gunzipSync } from "node:zlib";
import * as coreApi from "../../src/core/index.js";
import { newNodeCore } from "../../src/node/core.js";
import { coreWorkload, type WorkloadResult } from "../helpers/core-workload.js";
import { fixtures, repoRoot } from "../helpers/paths.js";
import { startStaticServer, type Route } from "../helpers/static-server.js";
import { withChromium } from "../helpers/chromium.js";

const fixture = fixtures().find((f) => f.blob === "estargz-default.tar.gz")!;
const blob = readFileSync(fixture.path);
const hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>esgz-fast core</title>
<link rel="icon" href="data:,">
<script type="importmap">{ "imports": { "esgz-fast/core": "/dist/src/core/index.js" } }</script>
<script type="module">
  import * as api from "esgz-fast/core";
  import { coreWorkload } from "/dist/test/helpers/core-workload.js";
  window.runWorkload = async () => {
    const core = await api.loadCore(new URL("/build/core.wasm", location.href));
    const res = await fetch("/fixture/${fixture.blob}");
    if (!res.ok) throw new Error("fixture: HTTP " + res.status);
    return coreWorkload(api, core, new Uint8Array(await res.arrayBuffer()));
  };
  window.coreReady = true;
</script>`;

/** Only what the page needs: the core's modules, the workload, the Wasm module and the fixture. */
function routes(): Map<string, Route> {
  const r = new Map<string, Route>([
    ["/", { body: PAGE, type: "text/html; charset=utf-8" }],
    ["/build/core.wasm", { file: join(repoRoot, "build", "core.wasm") }],
    ["/dist/test/helpers/core-workload.js", { file: join(repoRoot, "dist", "test", "helpers", "core-workload.js") }],
    [`/fixture/${fixture.blob}`, { file: fixture.path }],
  ]);
  const coreDir = join(repoRoot, "dist", "src", "core");
  for (const f of readdirSync(coreDir)) if (f.endsWith(".js")) r.set(`/dist/src/core/${f}`, { file: join(coreDir, f) });
  return r;
}

let nodeResult: WorkloadResult;

test("in Node: the workload's results match the fixture's recorded digests and node:zlib/node:crypto", () => {
  nodeResult = coreWorkload(coreApi, newNodeCore(), blob);
  const tar = gunzipSync(blob);
  assert.is(`sha256:${nodeResult.blobSha256}`, fixture.blobDigest);
  assert.is(`sha256:${nodeResult.tarSha256}`, fixture.diffId);
  assert.is(nodeResult.tarSize, fixture.uncompressedSize);
  assert.is(nodeResult.blobCrc32, zlibCrc32(blob));
  assert.is(nodeResult.tarCrc32, zlibCrc32(tar));
  assert.ok(nodeResult.members.length > 2, `several members, got ${nodeResult.members.length}`);
  const last = nodeResult.members[nodeResult.members.length - 1];
  assert.is(last[1], blob.length, "members cover the blob");
  assert.is(last[3], tar.length, "members cover the tar");
  assert.equal(nodeResult.memberSha256, nodeResult.members.map(([, , ds, de]) => hex(tar.subarray(ds, de))));
  assert.equal(nodeResult.compressedMemberSha256, nodeResult.members.map(([cs, ce]) => hex(blob.subarray(cs, ce))));
});

test("in headless Chromium: esgz-fast/core loads by URL and gives the same results as Node", async () => {
  const server = await startStaticServer(routes());
  try {
    const { result, errors } = await withChromium(async (context) => {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
      page.on("console", (m) => { if (m.type() === "error") errors.push(`console: ${m.text()}`); });
      await page.goto(`${server.url}/`);
      try {
        await page.waitForFunction("window.coreReady === true", undefined, { timeout: 30_000 });
      } catch (e) {
        throw new Error(`the page did not load the core: ${errors.join("; ") || (e as Error).message}`);
      }
      const result = (await page.evaluate("window.runWorkload()")) as WorkloadResult;
      return { result, errors };
    });
    assert.equal(errors, [], "no page errors");
    assert.equal(result, nodeResult);
    assert.ok(server.requested.includes("/build/core.wasm"), "the page fetched the Wasm module from the server");
  } finally {
    await server.close();
  }
});

test.run();
