// Every Go-reference fixture verifies with the facts of EXPECTED.tsv: as a blob with flags, with a
// descriptor JSON, and as an OCI image layout built here from the fixtures plus a config.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { fixtures } from "../helpers/paths.js";
import { runCli } from "../helpers/run-cli.js";
import { writeLayout } from "./layout.js";
import { assertChecks, factFlags, verifyJson } from "./util.js";

const facts = fixtures();
let tmp: string;
test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "esgz-verify-"));
});
test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

for (const f of facts) {
  test(`${f.blob} verifies with the facts of EXPECTED.tsv (flags)`, async () => {
    const { res, out } = await verifyJson([f.path, ...factFlags(f)]);
    assert.is(res.code, 0, res.stdout + res.stderr);
    assert.ok(out.ok);
    const l = out.layers[0];
    assert.is(l.kind, f.blob.startsWith("stargz-legacy") ? "stargz-legacy" : "estargz");
    assertChecks(l, []);
    assert.is(l.actual.digest, f.blobDigest);
    assert.is(l.actual.diffId, f.diffId);
    assert.is(l.actual.tocDigest, f.tocDigest);
    assert.is(l.actual.uncompressedSize, f.uncompressedSize);
    assert.ok((l.actual.chunks as number) > 0);
  });
}

test("the table shows one row with every check passed, exit 0", async () => {
  const f = facts[1];
  const res = await runCli(["verify", f.path, ...factFlags(f)]);
  assert.is(res.code, 0, res.stderr);
  const lines = res.stdout.split("\n");
  assert.match(lines[0], /^LAYER\s+KIND\s+digest\s+gzip\s+footer\s+toc\s+tocDigest\s+chunks\s+tar\s+diffId\s+size$/);
  assert.match(lines[1], /estargz(\s+pass){9}$/);
  assert.match(res.stdout, /1 layer verified/);
  assert.is(res.stderr, "", "no progress bar when stderr is not a terminal");
});

test("c64k: 27 chunks of 26 files, 30 gzip members, chunky.bin's 5 chunks among them", async () => {
  const f = facts.find((x) => x.blob === "estargz-c64k.tar.gz")!;
  const { out } = await verifyJson([f.path, ...factFlags(f)]);
  assert.is(out.layers[0].actual.chunks, 27);
  assert.is(out.layers[0].actual.members, 30);
});

test("a descriptor JSON carries digest, size and annotations; flags still add the diffID", async () => {
  const f = facts[0];
  const desc = join(tmp, "desc.json");
  await writeFile(desc, JSON.stringify({
    mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: f.blobDigest, size: f.size,
    annotations: { "containerd.io/snapshot/stargz/toc.digest": f.tocDigest, "io.containers.estargz.uncompressed-size": String(f.uncompressedSize) },
  }));
  const { res, out } = await verifyJson([f.path, "--descriptor", desc, "--diff-id", f.diffId]);
  assert.is(res.code, 0, res.stdout);
  assertChecks(out.layers[0], []);
});

test("a descriptor whose media type is not gzip: only the blob digest is checked, the rest skipped with the reason", async () => {
  const f = facts[0];
  const desc = join(tmp, "zstd.json");
  await writeFile(desc, JSON.stringify({ mediaType: "application/vnd.oci.image.layer.v1.tar+zstd", digest: f.blobDigest, size: f.size }));
  const { res, out } = await verifyJson([f.path, "--descriptor", desc]);
  assert.is(res.code, 0);
  assert.is(out.layers[0].kind, "unknown");
  assertChecks(out.layers[0], [], ["gzip", "footer", "toc", "tocDigest", "chunks", "tar", "diffId", "size"]);
  assert.match(out.layers[0].checks.gzip.detail!, /tar\+zstd is not a gzip layer/);
});

test("without expectations every computed check still runs; the unchecked ones are skipped with the actual value", async () => {
  const f = facts[2];
  const { res, out } = await verifyJson([f.path]);
  assert.is(res.code, 0);
  assertChecks(out.layers[0], [], ["digest", "tocDigest", "diffId", "size"]);
  assert.match(out.layers[0].checks.digest.detail!, f.blobDigest);
});

test("an OCI layout of all four fixtures: every layer verified against manifest annotations and config diff_ids", async () => {
  const dir = join(tmp, "layout");
  await writeLayout(dir, facts);
  const { res, out } = await verifyJson([dir]);
  assert.is(res.code, 0, res.stdout + res.stderr);
  assert.is(out.layers.length, 4);
  out.layers.forEach((l, i) => {
    assert.is(l.label, `layer ${i}`);
    assertChecks(l, []);
  });
  const table = await runCli(["verify", dir]);
  assert.is(table.code, 0);
  assert.match(table.stdout, /4 layers verified/);
});

test("--layer picks one layer by index or by digest", async () => {
  const dir = join(tmp, "layout-select");
  await writeLayout(dir, facts);
  let r = await verifyJson([dir, "--layer", "2"]);
  assert.is(r.out.layers.length, 1);
  assert.is(r.out.layers[0].actual.digest, facts[2].blobDigest);
  r = await verifyJson([dir, "--layer", facts[1].blobDigest]);
  assert.is(r.out.layers.length, 1);
  assert.is(r.out.layers[0].label, "layer 1");
  const bad = await runCli(["verify", dir, "--layer", "9"]);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /--layer 9: the image has 4 layers/);
});

test.run();
