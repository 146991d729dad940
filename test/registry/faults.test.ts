// Faults between the client and a real (htpasswd) registry, injected by a proxy: 5xx and 429 then
// success, connections dropped mid-body, slow answers hitting the timeout, truncated bodies, wrong
// Content-Range, a registry without multi-range support, and redirects to another origin (blob
// storage) that must not receive the registry's credentials or headers.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes, createHash } from "node:crypto";
import { pushImage, startRegistry, type PushedImage, type TestRegistry } from "../helpers/registry.js";
import { startFaultProxy, type FaultProxy } from "../helpers/fault-proxy.js";
import { RegistryClient, RegistryError } from "../../src/registry/index.js";

const hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const alice = { user: "alice", password: "pw" };
const basic = "Basic " + Buffer.from("alice:pw").toString("base64");
let reg: TestRegistry;
let proxy: FaultProxy;
let storage: FaultProxy;
let client: RegistryClient;
let img: PushedImage;
let ref: string;
let digest: string;
const layer = randomBytes(2 * 1024 * 1024);

const isBlobGet = (r: { method: string; path: string }) => r.method === "GET" && r.path.includes("/blobs/sha256:");
const blobGets = (p: FaultProxy) => p.seen.filter(isBlobGet).length;
/** The main client's fast-path counters when the test began: its blob GETs must all go there. */
let fastAtStart = { requests: 0, fallbacks: 0 };
function allOnFastPath(c: RegistryClient, since: { requests: number; fallbacks: number }, gets: number): void {
  const now = c.rangeSocketStats!;
  assert.is(now.requests - since.requests, gets, "every blob GET went on the own-socket path");
  assert.is(now.fallbacks - since.fallbacks, 0, "none handed to undici");
}

async function rejects(p: Promise<unknown>, code: string, re: RegExp): Promise<RegistryError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, RegistryError, String(err));
    assert.is((err as RegistryError).code, code, (err as Error).message);
    assert.match((err as Error).message, re);
    return err as RegistryError;
  }
  throw new Error(`expected a ${code} error`);
}

async function readAndCheck(offset: number, length: number): Promise<void> {
  const [got] = await client.readBlob(ref, digest, [{ offset, length }], { size: layer.length });
  assert.is(hex(got), hex(layer.subarray(offset, offset + length)), `bytes ${offset}+${length}`);
}

test.before(async () => {
  reg = await startRegistry({ htpasswd: alice });
  img = await pushImage(reg, "faults/app", "v1", { layers: [{ data: layer }], auth: alice });
  proxy = await startFaultProxy(reg.url);
  storage = await startFaultProxy(reg.url, { addHeaders: { authorization: basic } });
  ref = `${proxy.host}/faults/app:v1`;
  digest = img.layers[0].digest;
  client = new RegistryClient({
    credentials: async (host) => (host === proxy.host ? { username: alice.user, password: alice.password } : undefined),
    // A generous timeout: on a loaded machine a short one would add retries the counts below do not expect.
    resolver: { host: { [proxy.host]: { header: { "X-Registry-Secret": "only-for-the-registry" }, request_timeout_sec: 20 } } },
    blob: { max_retries: 3, min_wait_msec: 10, max_wait_msec: 100 },
  });
  const r = await client.resolveImage(ref);
  assert.is(r.manifestDigest, img.manifestDigest);
});
test.after(async () => {
  await client?.close();
  await proxy?.stop();
  await storage?.stop();
  await reg?.stop();
});
test.before.each(() => {
  fastAtStart = { ...client.rangeSocketStats! };
  proxy.rules = [];
  storage.rules = [];
  proxy.seen = [];
  storage.seen = [];
});

test("500 then 429 with Retry-After, then success; a persistent 503 ends in an error naming registry and blob", async () => {
  proxy.rules.push({ match: isBlobGet, fault: { kind: "status", status: 500 } });
  proxy.rules.push({ match: isBlobGet, fault: { kind: "status", status: 429, headers: { "retry-after": "1" } } });
  await readAndCheck(1000, 5000);
  assert.is(blobGets(proxy), 3);

  proxy.rules.push({ match: isBlobGet, fault: { kind: "status", status: 503 }, times: 4 });
  const err = await rejects(client.readBlob(ref, digest, [{ offset: 0, length: 10 }]), "http",
    new RegExp(`^registry ${proxy.host}, repository faults/app, blob ${digest}: HTTP 503 .*INJECTED.*gave up after 4 attempts`));
  assert.is(err.status, 503);
  allOnFastPath(client, fastAtStart, 3 + 4);
});

