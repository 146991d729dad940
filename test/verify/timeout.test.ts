// `esgz-fast verify` of a registry reference whose registry stalls mid-body (the fault proxy in front
// of a real docker-registry sends the head of each layer range, then one byte at a time): it ends,
// exit 2, saying which request timed out and which flag sets the timeout; served normally, the same
// image verifies. A --timeout that is not a positive number is refused.
import { readFile } from "node:fs/promises";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { fixtures } from "../helpers/paths.js";
import { pushImage, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { startFaultProxy, type FaultProxy } from "../helpers/fault-proxy.js";
import { runCli } from "../helpers/run-cli.js";

const fact = fixtures()[0];
let reg: TestRegistry;
let proxy: FaultProxy;
let ref: string;

test.before(async () => {
  reg = await startRegistry();
  await pushImage(reg, "verify/slow", "v1", {
    layers: [{ data: await readFile(fact.path), annotations: { "containerd.io/snapshot/stargz/toc.digest": fact.tocDigest } }],
    config: { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [fact.diffId] }, config: {} },
  });
  proxy = await startFaultProxy(reg.url);
  ref = `${proxy.host}/verify/slow:v1`;
});
test.after(async () => {
  await proxy?.stop();
  await reg?.stop();
});

test("a registry trickling the layer's bytes: verify ends with exit 2 and names the timeout; then it verifies", async () => {
  const layerGet = (r: { method: string; path: string }) => r.method === "GET" && r.path.endsWith(`/blobs/${fact.blobDigest}`);
  proxy.rules.push({ match: layerGet, fault: { kind: "trickle", everyMs: 200 }, times: 1000 });
  const slow = await runCli(["verify", ref, "--timeout", "1", "--no-progress"]);
  assert.is(slow.code, 2, slow.stdout + slow.stderr);
  assert.match(slow.stdout, new RegExp(`I/O error: .*registry ${proxy.host}, repository verify/slow, blob ${fact.blobDigest}: request timeout \\(1 s\\) passed with \\d+ of \\d+ body bytes received.*gave up after 6 attempts.*\\(--timeout sets the request timeout\\)`));
  assert.ok(proxy.cutShort >= 6, `every stalled request was hung up on (${proxy.cutShort})`);

  proxy.rules = [];
  const ok = await runCli(["verify", ref, "--timeout", "1", "--no-progress"]);
  assert.is(ok.code, 0, ok.stdout + ok.stderr);
});

test("--timeout must be a positive number of seconds", async () => {
  for (const bad of ["0", "-3", "soon"]) {
    const r = await runCli(["verify", ref, `--timeout=${bad}`]);
    assert.is(r.code, 2, `${bad}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, new RegExp(`--timeout "${bad}" is not a positive number of seconds`));
  }
});

test.run();
