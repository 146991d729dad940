// Reading from a real docker-registry, anonymously: references to manifests (OCI, Docker schema 2,
// indexes with platform choice), configs and layers checked by digest, byte ranges (single, several
// in one multipart request), whole-blob streaming, and corruption on the registry's disk caught.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes, createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pushImage, pushIndex, startRegistry, sha256Digest, type PushedImage, type TestRegistry } from "../helpers/registry.js";
import { RegistryClient, RegistryError, MediaType } from "../../src/registry/index.js";
import type { Source } from "../../src/estargz/source.js";

let reg: TestRegistry;
let client: RegistryClient;
let img: PushedImage;
let dockerImg: PushedImage;
const big = randomBytes(3 * 1024 * 1024 + 17);
const small = randomBytes(100_000);

const blobFile = (r: TestRegistry, digest: string) => join(r.dataDir, "docker/registry/v2/blobs/sha256", digest.slice(7, 9), digest.slice(7), "data");
const hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function rejects(p: Promise<unknown>, code: string, re: RegExp): Promise<RegistryError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, RegistryError, String(err));
    assert.is((err as RegistryError).code, code, (err as Error).message);
    assert.match((err as Error).message, re);
    return err as RegistryError;
  }
  throw new assert.Assertion({ message: `expected a ${code} error`, generated: false, operator: "rejects", expects: code, actual: "resolved" });
}

test.before(async () => {
  reg = await startRegistry();
  client = new RegistryClient({ platform: "linux/amd64" });
  img = await pushImage(reg, "read/oci", "v1", {
    layers: [
      { data: big, annotations: { "containerd.io/snapshot/stargz/toc.digest": "sha256:" + "1".repeat(64), "io.containers.estargz.uncompressed-size": "123" } },
      { data: small },
    ],
  });
  dockerImg = await pushImage(reg, "read/docker", "v1", { layers: [{ data: small }], docker: true });
});
test.after(async () => {
  await client?.close();
  await reg?.stop();
});

test("resolveImage by tag and by digest: manifest, config and layer descriptors verified", async () => {
  const r = await client.resolveImage(`${reg.host}/read/oci:v1`);
  assert.is(r.manifestDigest, img.manifestDigest);
  assert.is(r.mediaType, MediaType.ociManifest);
  assert.is(r.configDigest, img.configDigest);
  assert.is(sha256Digest(r.configBytes), img.configDigest);
  assert.is(sha256Digest(r.manifestBytes), img.manifestDigest);
  assert.equal(r.layers, img.layers);
  assert.is(r.layers[0].annotations?.["containerd.io/snapshot/stargz/toc.digest"], "sha256:" + "1".repeat(64));
  assert.equal((r.config as { rootfs: unknown }).rootfs, JSON.parse(new TextDecoder().decode(img.configBytes)).rootfs);
  assert.is(r.indexDigest, undefined);

  const byDigest = await client.resolveImage(`${reg.host}/read/oci@${img.manifestDigest}`);
  assert.is(byDigest.manifestDigest, img.manifestDigest);
  assert.equal(byDigest.layers, img.layers);

  const d = await client.resolveImage(`${reg.host}/read/docker:v1`);
  assert.is(d.mediaType, MediaType.dockerManifest);
  assert.is(d.manifestDigest, dockerImg.manifestDigest);
  assert.is(d.layers[0].mediaType, MediaType.dockerLayerGzip);
});