test("connection dropped mid-body, truncated body: retried, right bytes", async () => {
  proxy.rules.push({ match: isBlobGet, fault: { kind: "drop-mid-body" } });
  await readAndCheck(100_000, 300_000);
  assert.is(blobGets(proxy), 2);
  proxy.seen = [];
  proxy.rules.push({ match: isBlobGet, fault: { kind: "truncate" } });
  await readAndCheck(5, 200_000);
  assert.is(blobGets(proxy), 2);

  proxy.rules.push({ match: isBlobGet, fault: { kind: "truncate" }, times: 4 });
  await rejects(client.readBlob(ref, digest, [{ offset: 0, length: 1000 }]), "protocol", new RegExp(`blob ${digest}: Content-Length 500 disagrees with Content-Range bytes 0-999/${layer.length}`));
  allOnFastPath(client, fastAtStart, 2 + 2 + 4);
});

test("a slow answer hits the timeout and is retried; always slow ends in a timeout error", async () => {
  const impatient = new RegistryClient({
    credentials: async () => ({ username: alice.user, password: alice.password }),
    resolver: { host: { [proxy.host]: { request_timeout_sec: 2 } } },
    blob: { max_retries: 1, min_wait_msec: 10, max_wait_msec: 50 },
  });
  try {
    await impatient.readBlob(ref, digest, [{ offset: 0, length: 1 }]); // auth settled before timing matters
    proxy.seen = [];
    const fast0 = { ...impatient.rangeSocketStats! };
    proxy.rules.push({ match: isBlobGet, fault: { kind: "delay", ms: 5000 } });
    const [got] = await impatient.readBlob(ref, digest, [{ offset: 42, length: 4242 }]);
    assert.is(hex(got), hex(layer.subarray(42, 42 + 4242)));
    assert.is(blobGets(proxy), 2);
    proxy.rules.push({ match: isBlobGet, fault: { kind: "delay", ms: 5000 }, times: 2 });
    await rejects(impatient.readBlob(ref, digest, [{ offset: 0, length: 10 }]), "timeout", new RegExp(`blob ${digest}: request timeout \\(2 s\\) passed before the response headers.*gave up after 2 attempts`));
    allOnFastPath(impatient, fast0, 2 + 2);
  } finally {
    await impatient.close();
  }
});

test("a wrong Content-Range is never trusted", async () => {
  const shift = (v: string | undefined) => v!.replace(/bytes (\d+)-(\d+)/, (_, a, b) => `bytes ${Number(a) + 1}-${Number(b) + 1}`);
  proxy.rules.push({ match: isBlobGet, fault: { kind: "header", name: "content-range", rewrite: shift } });
  await readAndCheck(777, 10_000);
  assert.is(blobGets(proxy), 2);
  proxy.rules.push({ match: isBlobGet, fault: { kind: "header", name: "content-range", rewrite: shift }, times: 4 });
  await rejects(client.readBlob(ref, digest, [{ offset: 777, length: 10_000 }]), "protocol", /Content-Range bytes 778-10777\/\d+ does not cover the requested bytes 777-10776/);
  allOnFastPath(client, fastAtStart, 2 + 4);
});

test("a registry without multi-range support: whole body cut short once, then one covering range", async () => {
  const c2 = new RegistryClient({ credentials: async () => ({ username: alice.user, password: alice.password }), blob: { max_retries: 2, min_wait_msec: 10, max_wait_msec: 50 } });
  try {
    proxy.rules.push({ match: (r) => isBlobGet(r) && String(r.headers.range).includes(","), fault: { kind: "strip-range" }, times: 100 });
    const ranges = [{ offset: 10, length: 100 }, { offset: 50_000, length: 1000 }];
    const got = await c2.readBlob(ref, digest, ranges);
    ranges.forEach((r, i) => assert.is(hex(got[i]), hex(layer.subarray(r.offset, r.offset + r.length))));
    const again = await c2.readBlob(ref, digest, [{ offset: 20, length: 10 }, { offset: 60_000, length: 10 }]);
    assert.is(hex(again[1]), hex(layer.subarray(60_000, 60_010)));
    const ranged = proxy.seen.filter(isBlobGet).map((r) => r.headers.range);
    assert.equal(ranged.filter((r) => r !== undefined && r !== "" ).slice(-1), ["bytes=20-60009"], "one covering range once multi-range failed");
    allOnFastPath(c2, { requests: 0, fallbacks: 0 }, blobGets(proxy));
    proxy.seen = [];
    const far = await c2.readBlob(ref, digest, [{ offset: 0, length: 100 }, { offset: 1_900_000, length: 100 }, { offset: 100_000, length: 10 }]);
    assert.is(hex(far[1]), hex(layer.subarray(1_900_000, 1_900_100)));
    assert.is(hex(far[2]), hex(layer.subarray(100_000, 100_010)));
    assert.equal(proxy.seen.filter(isBlobGet).map((r) => r.headers.range).sort(), ["bytes=0-100009", "bytes=1900000-1900099"], "far-apart groups are separate covering ranges");
    const log = await reg.accessLog();
    const whole = log.filter((e) => e.path === `/v2/faults/app/blobs/${digest}` && e.status === 200);
    assert.ok(whole.length >= 1 && whole.every((e) => e.bytes <= layer.length));
  } finally {
    await c2.close();
  }
});

