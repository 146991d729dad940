// What identifies a layer, through a real mount: a lying registry that lists another image's layer
// digest with its own blob and TOC, a TOC that gives one chunk digest two sizes, a registry that
// serves a blob which does not hash to its digest, and a tag that moves while its layer is in use.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { writeEStargz, type WriteResult } from "../../src/estargz/writer.js";
import { TOC_DIGEST_ANNOTATION, UNCOMPRESSED_SIZE_ANNOTATION } from "../../src/estargz/annotations.js";
import { startRegistry, pushImage, type TestRegistry, type PushedImage } from "../helpers/registry.js";
import { startScriptedRegistry, type ScriptedRegistry } from "../helpers/scripted-registry.js";
import { cleanupMount, run, startStore, tempDir, type StoreProcess } from "../helpers/fuse.js";
import { refDir } from "../helpers/podman.js";
import { packTree, type TreeEntry } from "../helpers/tartree.js";
import { withToc } from "../helpers/toc-rewrite.js";
import { rejects } from "../helpers/assert.js";

let reg: TestRegistry;
let liar: ScriptedRegistry;
let work: string;
let mnt: string;
let store: StoreProcess | undefined;

const text = (s: string) => new TextEncoder().encode(s);
const sha = (b: Uint8Array) => "sha256:" + createHash("sha256").update(b).digest("hex");
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An eStargz blob of a tree of regular files. */
async function esgz(files: Record<string, Uint8Array>): Promise<{ blob: Buffer; facts: WriteResult }> {
  const entries: TreeEntry[] = Object.entries(files).map(([name, data]) => ({ name, type: "file", mode: 0o644, uid: 0, gid: 0, mtime: new Date(0), data }));
  const tar = await packTree(entries);
  const parts: Buffer[] = [];
  async function* input() { yield tar; }
  const facts = await writeEStargz(input(), (b) => { parts.push(Buffer.from(b)); });
  return { blob: Buffer.concat(parts), facts };
}

const annotations = (facts: { tocDigest: string; uncompressedSize?: number }) => ({
  [TOC_DIGEST_ANNOTATION]: facts.tocDigest, ...(facts.uncompressedSize ? { [UNCOMPRESSED_SIZE_ANNOTATION]: String(facts.uncompressedSize) } : {}),
});

async function pushEsgz(repo: string, tag: string, files: Record<string, Uint8Array>): Promise<PushedImage & { blob: Buffer; facts: WriteResult }> {
  const { blob, facts } = await esgz(files);
  const pushed = await pushImage(reg, repo, tag, {
    layers: [{ data: blob, annotations: annotations(facts) }],
    config: { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [facts.diffId] } },
  });
  return { ...pushed, blob, facts };
}

async function freshStore(env: NodeJS.ProcessEnv = {}, configToml?: string): Promise<StoreProcess> {
  await store?.stop().catch(() => {});
  await cleanupMount(mnt).catch(() => {});
  store = await startStore({ mountpoint: mnt, root: join(work, `root-${Date.now()}`), env, configToml });
  return store;
}

const layerPath = (ref: string, digest: string, ...rest: string[]) => join(mnt, refDir(ref), digest, ...rest);

test.before(async () => {
  work = await tempDir("esgz-trust-");
  mnt = join(work, "mnt");
  await mkdir(mnt);
  reg = await startRegistry();
  liar = await startScriptedRegistry();
});

test.after(async () => {
  await store?.stop().catch(() => {});
  await cleanupMount(mnt).catch(() => {});
  await reg?.stop();
  await liar?.close();
  await run("rm", ["-rf", work]).catch(() => {});
});

// The attacker's image lists the victim's public layer digest, with its own blob, its own TOC (and
// annotation) and the victim's diffIDs copied into its config.
async function victimAndAttacker(tag: string) {
  const victim = await pushEsgz("victim/app", tag, { "etc/config": text("victim config\n"), "bin/app": text("victim binary\n") });
  const evil = await esgz({ "etc/config": text("attacker config\n"), "bin/app": text("attacker binary\n") });
  const digest = victim.layers[0].digest;
  const attacker = liar.setImage("attacker/app", tag, [{ digest, data: evil.blob, annotations: annotations(evil.facts) }], [victim.facts.diffId]);
  return { victim, attacker, digest };
}

