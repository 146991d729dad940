// A caching tier in front of the origin: a second docker-registry configured as a pull-through cache
// of the first, listed as the mirror. Reads go through it; when it is stopped, they fall back to the
// origin. The pull-through cache ignores Range on blobs it has not cached yet (200 + the whole blob),
// which the client must take without reading the whole body. And the other intermediary fleets
// have: a forward proxy (HTTP_PROXY), which must carry requests to non-loopback hosts only.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes, createHash } from "node:crypto";
import { pushImage, startRegistry, type PushedImage, type TestRegistry } from "../helpers/registry.js";
import { RegistryClient, RegistryError } from "../../src/registry/index.js";
import { startForwardProxy } from "../helpers/forward-proxy.js";

const hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
let origin: TestRegistry;
let mirror: TestRegistry | undefined;
let img: PushedImage;
const layer = randomBytes(8 * 1024 * 1024);

test.before(async () => {
  origin = await startRegistry();
  img = await pushImage(origin, "cache/app", "v1", { layers: [{ data: layer }] });
  mirror = await startRegistry({ proxyRemoteUrl: origin.url });
});
test.after(async () => {
  await mirror?.stop();
  await origin?.stop();
});

test("reads go through the mirror; the origin only sees the mirror; fall back to the origin when the mirror is down", async () => {
  const client = new RegistryClient({
    userAgent: "esgz-fast-test",
    resolver: { host: { [origin.host]: { mirrors: [{ host: mirror!.host, insecure: true }] } } },
    blob: { max_retries: 1, min_wait_msec: 10, max_wait_msec: 50 },
  });
  try {
    const ref = `${origin.host}/cache/app:v1`;
    const r = await client.resolveImage(ref);
    assert.is(r.manifestDigest, img.manifestDigest);
    assert.equal(r.layers, img.layers);
    const d = r.layers[0].digest;
    const [a] = await client.readBlob(ref, d, [{ offset: 1000, length: 4096 }], { size: layer.length });
    assert.is(hex(a), hex(layer.subarray(1000, 5096)));

    const mlog = await mirror!.accessLog();
    const ours = mlog.filter((e) => e.userAgent === "esgz-fast-test");
    assert.ok(ours.some((e) => e.method === "GET" && e.path === "/v2/cache/app/manifests/v1" && e.status === 200), "manifest via the mirror");
    const blobGets = ours.filter((e) => e.method === "GET" && e.path === `/v2/cache/app/blobs/${d}`);
    assert.is(blobGets.length, 1);
    assert.ok(blobGets[0].bytes < layer.length, `the client hung up once it had its range (${blobGets[0].bytes} of ${layer.length} bytes sent)`);
    const olog = await origin.accessLog();
    assert.not.ok(olog.some((e) => e.userAgent === "esgz-fast-test" && e.method !== "PUT" && e.method !== "POST" && e.method !== "HEAD" && e.path.startsWith("/v2/cache/")), "the client never reached the origin");
    assert.ok(olog.some((e) => e.path === "/v2/cache/app/manifests/v1" && e.userAgent !== "esgz-fast-test"), "the mirror fetched from the origin");

    // A second read of a cached blob is served from the mirror's store, as a real range.
    await new Promise((res) => setTimeout(res, 300));
    const [b] = await client.readBlob(ref, d, [{ offset: 7_000_000, length: 10_000 }], { size: layer.length });
    assert.is(hex(b), hex(layer.subarray(7_000_000, 7_010_000)));

    await mirror!.stop();
    mirror = undefined;
    const [c] = await client.readBlob(ref, d, [{ offset: 123, length: 456 }, { offset: 8_000_000, length: 1000 }], { size: layer.length });
    assert.is(hex(c), hex(layer.subarray(123, 579)));
    const r2 = await client.resolveImage(ref);
    assert.is(r2.manifestDigest, img.manifestDigest);
    const after = await origin.accessLog();
    assert.ok(after.some((e) => e.userAgent === "esgz-fast-test" && e.path === `/v2/cache/app/blobs/${d}` && e.status === 206), "fell back to the origin");
    assert.ok(client.rangeSocketStats!.requests >= 3, "ranged GETs to the mirror and the origin on the fast path");
    assert.is(client.rangeSocketStats!.fallbacks, 0);
  } finally {
    await client.close();
  }
});

test("a forward proxy (HTTP_PROXY) carries requests to non-loopback hosts; loopback ones go direct", async () => {
  const fwd = await startForwardProxy({ "registry.test": "127.0.0.1" });
  const port = origin.host.split(":")[1];
  const name = `registry.test:${port}`; // only the proxy can resolve this name
  const client = new RegistryClient({
    proxy: { http: fwd.url, noProxy: "" },
    resolver: { host: { [name]: { insecure: true } } },
    blob: { max_retries: 1, min_wait_msec: 10, max_wait_msec: 50 },
  });
  const direct = new RegistryClient({ proxy: false, resolver: { host: { [name]: { insecure: true } } }, blob: { max_retries: 0 } });
  try {
    const r = await client.resolveImage(`${name}/cache/app:v1`);
    assert.is(r.manifestDigest, img.manifestDigest);
    const [a] = await client.readBlob(r.ref, r.layers[0].digest, [{ offset: 4_000_000, length: 12_345 }]);
    assert.is(hex(a), hex(layer.subarray(4_000_000, 4_012_345)));
    assert.ok(fwd.connects.length >= 1 && fwd.connects.every((c) => c === name), `tunnels: ${fwd.connects.join(", ")}`);
    assert.is(client.rangeSocketStats!.requests, 0, "a proxied origin's ranges stay on undici");
    const n = fwd.connects.length;
    await client.readBlob(`${origin.host}/cache/app:v1`, r.layers[0].digest, [{ offset: 0, length: 10 }]);
    assert.is(fwd.connects.length, n, "127.0.0.1 is not proxied");
    assert.is(client.rangeSocketStats!.requests, 1, "a loopback origin's ranges go on the fast path");
    try {
      await direct.resolveImage(`${name}/cache/app:v1`);
      assert.unreachable("resolved without the proxy");
    } catch (err) {
      assert.instance(err, RegistryError);
      assert.match((err as Error).message, /registry registry\.test:\d+, repository cache\/app, manifest v1: .*(ENOTFOUND|EAI_AGAIN)/);
    }
  } finally {
    await Promise.all([client.close(), direct.close()]);
    await fwd.stop();
  }
});

test.run();
