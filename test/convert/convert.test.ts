import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { fixturesDir, repoRoot } from "../helpers/paths.js";
import { checkBlob } from "../helpers/esgz-check.js";
import { listTar, packTree, randomTree } from "../helpers/tartree.js";
import { LayoutWriter, readBlob, readJson, sha } from "../helpers/oci.js";

const cli = join(repoRoot, "dist", "src", "cli", "main.js");
const treeTar = join(fixturesDir, "tree.tar");
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });

let dir: string;
test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), "esgz-conv-"));
});
test.after.each(() => {
  rmSync(dir, { recursive: true, force: true });
});

test("convert LAYER: a valid eStargz file, --json summary matching an independent computation", () => {
  const out = join(dir, "out.tar.gz");
  const r = run("convert", treeTar, out, "--json", "--chunk-size", "65536");
  assert.is(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  const blob = readFileSync(out);
  const checked = checkBlob(blob);
  assert.is(summary.digest, sha(blob));
  assert.is(summary.size, blob.length);
  assert.is(summary.tocDigest, sha(checked.tocJson));
  assert.is(summary.diffId, sha(gunzipSync(blob)));
  assert.is(summary.uncompressedSize, gunzipSync(blob).length);
  assert.ok(checked.toc.entries.some((e) => e.type === "chunk"), "65536-byte chunks were used");
  assert.equal(readdirSync(dir), ["out.tar.gz"], "no temporary files left");
});

test("convert LAYER with --prioritized-files and a gzip input", () => {
  const gz = join(dir, "in.tar.gz");
  writeFileSync(gz, gzipSync(readFileSync(treeTar)));
  writeFileSync(join(dir, "prio.txt"), "# first\n./etc/config\nbin/tool\n");
  const out = join(dir, "out.tar.gz");
  const r = run("convert", gz, out, "--prioritized-files", join(dir, "prio.txt"), "--compression-level", "1");
  assert.is(r.status, 0, r.stderr);
  const names = checkBlob(readFileSync(out)).toc.entries.map((e) => e.name);
  assert.equal(names.slice(0, 6), ["./", "./etc/", "./etc/config", "./bin/", "./bin/tool", ".prefetch.landmark"]);
});

test("convert LAYER: a tar with two entries of one name lists it once, the last one's, as tar extraction; verify passes", async () => {
  const mtime = new Date(Date.UTC(2024, 1, 3));
  const second = Buffer.from("second, longer");
  const tarBytes = await packTree([
    { name: "./a/", type: "directory", mode: 0o755, uid: 0, gid: 0, mtime },
    { name: "./a/f", type: "file", mode: 0o644, uid: 0, gid: 0, mtime, data: Buffer.from("first") },
    { name: "./b", type: "file", mode: 0o644, uid: 0, gid: 0, mtime, data: Buffer.from("b") },
    { name: "./a/f", type: "file", mode: 0o600, uid: 0, gid: 0, mtime, data: second },
    { name: "./a/", type: "directory", mode: 0o700, uid: 0, gid: 0, mtime },
  ]);
  const gz = join(dir, "dup.tar.gz"); // gzip: the second, indexed read spools it to a plain tar
  writeFileSync(gz, gzipSync(tarBytes));
  const out = join(dir, "out.tar.gz");
  const r = run("convert", gz, out, "--json");
  assert.is(r.status, 0, r.stderr);
  const blob = readFileSync(out);
  const checked = checkBlob(blob);
  const names = checked.toc.entries.filter((e) => e.type !== "chunk").map((e) => e.name);
  assert.equal(names, [".no.prefetch.landmark", "./b", "./a/f", "./a/"], "each name once, where its last entry stood");
  const f = checked.toc.entries.find((e) => e.name === "./a/f")!;
  assert.equal([f.size, f.mode, f.digest], [second.length, 0o600, sha(second)]);
  assert.is(checked.toc.entries.find((e) => e.name === "./a/")!.mode, 0o700);
  const inTar = (await listTar(gunzipSync(blob))).filter((e) => e.name.startsWith("./"));
  assert.equal(inTar.map((e) => [e.name, e.sha256]), [["./b", sha(Buffer.from("b")).slice(7)], ["./a/f", sha(second).slice(7)], ["./a/", sha(new Uint8Array(0)).slice(7)]]);
  const summary = JSON.parse(r.stdout);
  const v = run("verify", out, "--digest", summary.digest, "--toc-digest", summary.tocDigest, "--diff-id", summary.diffId, "--uncompressed-size", String(summary.uncompressedSize), "--json");
  assert.is(v.status, 0, v.stdout + v.stderr);
  assert.equal(readdirSync(dir).sort(), ["dup.tar.gz", "out.tar.gz"], "no temporary files left");
});

test("failures: non-zero exit, one-line reason, no output and no temporary files", () => {
  const out = join(dir, "out.tar.gz");
  let r = run("convert", join(dir, "missing.tar"), out);
  assert.is.not(r.status, 0);
  assert.match(r.stderr.trim(), /^esgz-fast: input .*missing\.tar does not exist/);
  // a corrupt tar: a header checksum broken
  const bad = Buffer.from(readFileSync(treeTar));
  bad[512 + 20] ^= 0xff;
  writeFileSync(join(dir, "bad.tar"), bad);
  r = run("convert", join(dir, "bad.tar"), out);
  assert.is.not(r.status, 0);
  assert.is(r.stderr.trim().split("\n").length, 1);
  assert.match(r.stderr, /checksum/);
  assert.not.ok(existsSync(out));
  assert.equal(readdirSync(dir), ["bad.tar"]);
  // existing output is never overwritten
  writeFileSync(out, "keep");
  r = run("convert", treeTar, out);
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /already exists/);
  assert.is(readFileSync(out, "utf8"), "keep");
  r = run("convert", treeTar, join(dir, "x"), "--compression-level", "12");
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /--compression-level must be an integer in 0\.\.9/);
});