test("indexes and manifest lists: the wanted platform is chosen, its digest reported", async () => {
  const amd = await pushImage(reg, "read/multi", "amd64", { layers: [{ data: randomBytes(1000) }] });
  const arm = await pushImage(reg, "read/multi", "arm64", { layers: [{ data: randomBytes(1000) }], config: { architecture: "arm64", os: "linux", rootfs: { type: "layers", diff_ids: [] } } });
  const desc = (p: PushedImage, architecture: string, variant?: string) => ({
    mediaType: p.manifest.mediaType, digest: p.manifestDigest, size: p.manifestBytes.length, platform: { os: "linux", architecture, ...(variant ? { variant } : {}) },
  });
  const idx = await pushIndex(reg, "read/multi", "v1", [desc(arm, "arm64", "v8"), desc(amd, "amd64")]);
  const r = await client.resolveImage(`${reg.host}/read/multi:v1`);
  assert.is(r.indexDigest, idx.digest);
  assert.is(r.manifestDigest, amd.manifestDigest);
  assert.equal(r.layers, amd.layers);
  const r2 = await client.resolveImage(`${reg.host}/read/multi:v1`, { platform: "linux/arm64" });
  assert.is(r2.manifestDigest, arm.manifestDigest);
  assert.is((r2.config as { architecture: string }).architecture, "arm64");

  const list = await pushIndex(reg, "read/multi", "list", [desc(amd, "amd64")], { docker: true });
  const r3 = await client.resolveImage(`${reg.host}/read/multi:list`);
  assert.is(r3.indexDigest, list.digest);
  assert.is(r3.manifestDigest, amd.manifestDigest);

  await rejects(client.resolveImage(`${reg.host}/read/multi:v1`, { platform: "linux/s390x" }), "platform",
    new RegExp(`registry ${reg.host}, repository read/multi, index ${idx.digest}: no manifest for platform linux/s390x`));
});

test("byte ranges: single, several in one multipart request, at the end, empty; bounds checked", async () => {
  const digest = img.layers[0].digest;
  const ref = `${reg.host}/read/oci:v1`;
  const size = big.length;
  const before = (await reg.accessLog()).length;
  const [one] = await client.readBlob(ref, digest, [{ offset: 12345, length: 70000 }], { size });
  assert.is(hex(one), hex(big.subarray(12345, 12345 + 70000)));

  const ranges = [{ offset: 5, length: 10 }, { offset: 2_000_000, length: 50_000 }, { offset: 1_000_000, length: 1 }, { offset: size - 100, length: 100 }, { offset: 40, length: 0 }];
  const into = new Uint8Array(50_000);
  const out = await client.readBlob(ref, digest, ranges.map((r) => (r.length === 50_000 ? { ...r, into } : r)), { size });
  ranges.forEach((r, i) => assert.is(hex(out[i]), hex(big.subarray(r.offset, r.offset + r.length)), `range ${i}`));
  assert.ok(out[1] === into, "the caller's buffer is filled in place");

  const log = (await reg.accessLog()).slice(before).filter((e) => e.path === `/v2/read/oci/blobs/${digest}`);
  assert.equal(log.map((e) => [e.method, e.status]), [["GET", 206], ["GET", 206]], "one request per readBlob call");
  assert.ok(log[1].bytes < 52_000, `multipart answer carried only the ranges (${log[1].bytes} bytes)`);

  await rejects(client.readBlob(ref, digest, [{ offset: size - 10, length: 11 }], { size }), "range", new RegExp(`blob ${digest}: range 0 \\(11 bytes at ${size - 10}\\) is outside the blob \\(size ${size}\\)`));
  await rejects(client.readBlob(ref, digest, [{ offset: size, length: 5 }]), "range", /HTTP 416/);
});

test("many concurrent reads over a few pooled connections each get their own bytes", async () => {
  const pooled = new RegistryClient({ connections: 3 });
  try {
    const reader = await pooled.openBlob(`${reg.host}/read/oci:v1`, img.layers[0].digest, big.length);
    const wants = Array.from({ length: 60 }, (_, i) => ({ offset: (i * 52_361) % (big.length - 70_000), length: 1 + ((i * 7919) % 70_000) }));
    const got = await Promise.all(wants.map((w, i) => (i % 3 === 0 ? reader.readRanges([w, { offset: w.offset + w.length + 10, length: 5 }]).then((r) => r[0]) : reader.read(w.offset, w.length))));
    wants.forEach((w, i) => assert.is(hex(got[i]), hex(big.subarray(w.offset, w.offset + w.length)), `read ${i}`));
  } finally {
    await pooled.close();
  }
});

