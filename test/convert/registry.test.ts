import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { fixturesDir, repoRoot } from "../helpers/paths.js";
import { checkBlob } from "../helpers/esgz-check.js";
import { packTree, randomTree } from "../helpers/tartree.js";
import { pushImage, sha256Digest, startRegistry, type TestRegistry } from "../helpers/registry.js";

const cli = join(repoRoot, "dist", "src", "cli", "main.js");
let reg: TestRegistry;

test.before(async () => {
  reg = await startRegistry();
});
test.after(async () => {
  await reg?.stop();
});

function run(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cli, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

async function get(path: string, accept?: string): Promise<Buffer> {
  const r = await fetch(`${reg.url}${path}`, { headers: accept ? { accept } : {} });
  if (!r.ok) throw new Error(`GET ${path}: ${r.status}`);
  return Buffer.from(await r.arrayBuffer());
}

test("registry → registry: layers converted and annotated, diff_ids updated, the target tag points at the new image", async () => {
  const l1 = gzipSync(readFileSync(join(fixturesDir, "tree.tar")));
  const l2 = gzipSync(await packTree(randomTree(5, [100, 90_000])));
  const config = { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [sha256Digest(gunzipSync(l1)), sha256Digest(gunzipSync(l2))] }, config: { Cmd: ["/x"] } };
  await pushImage(reg, "app/src", "v1", { layers: [{ data: l1 }, { data: l2, annotations: { "org.example": "kept" } }], config });
  const r = await run("convert", `${reg.host}/app/src:v1`, `${reg.host}/app/dst:v1-esgz`, "--json", "--chunk-size", "65536");
  assert.is(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  const manBytes = await get("/v2/app/dst/manifests/v1-esgz", "application/vnd.oci.image.manifest.v1+json");
  assert.is(summary.digest, sha256Digest(manBytes));
  const man = JSON.parse(manBytes.toString());
  const cfg = JSON.parse((await get(`/v2/app/dst/blobs/${man.config.digest}`)).toString());
  assert.is(cfg.config.Cmd[0], "/x");
  assert.is(man.layers.length, 2);
  for (const [i, l] of man.layers.entries()) {
    const blob = await get(`/v2/app/dst/blobs/${l.digest}`);
    assert.is(sha256Digest(blob), l.digest);
    assert.is(blob.length, l.size);
    const checked = checkBlob(blob);
    const plain = gunzipSync(blob);
    assert.is(l.annotations["containerd.io/snapshot/stargz/toc.digest"], sha256Digest(checked.tocJson));
    assert.is(l.annotations["io.containers.estargz.uncompressed-size"], String(plain.length));
    assert.is(cfg.rootfs.diff_ids[i], sha256Digest(plain));
  }
  assert.is(man.layers[1].annotations["org.example"], "kept");
  // the source is untouched
  const srcMan = JSON.parse((await get("/v2/app/src/manifests/v1", "application/vnd.oci.image.manifest.v1+json")).toString());
  assert.is(srcMan.layers[0].digest, sha256Digest(l1));
});

test("registry → registry: a layer with two entries of one name is fetched again and converted indexed, the last one kept", async () => {
  const mtime = new Date(Date.UTC(2024, 1, 3));
  const second = Buffer.from("second");
  const layer = gzipSync(await packTree([
    { name: "etc/x", type: "file", mode: 0o644, uid: 0, gid: 0, mtime, data: Buffer.from("first") },
    { name: "etc/x", type: "file", mode: 0o600, uid: 0, gid: 0, mtime, data: second },
  ]));
  const config = { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [sha256Digest(gunzipSync(layer))] } };
  await pushImage(reg, "dup/src", "v1", { layers: [{ data: layer }], config });
  const before = (await reg.accessLog()).filter((e) => e.method === "GET" && e.path.includes(sha256Digest(layer))).length;
  const r = await run("convert", `${reg.host}/dup/src:v1`, `${reg.host}/dup/dst:v1`, "--json");
  assert.is(r.status, 0, r.stderr);
  const gets = (await reg.accessLog()).filter((e) => e.method === "GET" && e.path.includes(sha256Digest(layer))).length - before;
  assert.ok(gets >= 2, `the layer was read twice (${gets} GETs)`);
  const man = JSON.parse((await get("/v2/dup/dst/manifests/v1", "application/vnd.oci.image.manifest.v1+json")).toString());
  const blob = await get(`/v2/dup/dst/blobs/${man.layers[0].digest}`);
  const entries = checkBlob(blob).toc.entries.filter((e) => e.name === "etc/x");
  assert.equal(entries.map((e) => [e.mode, e.digest]), [[0o600, sha256Digest(second)]]);
});

test("--hosts-config: the source registry reached through a mirror from stargz-store's [resolver] table", async () => {
  const { mkdtempSync, rmSync, writeFileSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const dir = mkdtempSync(join(tmpdir(), "esgz-hosts-"));
  try {
    const l1 = gzipSync(readFileSync(join(fixturesDir, "tree.tar")));
    await pushImage(reg, "mirrored/src", "v1", { layers: [{ data: l1 }], config: { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [sha256Digest(gunzipSync(l1))] } } });
    const cfg = join(dir, "config.toml");
    writeFileSync(cfg, `[[resolver.host."registry.invalid".mirrors]]\nhost = "${reg.host}"\ninsecure = true\n`);
    const r = await run("convert", "registry.invalid/mirrored/src:v1", `${reg.host}/mirrored/dst:v1`, "--hosts-config", cfg, "--json");
    assert.is(r.status, 0, r.stderr);
    const man = JSON.parse((await get("/v2/mirrored/dst/manifests/v1", "application/vnd.oci.image.manifest.v1+json")).toString());
    assert.ok(man.layers[0].annotations["containerd.io/snapshot/stargz/toc.digest"]);
    // without the hosts config the made-up registry is unreachable: a clear failure
    const bad = await run("convert", "registry.invalid/mirrored/src:v1", `${reg.host}/mirrored/dst:v2`);
    assert.is.not(bad.status, 0);
    assert.match(bad.stderr, /^esgz-fast: .*registry\.invalid/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("registry → registry failures: missing image, digest target; non-zero exit and one line", async () => {
  let r = await run("convert", `${reg.host}/nope/nothing:1`, `${reg.host}/nope/out:1`);
  assert.is.not(r.status, 0);
  assert.is(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /^esgz-fast: .*nope\/nothing/);
  r = await run("convert", `${reg.host}/app/src:v1`, `${reg.host}/app/dst@sha256:${"0".repeat(64)}`);
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /must be a tag/);
});

test.run();