test("a layer digest listed by another image with other bytes is another layer: each image gets its own files", async () => {
  await freshStore();
  const { victim, attacker, digest } = await victimAndAttacker("first");
  // The attacker's image is looked up first (its own files: it may serve itself whatever it likes).
  assert.is(await readFile(layerPath(attacker.ref, digest, "diff", "etc/config"), "utf8"), "attacker config\n");
  // The victim's image, by layer digest and by TOC digest: the victim's files, fetched from the victim's registry.
  assert.is(await readFile(layerPath(victim.ref, digest, "diff", "etc/config"), "utf8"), "victim config\n");
  assert.is(await readFile(layerPath(victim.ref, victim.facts.tocDigest, "diff", "bin/app"), "utf8"), "victim binary\n");
  assert.ok((await reg.accessLog()).some((e) => e.method === "GET" && e.path.includes(`/victim/app/blobs/${digest}`)), "the victim's registry was asked");
  // Without a reference the digest names two different layers: not served at all.
  await rejects(() => stat(join(mnt, digest, "diff")), /ENOENT/);
  assert.match(await store!.logsWith(/ambiguous/), /ambiguous/);
  // The attacker's `info` does not become the victim's, and its blob is not the victim's blob.
  const info = JSON.parse(await readFile(layerPath(attacker.ref, digest, "info"), "utf8"));
  assert.is(info["compressed-diff-digest"], digest); // what its manifest claims (layer-digest clients)…
  await rejects(() => readFile(layerPath(attacker.ref, digest, "blob")), /EIO/); // …and what its bytes disprove
  assert.is(sha(await readFile(layerPath(victim.ref, digest, "blob"))), digest);
});

test("the victim first, released and dropped, then the attacker: the victim's lookups still get the victim's files", async () => {
  const s = await freshStore({ ESGZ_IDLE_DROP_MS: "300" });
  const { victim, attacker, digest } = await victimAndAttacker("second");
  assert.is(await readFile(layerPath(victim.ref, digest, "diff", "etc/config"), "utf8"), "victim config\n");
  await rejects(() => open(layerPath(victim.ref, digest, "use"), "w"), /ENOENT/);
  await rejects(() => run("rmdir", [layerPath(victim.ref, digest)]), /No such file/);
  assert.match(await s.logsWith(/idle layer dropped/), /idle layer dropped/);
  assert.is(await readFile(layerPath(attacker.ref, digest, "diff", "etc/config"), "utf8"), "attacker config\n");
  assert.is(await readFile(layerPath(victim.ref, digest, "diff", "etc/config"), "utf8"), "victim config\n");
  assert.is(await readFile(layerPath(victim.ref, victim.facts.tocDigest, "diff", "etc/config"), "utf8"), "victim config\n");
});

test("a ref-less lookup is served when the digest names one layer", async () => {
  await freshStore();
  const only = await pushEsgz("single/app", "v1", { "etc/config": text("single\n") });
  assert.is(await readFile(layerPath(only.ref, only.layers[0].digest, "diff", "etc/config"), "utf8"), "single\n");
  assert.is(await readFile(join(mnt, only.layers[0].digest, "diff", "etc/config"), "utf8"), "single\n");
  assert.is(await readFile(join(mnt, only.facts.tocDigest, "diff", "etc/config"), "utf8"), "single\n");
});

test("a chunk is its digest and its size: a TOC giving one chunk digest a larger size gets EIO, never another file's bytes", async () => {
  await freshStore();
  const x = text("x".repeat(100));
  const y = new Uint8Array(4096).fill(0x79);
  const base = await esgz({ "x.txt": x, "y.bin": y });
  // y claims x's chunk digest (and file digest) with its own size of 4096.
  const lying = withToc(base.blob, (entries) => {
    const ex = entries.find((e) => e.name === "x.txt")!;
    const ey = entries.find((e) => e.name === "y.bin")!;
    ey.chunkDigest = ex.chunkDigest;
    ey.digest = ex.digest;
  });
  const img = await pushImage(reg, "dup/app", "v1", {
    layers: [{ data: lying.blob, annotations: { [TOC_DIGEST_ANNOTATION]: lying.tocDigest } }],
    config: { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [base.facts.diffId] } },
  });
  const other = await pushEsgz("other/app", "v1", { "secret.txt": text("another image's secret ".repeat(200)) });
  const dir = layerPath(img.ref, img.layers[0].digest, "diff");
  assert.equal(await readFile(join(dir, "x.txt")), Buffer.from(x));
  assert.match(await readFile(layerPath(other.ref, other.layers[0].digest, "diff", "secret.txt"), "utf8"), /secret/);
  await rejects(() => readFile(join(dir, "y.bin")), /EIO/);
  const fh = await open(join(dir, "y.bin"));
  try {
    await rejects(() => fh.read(Buffer.alloc(4096), 0, 4096, 0), /EIO/);
  } finally {
    await fh.close();
  }
  assert.equal(await readFile(join(dir, "x.txt")), Buffer.from(x), "the honest file of the layer still reads");
});