test("BlobReader: size by HEAD, random reads, streaming with the digest checked", async () => {
  const reader = await client.openBlob(`${reg.host}/read/oci:v1`, img.layers[0].digest);
  const source: Source = reader; // plugs into the eStargz reader unchanged
  assert.is(source.size, big.length);
  assert.is(await client.blobSize(`${reg.host}/read/oci:v1`, img.layers[0].digest), big.length);
  assert.is(hex(await reader.read(big.length - 4096, 4096)), hex(big.subarray(big.length - 4096)));
  const into = new Uint8Array(1000);
  await reader.readInto(777, into);
  assert.is(hex(into), hex(big.subarray(777, 1777)));
  const h = createHash("sha256");
  let n = 0;
  for await (const piece of reader.stream({ windowBytes: 1 << 20 })) { h.update(piece); n += piece.length; }
  assert.is(n, big.length);
  assert.is("sha256:" + h.digest("hex"), img.layers[0].digest);
  assert.match(reader.name, new RegExp(`blob ${img.layers[0].digest} of ${reg.host}/read/oci`));
});

test("corruption on the registry's disk: configs, manifests by digest and streamed layers are refused", async () => {
  const cimg = await pushImage(reg, "read/corrupt", "v1", { layers: [{ data: randomBytes(200_000) }] });
  // Same length, different bytes: only the digest can tell.
  const cfgPath = blobFile(reg, cimg.configDigest);
  const cfg = await readFile(cfgPath);
  await writeFile(cfgPath, Buffer.from(cfg.toString("latin1").replace('"amd64"', '"AMD64"'), "latin1"));
  await rejects(client.resolveImage(`${reg.host}/read/corrupt:v1`), "digest",
    new RegExp(`registry ${reg.host}, repository read/corrupt, blob ${cimg.configDigest}: content digest mismatch: expected ${cimg.configDigest}, got sha256:`));

  const layerPath = blobFile(reg, cimg.layers[0].digest);
  const layer = await readFile(layerPath);
  layer[100_000] ^= 0xff;
  await writeFile(layerPath, layer);
  const reader = await client.openBlob(`${reg.host}/read/corrupt:v1`, cimg.layers[0].digest, cimg.layers[0].size);
  const stream = async () => { for await (const _ of reader.stream({ windowBytes: 64 << 10 })) void _; };
  await rejects(stream(), "digest", new RegExp(`blob ${cimg.layers[0].digest}: content digest mismatch`));

  const mPath = blobFile(reg, cimg.manifestDigest);
  const m = await readFile(mPath);
  await writeFile(mPath, Buffer.from(m.toString("latin1").replace("schemaVersion\":2", "schemaVersion\":2 "), "latin1"));
  await rejects(client.fetchManifest(`${reg.host}/read/corrupt@${cimg.manifestDigest}`), "digest", new RegExp(`manifest ${cimg.manifestDigest}: content digest mismatch`));
});

test("absent things and size limits are named in the error", async () => {
  await rejects(client.resolveImage(`${reg.host}/read/oci:nope`), "not-found", new RegExp(`registry ${reg.host}, repository read/oci, manifest nope: HTTP 404 .*MANIFEST_UNKNOWN`));
  const missing = "sha256:" + "0".repeat(64);
  await rejects(client.readBlob(`${reg.host}/read/oci:v1`, missing, [{ offset: 0, length: 10 }]), "not-found", new RegExp(`blob ${missing}: HTTP 404 .*BLOB_UNKNOWN`));
  const tiny = new RegistryClient({ maxManifestBytes: 100 });
  try {
    await rejects(tiny.resolveImage(`${reg.host}/read/oci:v1`), "too-large", /manifest of \d+ bytes is over the limit of 100/);
  } finally {
    await tiny.close();
  }
});