test("blob size: HEAD refused, then a one-byte ranged GET tells the size", async () => {
  proxy.rules.push({ match: (r) => r.method === "HEAD" && r.path.includes("/blobs/"), fault: { kind: "status", status: 405 } });
  assert.is(await client.blobSize(ref, digest), layer.length);
  const gets = proxy.seen.filter(isBlobGet);
  assert.is(gets.length, 1);
  assert.is(gets[0].headers.range, "bytes=0-0");
  const reader = await client.openBlob(ref, digest);
  assert.is(reader.size, layer.length);
  assert.is(hex(await reader.read(layer.length - 10, 10)), hex(layer.subarray(layer.length - 10)));
  allOnFastPath(client, fastAtStart, 2);
});

test("uploads survive a 500 on a PATCH and a lost answer to the final PUT", async () => {
  const data = randomBytes(200_000);
  const pushRef = `${proxy.host}/faults/up:v1`;
  proxy.rules.push({ match: (r) => r.method === "PATCH", fault: { kind: "status", status: 500 } });
  proxy.rules.push({ match: (r) => r.method === "PUT" && r.path.includes("/blobs/uploads/"), fault: { kind: "lose-answer" } });
  const up = await client.uploadBlob(pushRef, data, { chunkSize: 64 * 1024 });
  assert.is(up.how, "uploaded");
  assert.is(hex(await client.fetchBlob(pushRef, up.digest, { size: data.length })), hex(data));
  assert.ok(proxy.seen.filter((r) => r.method === "PATCH").length >= 5, "the refused chunk was sent again");
  assert.is(proxy.seen.filter((r) => r.method === "POST").length, 2, "a fresh upload session after the lost PUT answer");
});

test("redirect to blob storage: no credentials or registry headers there; the URL is reused until it fails", async () => {
  proxy.rules.push({ match: isBlobGet, fault: { kind: "redirect", location: (p) => `${storage.url}${p}` }, times: 100 });
  await readAndCheck(300, 3000);
  assert.is(blobGets(proxy), 1);
  assert.is(blobGets(storage), 1);
  const toRegistry = proxy.seen.filter(isBlobGet)[0];
  assert.is(toRegistry.headers.authorization, basic, "the registry got the credentials");
  assert.is(toRegistry.headers["x-registry-secret"], "only-for-the-registry");
  const toStorage = storage.seen.filter(isBlobGet)[0];
  assert.is(toStorage.headers.authorization, undefined, "no credentials to another origin");
  assert.is(toStorage.headers["x-registry-secret"], undefined, "no registry headers to another origin");
  assert.is(toStorage.headers.range, "bytes=300-3299");

  await readAndCheck(1_000_000, 50_000);
  assert.is(blobGets(proxy), 1, "the storage URL was reused");
  assert.is(blobGets(storage), 2);

  storage.rules.push({ match: isBlobGet, fault: { kind: "status", status: 403, body: "<Error>Request has expired</Error>" } });
  await readAndCheck(2_000_000, 97_152);
  assert.is(blobGets(proxy), 2, "resolved again through the registry after the storage URL expired");
  assert.is(blobGets(storage), 4);
  assert.ok(storage.seen.every((r) => r.headers.authorization === undefined));
  allOnFastPath(client, fastAtStart, blobGets(proxy) + blobGets(storage));
});

test("blob size through a redirect to storage that refuses HEAD", async () => {
  proxy.rules.push({ match: (r) => r.path.includes("/blobs/sha256:"), fault: { kind: "redirect", location: (p) => `${storage.url}${p}` }, times: 100 });
  storage.rules.push({ match: (r) => r.method === "HEAD", fault: { kind: "status", status: 403 }, times: 100 });
  assert.is(await client.blobSize(ref, digest), layer.length);
  assert.equal(storage.seen.map((r) => [r.method, r.headers.range ?? null, r.headers.authorization ?? null]), [["HEAD", null, null], ["GET", "bytes=0-0", null]]);
  allOnFastPath(client, fastAtStart, 2);
});

test.run();
