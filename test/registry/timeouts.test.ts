// A registry that answers with the right head and then trickles the body (one byte at a time), put in
// front of a real docker-registry by the fault proxy: the request timeout bounds each attempt whole
// (headers and body) on both HTTP paths (the client's own sockets and undici), the fetch budget bounds
// a read with all its retries, a mirror keeps its own timeout, a request still waiting for a
// connection is bounded too; every stalled connection is hung up on and the next read is a fresh
// request that returns the right bytes.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes, createHash } from "node:crypto";
import { pushImage, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { startFaultProxy, type FaultProxy } from "../helpers/fault-proxy.js";
import { RegistryClient, RegistryError, type RegistryClientOptions } from "../../src/registry/index.js";

const hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const layer = randomBytes(400_000);
let reg: TestRegistry;
let proxy: FaultProxy;
let ref: string;
let digest: string;

const isBlobGet = (r: { method: string; path: string }) => r.method === "GET" && r.path.includes(`/blobs/${digest}`);
const blobGets = () => proxy.seen.filter(isBlobGet).length;
const trickle = (times: number) => void proxy.rules.push({ match: isBlobGet, fault: { kind: "trickle", everyMs: 200 }, times });
/** Resolves once the proxy has seen `n` trickled answers hung up on by the client (the runner's deadline catches a hang). */
async function cutShort(n: number): Promise<void> {
  while (proxy.cutShort < n) await new Promise((r) => setTimeout(r, 20));
}

async function rejects(p: Promise<unknown>, re: RegExp): Promise<RegistryError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, RegistryError, String(err));
    assert.is((err as RegistryError).code, "timeout", (err as Error).message);
    assert.match((err as Error).message, re);
    return err as RegistryError;
  }
  throw new Error("expected a timeout");
}

async function readAndCheck(client: RegistryClient, offset: number, length: number): Promise<void> {
  const [got] = await client.readBlob(ref, digest, [{ offset, length }], { size: layer.length });
  assert.is(hex(got), hex(layer.subarray(offset, offset + length)), `bytes ${offset}+${length}`);
}

test.before(async () => {
  reg = await startRegistry();
  const img = await pushImage(reg, "timeouts/app", "v1", { layers: [{ data: layer }] });
  digest = img.layers[0].digest;
  proxy = await startFaultProxy(reg.url);
  ref = `${proxy.host}/timeouts/app:v1`;
});
test.after(async () => {
  await proxy?.stop();
  await reg?.stop();
});
test.before.each(() => {
  proxy.rules = [];
  proxy.seen = [];
});

const paths: Array<[string, Partial<RegistryClientOptions>]> = [["own sockets", {}], ["undici", { rangeSockets: false }]];

for (const [path, opts] of paths) {
  test(`${path}: head then a trickled body: each attempt ends at the request timeout, its connection hung up; the next read is fresh and right`, async () => {
    const client = new RegistryClient({
      ...opts,
      resolver: { host: { [proxy.host]: { request_timeout_sec: 1 } } },
      blob: { max_retries: 1, min_wait_msec: 10, max_wait_msec: 50 },
    });
    try {
      const cut0 = proxy.cutShort;
      trickle(2);
      const err = await rejects(client.readBlob(ref, digest, [{ offset: 1000, length: 100_000 }]),
        new RegExp(`^registry ${proxy.host}, repository timeouts/app, blob ${digest}: request timeout \\(1 s\\) passed with \\d+ of 100000 body bytes received on http://${proxy.host}/v2/timeouts/app/blobs/${digest} \\(gave up after 2 attempts`));
      assert.is(err.timeout, "request");
      assert.is(blobGets(), 2, "retried once");
      await cutShort(cut0 + 2); // both stalled connections were destroyed by the client
      await readAndCheck(client, 1000, 100_000);
      assert.is(blobGets(), 3, "the next read sent a new request");
      if (opts.rangeSockets === false) assert.is(client.rangeSocketStats, undefined);
      else assert.is(client.rangeSocketStats!.fallbacks, 0, "all on the own sockets");
    } finally {
      await client.close();
    }
  });

  test(`${path}: a request still waiting for a connection is bounded by the same deadline`, async () => {
    const client = new RegistryClient({
      ...opts,
      connections: 1,
      resolver: { host: { [proxy.host]: { request_timeout_sec: 1 } } },
      blob: { max_retries: 0 },
    });
    try {
      const cut0 = proxy.cutShort;
      trickle(1);
      const [first, second] = await Promise.allSettled([
        client.readBlob(ref, digest, [{ offset: 0, length: 50_000 }]),
        client.readBlob(ref, digest, [{ offset: 200_000, length: 50_000 }]),
      ]);
      assert.is(first.status, "rejected");
      assert.match(String((first as PromiseRejectedResult).reason), /request timeout \(1 s\) passed with \d+ of 50000 body bytes received/);
      assert.is(second.status, "rejected");
      assert.match(String((second as PromiseRejectedResult).reason), /request timeout \(1 s\) passed waiting for a free connection/);
      await cutShort(cut0 + 1);
      await readAndCheck(client, 200_000, 50_000);
    } finally {
      await client.close();
    }
  });
}

test("the fetch budget (fetching_timeout_sec) bounds a read with all its attempts; no attempt after it", async () => {
  const client = new RegistryClient({ blob: { fetching_timeout_sec: 2, max_retries: 5, min_wait_msec: 10, max_wait_msec: 50 } });
  try {
    const cut0 = proxy.cutShort;
    trickle(10);
    const err = await rejects(client.readBlob(ref, digest, [{ offset: 0, length: 100_000 }]),
      new RegExp(`blob ${digest}: fetch timeout \\(2 s\\) passed with \\d+ of 100000 body bytes received`));
    assert.is(err.timeout, "fetch");
    assert.is(blobGets(), 1, "the request timeout (30 s) never ran out; the budget did, and nothing was tried after it");
    await cutShort(cut0 + 1);
    proxy.rules = [];
    await readAndCheck(client, 0, 100_000);
  } finally {
    await client.close();
  }
});

test("a mirror's own request_timeout_sec: the stalled mirror is cut off, the registry itself answers", async () => {
  const client = new RegistryClient({
    resolver: { host: { [reg.host]: { mirrors: [{ host: proxy.host, request_timeout_sec: 1 }] } } },
    blob: { max_retries: 1, min_wait_msec: 10, max_wait_msec: 50 },
  });
  try {
    const cut0 = proxy.cutShort;
    trickle(2);
    const [got] = await client.readBlob(`${reg.host}/timeouts/app:v1`, digest, [{ offset: 5, length: 300_000 }]);
    assert.is(hex(got), hex(layer.subarray(5, 300_005)));
    assert.is(blobGets(), 2, "two attempts on the mirror, both cut off; the bytes came from the registry itself");
    await cutShort(cut0 + 2);
  } finally {
    await client.close();
  }
});

test.run();