test("push: monolithic, chunked, streamed, existing skipped, cross-repository mount, manifest and index PUT", async () => {
  const ref = `${reg.host}/push/app:v1`;
  const before = (await reg.accessLog()).length;
  const a = randomBytes(300_000);
  const up = await client.uploadBlob(ref, a);
  assert.equal(up, { digest: sha256Digest(a), size: a.length, how: "uploaded" });
  assert.equal(await client.uploadBlob(ref, a), { digest: sha256Digest(a), size: a.length, how: "existed" });
  assert.ok(await client.blobExists(ref, up.digest));
  assert.not.ok(await client.blobExists(ref, "sha256:" + "2".repeat(64)));

  const b = randomBytes(300_000);
  const chunked = await client.uploadBlob(ref, b, { chunkSize: 64 * 1024 });
  assert.is(chunked.digest, sha256Digest(b));
  const c = randomBytes(150_000);
  async function* gen() { for (let i = 0; i < c.length; i += 7000) yield c.subarray(i, i + 7000); }
  const streamed = await client.uploadBlob(ref, gen(), { chunkSize: 50_000 });
  assert.equal(streamed, { digest: sha256Digest(c), size: c.length, how: "uploaded" });

  // A stream that turns out not to be needed is ended, not left holding its resources.
  let ended = false;
  async function* never() { try { yield c; } finally { ended = true; } }
  const it = never();
  await it.next(); // started, so that return() runs its finally
  assert.equal(await client.uploadBlob(ref, it, { digest: streamed.digest }), { digest: streamed.digest, size: -1, how: "existed" });
  assert.ok(ended, "the unread stream was ended");

  const mounted = await client.uploadBlob(`${reg.host}/push/other:v1`, big, { mountFrom: ["read/oci"] });
  assert.is(mounted.how, "mounted");

  const log = (await reg.accessLog()).slice(before);
  const puts = log.filter((e) => e.method === "PUT" && e.path.includes("/push/app/blobs/uploads/"));
  assert.is(puts.length, 3, "one final PUT per uploaded blob, none for the existing one");
  assert.is(log.filter((e) => e.method === "PATCH").length, 5 + 3, "300000/64KiB = 5 chunks, 150000/50000 = 3");
  assert.ok(!log.some((e) => e.path.startsWith("/v2/push/other/blobs/uploads/") && e.method !== "POST"), "mount moved no bytes");

  for (const [blob, digest] of [[a, up.digest], [b, chunked.digest], [c, streamed.digest]] as const) {
    assert.is(hex(await client.fetchBlob(ref, digest, { maxBytes: 1 << 20 })), hex(blob));
  }
  const [m] = await client.readBlob(`${reg.host}/push/other:v1`, mounted.digest, [{ offset: 1000, length: 1000 }]);
  assert.is(hex(m), hex(big.subarray(1000, 2000)));

  const config = new TextEncoder().encode(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [up.digest] } }));
  const cfg = await client.uploadBlob(ref, config);
  const manifest = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2, mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: cfg.digest, size: config.length },
    layers: [{ mediaType: MediaType.ociLayerGzip, digest: up.digest, size: a.length, annotations: { k: "v" } }],
  }));
  const mDigest = await client.putManifest(ref, manifest, MediaType.ociManifest);
  assert.is(mDigest, sha256Digest(manifest));
  const index = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [{ mediaType: MediaType.ociManifest, digest: mDigest, size: manifest.length, platform: { os: "linux", architecture: "amd64" } }] }));
  const iDigest = await client.putManifest(`${reg.host}/push/app:multi`, index, MediaType.ociIndex);
  const r = await client.resolveImage(`${reg.host}/push/app:multi`);
  assert.is(r.indexDigest, iDigest);
  assert.is(r.manifestDigest, mDigest);
  assert.equal(r.layers[0].annotations, { k: "v" });
});

test.run();