// Issue 14 part 9: names that leave the layer. Each tar is either refused (exit 2, the entry's name in
// the one-line reason, nothing written) or converted with the exact names below in the TOC, and then
// `verify` passes. Absolute names are cleaned as Go's reader cleans them; what Go's writer would emit
// broken (its reader or ours refuses the TOC, or verify rejects the tar) is refused.
test("convert LAYER: traversal names are refused naming the entry, absolute names cleaned; every accepted output verifies", async () => {
  const mtime = new Date(Date.UTC(2024, 1, 3));
  const b = { mode: 0o644, uid: 0, gid: 0, mtime };
  const file = (name: string, pax?: Record<string, string>) => ({ ...b, name, type: "file" as const, data: Buffer.from(name), pax });
  const dirE = (name: string) => ({ ...b, name, type: "directory" as const, mode: 0o755 });
  const cases: Array<{ what: string; tree: Parameters<typeof packTree>[0]; refused?: RegExp; names?: string[] }> = [
    { what: "../ escaping", tree: [file("ok"), file("../../../x")], refused: /tar entry "\.\.\/\.\.\/\.\.\/x": a name with "\.\."/ },
    { what: ".. inside", tree: [file("a/../b")], refused: /tar entry "a\/\.\.\/b": a name with "\.\."/ },
    { what: ".. in a PAX path", tree: [file("plain", { path: "x/../../etc/passwd" })], refused: /tar entry "x\/\.\.\/\.\.\/etc\/passwd"/ },
    { what: "a file under a symlink", tree: [dirE("dir/"), { ...b, name: "link", type: "symlink", linkname: "/dir" }, file("link/x")],
      refused: /tar entry "link\/x": a parent path is not a directory \("link" is a symlink/ },
    { what: "a file under a file", tree: [file("f"), file("f/x")], refused: /tar entry "f\/x": .*"f" is a regular file/ },
    { what: "a hardlink to a missing target", tree: [file("t"), { ...b, name: "h", type: "link", linkname: "missing" }],
      refused: /tar entry "h": hardlink target is not in the TOC \(hardlink to "missing"\)/ },
    { what: "a hardlink escaping", tree: [file("t"), { ...b, name: "h", type: "link", linkname: "../t" }], refused: /tar entry "h": name escapes the root/ },
    { what: "a hardlink to a directory", tree: [dirE("d/"), { ...b, name: "h", type: "link", linkname: "d" }], refused: /tar entry "h": hardlink to a directory/ },
    { what: "the root as a file", tree: [file("./")], refused: /tar entry "\.\/": the root entry is not a directory/ },
    { what: "absolute names", tree: [dirE("/"), dirE("/abs/"), file("/abs/x"), file("./rel"), { ...b, name: "/abs/h", type: "link", linkname: "/abs/x" }],
      names: [".no.prefetch.landmark", "", "abs", "abs/x", "./rel", "abs/h"] },
  ];
  for (const c of cases) {
    const input = join(dir, "in.tar");
    const out = join(dir, "out.tar.gz");
    writeFileSync(input, await packTree(c.tree));
    const r = run("convert", input, out);
    if (c.refused) {
      assert.is(r.status, 2, `${c.what}: ${r.stderr}`);
      assert.is(r.stderr.trim().split("\n").length, 1, c.what);
      assert.match(r.stderr, c.refused, c.what);
      assert.equal(readdirSync(dir), ["in.tar"], `${c.what}: no output, no temporary file`);
    } else {
      assert.is(r.status, 0, `${c.what}: ${r.stderr}`);
      const blob = readFileSync(out);
      assert.equal(checkBlob(blob).toc.entries.map((e) => e.name), c.names, c.what);
      const v = run("verify", out, "--json");
      assert.is(v.status, 0, `${c.what}: ${v.stdout}${v.stderr}`);
      rmSync(out);
    }
  }
});

async function makeLayout(root: string): Promise<{ gzLayer: Buffer; tarLayer: Buffer; artifact: Buffer }> {
  const L = new LayoutWriter(root);
  const gzLayer = gzipSync(readFileSync(treeTar));
  const tarLayer = await packTree(randomTree(3, [10, 70_000]));
  const img = L.image([
    [gzLayer, "application/vnd.oci.image.layer.v1.tar+gzip", { "org.example.layer": "a" }],
    [tarLayer, "application/vnd.oci.image.layer.v1.tar"],
  ], { platform: { architecture: "amd64", os: "linux" } });
  const artifact = Buffer.from("an unrelated artifact blob");
  const art = L.blob(artifact, "application/vnd.example.thing");
  const nested = L.json({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [img] }, "application/vnd.oci.image.index.v1+json");
  L.index([{ ...img, annotations: { "org.opencontainers.image.ref.name": "latest" } }, art, nested]);
  return { gzLayer, tarLayer, artifact };
}

test("convert OCI layout: layers eStargz with annotations, diff_ids and manifests updated, the rest intact", async () => {
  const inDir = join(dir, "in");
  const outDir = join(dir, "out");
  const { artifact } = await makeLayout(inDir);
  const r = run("convert", inDir, outDir, "--json");
  assert.is(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.is(summary.layers.length, 2, "each layer once although two indexes reference the image");
  const index = JSON.parse(readFileSync(join(outDir, "index.json"), "utf8"));
  assert.is(index.manifests.length, 3);
  assert.is(index.manifests[0].annotations["org.opencontainers.image.ref.name"], "latest");
  assert.equal(index.manifests[0].platform, { architecture: "amd64", os: "linux" });
  assert.ok(readBlob(outDir, index.manifests[1].digest).equals(artifact), "non-layer content carried over");
  const nested = readJson(outDir, index.manifests[2].digest);
  assert.is(nested.manifests[0].digest, index.manifests[0].digest, "nested index points at the converted manifest");
  const man = readJson(outDir, index.manifests[0].digest);
  assert.is(man.annotations["org.example"], "kept");
  const config = readJson(outDir, man.config.digest);
  assert.is(config.config.Cmd[0], "/bin/sh");
  assert.is(man.layers.length, 2);
  man.layers.forEach((l: any, i: number) => {
    assert.is(l.mediaType, "application/vnd.oci.image.layer.v1.tar+gzip");
    const blob = readBlob(outDir, l.digest);
    assert.is(l.size, blob.length);
    const plain = gunzipSync(blob);
    const checked = checkBlob(blob);
    assert.is(l.annotations["containerd.io/snapshot/stargz/toc.digest"], sha(checked.tocJson));
    assert.is(l.annotations["io.containers.estargz.uncompressed-size"], String(plain.length));
    assert.is(config.rootfs.diff_ids[i], sha(plain));
  });
  assert.is(man.layers[0].annotations["org.example.layer"], "a");
  // skopeo reads the result and checks every digest while copying it
  const copy = join(dir, "copy");
  execFileSync("skopeo", ["copy", "--quiet", `oci:${outDir}:latest`, `dir:${copy}`], { stdio: "pipe" });
  assert.ok(existsSync(join(copy, "manifest.json")));
  assert.equal(readdirSync(dir).sort(), ["copy", "in", "out"], "no temporary directories left");
});

test("convert OCI layout: a layer with two entries of one name is read again (digest checked again), the last one kept", async () => {
  const inDir = join(dir, "in");
  const outDir = join(dir, "out");
  const mtime = new Date(Date.UTC(2024, 1, 3));
  const second = Buffer.from("second");
  const dupLayer = gzipSync(await packTree([
    { name: "etc/x", type: "file", mode: 0o644, uid: 0, gid: 0, mtime, data: Buffer.from("first") },
    { name: "etc/x", type: "file", mode: 0o644, uid: 0, gid: 0, mtime, data: second },
  ]));
  const L = new LayoutWriter(inDir);
  const img = L.image([[dupLayer, "application/vnd.oci.image.layer.v1.tar+gzip"]], { platform: { architecture: "amd64", os: "linux" } });
  L.index([img]);
  const r = run("convert", inDir, outDir, "--json");
  assert.is(r.status, 0, r.stderr);
  const man = readJson(outDir, JSON.parse(readFileSync(join(outDir, "index.json"), "utf8")).manifests[0].digest);
  const blob = readBlob(outDir, man.layers[0].digest);
  const entries = checkBlob(blob).toc.entries.filter((e) => e.name === "etc/x");
  assert.is(entries.length, 1);
  assert.is(entries[0].digest, sha(second));
  assert.is(readJson(outDir, man.config.digest).rootfs.diff_ids[0], sha(gunzipSync(blob)));
  assert.equal(readdirSync(join(outDir, "blobs")).filter((n) => n.startsWith(".")), [], "no temporary layer files left");
});

test("convert OCI layout: a corrupt layer blob fails the whole conversion, nothing is left behind", async () => {
  const inDir = join(dir, "in");
  const { gzLayer } = await makeLayout(inDir);
  const p = join(inDir, "blobs", "sha256", sha(gzLayer).slice(7));
  const bad = Buffer.from(gzLayer);
  bad[bad.length - 100] ^= 1;
  writeFileSync(p, bad);
  const r = run("convert", inDir, join(dir, "out"));
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /^esgz-fast: .*sha256:[0-9a-f]{64}/);
  assert.equal(readdirSync(dir), ["in"]);
});

test.run();
