// A registry that stalls mid-body, through the real mount: `esgz-fast mount` (its own process) reads an
// eStargz image through the fault proxy, which answers blob ranges with the right head and then one
// byte at a time. With small timeouts in config.toml a read ends in EIO (not a hang), the store logs
// which timeout ran out and where, and once the registry answers normally the same file reads right.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes, createHash } from "node:crypto";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { startFaultProxy, type FaultProxy } from "../helpers/fault-proxy.js";
import { cleanupMount, run, startStore, tempDir, type StoreProcess } from "../helpers/fuse.js";
import { pushEStargzImage, refDir, type PushedEStargz } from "../helpers/podman.js";
import { rejects } from "../helpers/assert.js";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const content = randomBytes(300_000);
let reg: TestRegistry;
let proxy: FaultProxy;
let work: string;
let mnt: string;
let store: StoreProcess;
let img: PushedEStargz;

// No prefetch and no background fetch: the file's chunks are fetched by the read itself.
const CONFIG = `
noprefetch = true
no_background_fetch = true
[blob]
fetching_timeout_sec = 20
max_retries = 1
min_wait_msec = 10
max_wait_msec = 50
[resolver]
request_timeout_sec = 1
`;

test.before(async () => {
  work = await tempDir("esgz-timeouts-");
  mnt = join(work, "mnt");
  const tree = join(work, "tree");
  await mkdir(join(tree, "data"), { recursive: true });
  await writeFile(join(tree, "data", "big.bin"), content);
  await writeFile(join(tree, "data", "small.txt"), "small\n");
  const tar = join(work, "tree.tar");
  await run("tar", ["--format=pax", "--sort=name", "-C", tree, "-cf", tar, "."]);
  reg = await startRegistry();
  img = await pushEStargzImage(reg, "slow/app", "v1", [tar], { chunkSize: 64 << 10 });
  proxy = await startFaultProxy(reg.url);
  store = await startStore({ mountpoint: mnt, root: join(work, "root"), configToml: CONFIG });
});

test.after(async () => {
  await store?.stop().catch(() => {});
  await cleanupMount(mnt).catch(() => {});
  await proxy?.stop();
  await reg?.stop();
  await run("rm", ["-rf", work]).catch(() => {});
});

test("a body trickled byte by byte: the read gets EIO, the log names the timeout; served normally again, the same file reads right", async () => {
  const ref = `${proxy.host}/slow/app:v1`;
  const digest = img.layers[0].digest;
  const file = join(mnt, refDir(ref), digest, "diff", "data", "big.bin");
  assert.is((await stat(file)).size, content.length); // the layer is open (TOC read) before the registry turns slow
  const blobGets = () => proxy.seen.filter((r) => r.method === "GET" && r.path.endsWith(`/blobs/${digest}`)).length;
  proxy.rules.push({ match: (r) => r.method === "GET" && r.path.endsWith(`/blobs/${digest}`), fault: { kind: "trickle", everyMs: 200 }, times: 1000 });

  await rejects(() => readFile(file), /EIO/);
  const line = store.logs().split("\n").find((l) => l.includes('"msg":"read timed out"'));
  assert.ok(line, `a "read timed out" line in the log:\n${store.logs().slice(-3000)}`);
  const entry = JSON.parse(line!) as { path: string; timeout: string; error: string };
  assert.is(entry.timeout, "[resolver] request_timeout_sec");
  assert.match(entry.path, /data\/big\.bin$/);
  assert.match(entry.error, new RegExp(`^${digest}: fetching blob bytes \\d+-\\d+ failed: registry ${proxy.host}, repository slow/app, blob ${digest}: request timeout \\(1 s\\) passed with \\d+ of \\d+ body bytes received`));
  assert.match(entry.error, /gave up after 2 attempts/);

  proxy.rules = [];
  const before = blobGets();
  assert.is(sha(await readFile(file)), sha(content));
  assert.ok(blobGets() > before, "the read sent new requests (nothing stalled stayed in flight)");
  assert.is(await readFile(join(mnt, refDir(ref), digest, "diff", "data", "small.txt"), "utf8"), "small\n");
});

test.run();
