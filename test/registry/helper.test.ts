// The test registry harness itself: a real docker-registry that stores what is pushed, serves
// ranges, logs every request with its byte count, and is gone (process and files) after stop().
import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { pushImage, sha256Digest, startRegistry, type TestRegistry } from "../helpers/registry.js";

let reg: TestRegistry;

test.before(async () => {
  reg = await startRegistry();
});
test.after(async () => {
  await reg?.stop();
});

test("pushImage stores layers and manifest; access log counts the bytes of ranged GETs", async () => {
  const layer = randomBytes(300_000);
  const img = await pushImage(reg, "helper/img", "v1", { layers: [{ data: layer, annotations: { a: "b" } }] });
  assert.is(img.layers[0].digest, sha256Digest(layer));
  assert.is(img.ref, `${reg.host}/helper/img:v1`);

  const m = await fetch(`${reg.url}/v2/helper/img/manifests/v1`, { headers: { accept: img.manifest.mediaType } });
  const mBytes = new Uint8Array(await m.arrayBuffer());
  assert.is(sha256Digest(mBytes), img.manifestDigest);
  assert.is(m.headers.get("docker-content-digest"), img.manifestDigest);

  const r = await fetch(`${reg.url}/v2/helper/img/blobs/${img.layers[0].digest}`, { headers: { range: "bytes=1000-1999" } });
  assert.is(r.status, 206);
  const part = new Uint8Array(await r.arrayBuffer());
  assert.equal(Buffer.from(part), layer.subarray(1000, 2000));

  const log = await reg.accessLog();
  const blobGets = log.filter((e) => e.method === "GET" && e.path === `/v2/helper/img/blobs/${img.layers[0].digest}`);
  assert.equal(blobGets.map((e) => [e.status, e.bytes]), [[206, 1000]]);
  assert.ok(log.some((e) => e.method === "PUT" && e.path.includes("/blobs/uploads/") && e.status === 201));
  assert.ok(!log.some((e) => e.path.includes("_esgz_log_sync")));
});

test("htpasswd registry refuses anonymous and accepts the user", async () => {
  const auth = { user: "alice", password: "s3cret" };
  const r2 = await startRegistry({ htpasswd: auth });
  try {
    const anon = await fetch(`${r2.url}/v2/`);
    await anon.arrayBuffer();
    assert.is(anon.status, 401);
    assert.match(anon.headers.get("www-authenticate") ?? "", /^Basic realm=/);
    const img = await pushImage(r2, "p/q", "t", { layers: [{ data: randomBytes(1000) }], auth });
    const ok = await fetch(`${r2.url}/v2/p/q/manifests/${img.manifestDigest}`, {
      headers: { authorization: "Basic " + Buffer.from("alice:s3cret").toString("base64"), accept: img.manifest.mediaType },
    });
    assert.is(sha256Digest(new Uint8Array(await ok.arrayBuffer())), img.manifestDigest);
  } finally {
    const { pid, dataDir } = r2;
    await r2.stop();
    assert.not.ok(existsSync(dataDir));
    assert.throws(() => process.kill(pid, 0));
  }
});

test.run();