test("blob: no byte is served before the whole blob hashed to the layer digest", async () => {
  const s = await freshStore();
  const img = await pushEsgz("flip/app", "v1", { "etc/config": text("config\n"), "data.bin": new Uint8Array(randomBytes(3 << 20)) });
  const digest = img.layers[0].digest;
  // One byte of the first gzip member's header changed on the registry's disk: MTIME, which gzip
  // ignores — every chunk still verifies, only the blob's digest is wrong.
  const file = join(reg.dataDir, "docker/registry/v2/blobs/sha256", digest.slice(7, 9), digest.slice(7), "data");
  const fh = await open(file, "r+");
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, 4);
    b[0] ^= 0x01;
    await fh.write(b, 0, 1, 4);
  } finally {
    await fh.close();
  }
  assert.is(await readFile(layerPath(img.ref, digest, "diff", "etc/config"), "utf8"), "config\n");
  const blob = await open(layerPath(img.ref, digest, "blob"));
  try {
    await rejects(() => blob.read(Buffer.alloc(4096), 0, 4096, 0), /EIO/);
  } finally {
    await blob.close();
  }
  await rejects(() => run("sha256sum", [layerPath(img.ref, digest, "blob")]), /Input\/output error/);
  assert.match(await s.logsWith(/layer blob digest mismatch/), /layer blob digest mismatch/);
});

test("a moved tag: a layer in use stays bound to the manifest it was found in, across a restart; new lookups follow the tag", async () => {
  const root = join(work, "root-moving");
  await store?.stop().catch(() => {});
  store = await startStore({ mountpoint: mnt, root, configToml: "resolve_result_entry_ttl_sec = 1\n", env: { ESGZ_IDLE_DROP_MS: "300" } });
  const a = await pushEsgz("moving/app", "latest", { "etc/config": text("A\n") });
  const la = a.layers[0].digest;
  assert.is(await readFile(layerPath(a.ref, la, "diff", "etc/config"), "utf8"), "A\n");
  await rejects(() => open(layerPath(a.ref, la, "use"), "w"), /ENOENT/); // the engine's reference
  const infoA = await readFile(layerPath(a.ref, la, "info"), "utf8");
  const b = await pushEsgz("moving/app", "latest", { "etc/config": text("B\n") });
  const lb = b.layers[0].digest;
  await wait(1500); // past the reference's TTL
  assert.is(await readFile(layerPath(a.ref, lb, "diff", "etc/config"), "utf8"), "B\n", "a new lookup resolves the tag anew");
  assert.is(await readFile(layerPath(a.ref, la, "diff", "etc/config"), "utf8"), "A\n", "the layer in use is still served");
  assert.is(await readFile(layerPath(a.ref, la, "info"), "utf8"), infoA);
  await wait(200); // the bindings file is written shortly after a change
  const saved = JSON.parse(await readFile(join(root, "bindings.json"), "utf8"));
  assert.ok(saved.bindings.some((x: { ref: string; digest: string; image: string; refs: number }) =>
    x.ref === a.ref && x.digest === la && x.image.endsWith(`@${a.manifestDigest}`) && x.refs === 1), JSON.stringify(saved));
  // A restart keeps the binding and the reference.
  await store.kill();
  await cleanupMount(mnt).catch(() => {});
  store = await startStore({ mountpoint: mnt, root, configToml: "resolve_result_entry_ttl_sec = 1\n", env: { ESGZ_IDLE_DROP_MS: "300" } });
  assert.is(await readFile(layerPath(a.ref, la, "diff", "etc/config"), "utf8"), "A\n");
  assert.is(await readFile(layerPath(a.ref, la, "info"), "utf8"), infoA);
  // Released (the engine removed the image) and dropped: the tag no longer lists it, nothing is served.
  await rejects(() => run("rmdir", [layerPath(a.ref, la)]), /No such file/);
  assert.match(await store.logsWith(/idle layer dropped/), /idle layer dropped/);
  await wait(1200);
  await rejects(() => stat(layerPath(a.ref, la, "diff")), /ENOENT/);
  assert.ok(existsSync(join(root, "bindings.json")));
});

test.run();
