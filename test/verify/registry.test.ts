// Images in a real local docker-registry: every layer verified through the registry client; a lying
// annotation or config fails the right check; --layer and --platform select; unreachable → exit 2.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { fixtures } from "../helpers/paths.js";
import { writeOciLayout } from "../helpers/oci-layout.js";
import { pushImage, pushIndex, skopeoCopy, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { runCli } from "../helpers/run-cli.js";
import { assertChecks, verifyJson } from "./util.js";

const facts = fixtures();
let reg: TestRegistry;
let blobs: Buffer[];

const TOC = "containerd.io/snapshot/stargz/toc.digest";
const USIZE = "io.containers.estargz.uncompressed-size";

function config(diffIds: string[], arch = "amd64") {
  return { architecture: arch, os: "linux", rootfs: { type: "layers", diff_ids: diffIds }, config: {} };
}

test.before(async () => {
  reg = await startRegistry();
  blobs = await Promise.all(facts.map((f) => readFile(f.path)));
});
test.after(async () => {
  await reg?.stop();
});

test("an image of the four fixtures verifies layer by layer through the registry", async () => {
  const img = await pushImage(reg, "verify/all", "v1", {
    layers: facts.map((f, i) => ({ data: blobs[i], annotations: { [TOC]: f.tocDigest, [USIZE]: String(f.uncompressedSize) } })),
    config: config(facts.map((f) => f.diffId)),
  });
  const { res, out } = await verifyJson([img.ref]);
  assert.is(res.code, 0, res.stdout + res.stderr);
  assert.is(out.layers.length, 4);
  out.layers.forEach((l, i) => {
    assertChecks(l, []);
    assert.is(l.actual.digest, facts[i].blobDigest);
  });
  // by digest too
  const byDigest = await verifyJson([`${reg.host}/verify/all@${img.manifestDigest}`, "--layer", "3"]);
  assert.is(byDigest.res.code, 0);
  assert.is(byDigest.out.layers.length, 1);
  assert.is(byDigest.out.layers[0].kind, "stargz-legacy");
});

test("a wrong TOC-digest annotation and a wrong diff_id in the config fail those checks only", async () => {
  const f = facts[1], g = facts[0];
  const img = await pushImage(reg, "verify/lies", "v1", {
    layers: [
      { data: blobs[1], annotations: { [TOC]: g.tocDigest, [USIZE]: String(f.uncompressedSize) } },
      { data: blobs[2], annotations: { [TOC]: facts[2].tocDigest } },
    ],
    config: config([f.diffId, g.diffId]),
  });
  const { res, out } = await verifyJson([img.ref]);
  assert.is(res.code, 1);
  assertChecks(out.layers[0], ["tocDigest"]);
  assertChecks(out.layers[1], ["diffId"], ["size"]);
  const table = await runCli(["verify", img.ref]);
  assert.is(table.code, 1);
  assert.match(table.stdout, /layer 0: FAILED tocDigest/);
  assert.match(table.stdout, /layer 1: FAILED diffId/);
  assert.match(table.stdout, /2 of 2 layers FAILED verification/);
});

test("--platform picks the manifest of an index", async () => {
  const amd = await pushImage(reg, "verify/multi", "amd64", {
    layers: [{ data: blobs[0], annotations: { [TOC]: facts[0].tocDigest } }], config: config([facts[0].diffId]),
  });
  const arm = await pushImage(reg, "verify/multi", "arm64", {
    layers: [{ data: blobs[2], annotations: { [TOC]: facts[2].tocDigest } }], config: config([facts[2].diffId], "arm64"),
  });
  const desc = (p: typeof amd, arch: string) => ({ mediaType: p.manifest.mediaType, digest: p.manifestDigest, size: p.manifestBytes.length, platform: { os: "linux", architecture: arch } });
  await pushIndex(reg, "verify/multi", "latest", [desc(amd, "amd64"), desc(arm, "arm64")]);
  const { res, out } = await verifyJson([`${reg.host}/verify/multi:latest`, "--platform", "linux/arm64"]);
  assert.is(res.code, 0, res.stdout + res.stderr);
  assert.is(out.layers[0].actual.digest, facts[2].blobDigest);
});

test("skopeo copies a layout to the registry and back: both verify (annotations kept, --ref-name picks the image)", async () => {
  const tmp = await mkdtemp(join(tmpdir(), "esgz-verify-skopeo-"));
  try {
    const src = join(tmp, "src");
    await writeOciLayout(src, [{
      refName: "v1",
      layers: facts.slice(0, 2).map((f, i) => ({ data: blobs[i], diffId: f.diffId, tocDigest: f.tocDigest, uncompressedSize: f.uncompressedSize })),
    }]);
    skopeoCopy(`oci:${src}:v1`, `docker://${reg.host}/verify/skopeo:v1`);
    const viaRegistry = await verifyJson([`${reg.host}/verify/skopeo:v1`]);
    assert.is(viaRegistry.res.code, 0, viaRegistry.res.stdout + viaRegistry.res.stderr);
    viaRegistry.out.layers.forEach((l) => assertChecks(l, []));
    const back = join(tmp, "back");
    skopeoCopy(`docker://${reg.host}/verify/skopeo:v1`, `oci:${back}:copied`);
    const viaLayout = await verifyJson([back, "--ref-name", "copied"]);
    assert.is(viaLayout.res.code, 0, viaLayout.res.stdout + viaLayout.res.stderr);
    assert.is(viaLayout.out.layers.length, 2);
    viaLayout.out.layers.forEach((l) => assertChecks(l, []));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test("a missing image or an unreachable registry exits 2", async () => {
  let res = await runCli(["verify", `${reg.host}/verify/none:v1`]);
  assert.is(res.code, 2);
  assert.match(res.stderr, /verify\/none/);
  res = await runCli(["verify", "127.0.0.1:1/verify/none:v1"]);
  assert.is(res.code, 2);
});

// Issue 14 part 10: a name that is no file was reported only as a registry (DNS) failure.
test("a missing local path says so (and, when it is also a reference, what the registry said); symlink loops and dangling links are local errors", async () => {
  const tmp = await mkdtemp(join(tmpdir(), "esgz-missing-"));
  try {
    const { symlink } = await import("node:fs/promises");
    await symlink("loop-b", join(tmp, "loop-a"));
    await symlink("loop-a", join(tmp, "loop-b"));
    await symlink("nowhere.tar.gz", join(tmp, "dangling"));
    // a bare word is also a Docker Hub reference: a dead proxy keeps the test off the network
    const offline = { HTTPS_PROXY: "http://127.0.0.1:1", https_proxy: "http://127.0.0.1:1", NO_PROXY: "", no_proxy: "" };
    let res = await runCli(["verify", "nonexistent"], { cwd: tmp, env: offline });
    assert.is(res.code, 2);
    assert.match(res.stderr, /^esgz-fast: nonexistent: no such file or directory; tried as the registry reference docker\.io\/library\/nonexistent:latest: /);
    res = await runCli(["verify", `${reg.host}/verify/none.tar.gz:v1`], { cwd: tmp });
    assert.is(res.code, 2);
    assert.match(res.stderr, new RegExp(`no such file or directory; tried as the registry reference ${reg.host}/verify/none\\.tar\\.gz:v1: .*(404|not found|unknown)`, "i"));
    for (const [name, why] of [["loop-a", /loop-a: symlink loop/], ["dangling", /dangling: dangling symlink \(to nowhere\.tar\.gz\)/], ["Layer Copy.tar", /Layer Copy\.tar: no such file or directory \(nor an image reference/]] as const) {
      res = await runCli(["verify", name], { cwd: tmp, env: offline });
      assert.is(res.code, 2, name);
      assert.match(res.stderr, why, name);
      assert.not.match(res.stderr, /registry/, `${name}: a local error, no registry asked`);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test.run();
