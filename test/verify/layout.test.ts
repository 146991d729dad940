// OCI image layouts: one bad layer fails alone; an index needs --platform; a manifest that does not
// match its digest is refused before any of its claims is believed.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeOciLayout } from "../helpers/oci-layout.js";
import { fixtures } from "../helpers/paths.js";
import { runCli } from "../helpers/run-cli.js";
import { assertChecks, verifyJson } from "./util.js";

const facts = fixtures();
let tmp: string;
let blobs: Buffer[];
test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "esgz-verify-layout-"));
  blobs = await Promise.all(facts.map((f) => readFile(f.path)));
});
test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const layer = (i: number) => ({ data: blobs[i], diffId: facts[i].diffId, tocDigest: facts[i].tocDigest, uncompressedSize: facts[i].uncompressedSize });

test("a layer blob corrupted on disk fails (digest and gzip), the other layers still verify", async () => {
  const dir = join(tmp, "corrupt");
  await writeOciLayout(dir, [{ layers: [layer(0), layer(1), layer(2)] }]);
  const path = join(dir, "blobs", "sha256", facts[1].blobDigest.slice(7));
  const bytes = await readFile(path);
  bytes[bytes.length >> 1] ^= 0xff;
  await writeFile(path, bytes);
  const { res, out } = await verifyJson([dir]);
  assert.is(res.code, 1);
  assertChecks(out.layers[0], []);
  assertChecks(out.layers[2], []);
  assert.is(out.layers[1].checks.digest.status, "fail");
  assert.is(out.layers[1].checks.gzip.status, "fail");
});

test("an index of two platforms: --platform chooses, none given is a usage error", async () => {
  const dir = join(tmp, "multi");
  await writeOciLayout(dir, [
    { layers: [layer(0)], platform: { os: "linux", architecture: "amd64" } },
    { layers: [layer(2)], platform: { os: "linux", architecture: "arm64" } },
  ]);
  const arm = await verifyJson([dir, "--platform", "linux/arm64"]);
  assert.is(arm.res.code, 0);
  assert.is(arm.out.layers[0].actual.digest, facts[2].blobDigest);
  const none = await runCli(["verify", dir]);
  assert.is(none.code, 2);
  assert.match(none.stderr, /2 manifests \(linux\/amd64, linux\/arm64\); choose one with --platform/);
});

test("a manifest whose bytes do not match its digest: exit 1 before any layer is read", async () => {
  const dir = join(tmp, "badmanifest");
  const { manifestDigests } = await writeOciLayout(dir, [{ layers: [layer(0)] }]);
  const path = join(dir, "blobs", "sha256", manifestDigests[0].slice(7));
  const m = JSON.parse(await readFile(path, "utf8"));
  m.layers[0].annotations["containerd.io/snapshot/stargz/toc.digest"] = facts[1].tocDigest;
  await writeFile(path, JSON.stringify(m));
  const res = await runCli(["verify", dir]);
  assert.is(res.code, 1);
  assert.match(res.stderr, new RegExp(`manifest: blob ${manifestDigests[0]} hashes to sha256:`));
  assert.is(res.stdout, "");
});

test("a config listing fewer diff_ids than layers is a usage error naming both counts", async () => {
  const dir = join(tmp, "diffids");
  await writeOciLayout(dir, [{ layers: [layer(0), layer(1)], diffIds: [facts[0].diffId] }]);
  const res = await runCli(["verify", dir]);
  assert.is(res.code, 2);
  assert.match(res.stderr, /the config lists 1 diff_ids for 2 layers/);
});

test.run();
