// The running store's fetch metrics: each range request is counted under the priority it really had
// (a read a process waits on: high; the background fill of the layer: low); and its memory gauges.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { cleanupMount, run, tempDir } from "../helpers/fuse.js";
import { pushEStargzImage, refDir } from "../helpers/podman.js";
import { startStoreProcess, type StoreProcess } from "../../src/demo/store.js";

let reg: TestRegistry | undefined;
let store: StoreProcess | undefined;
let work = "";

test.after(async () => {
  await store?.stop().catch(() => {});
  if (work) await cleanupMount(join(work, "mnt")).catch(() => {});
  await reg?.stop();
  if (work) await run("rm", ["-rf", work]).catch(() => {});
});

/** Samples of `name` in Prometheus text, by their `priority` label. */
function byPriority(text: string, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(new RegExp(`^${name}\\{priority="(\\w+)"\\} (\\d+)$`, "gm"))) out[m[1]] = Number(m[2]);
  return out;
}

test("a read's fetches are counted as high, the background fill's as low", async () => {
  work = await tempDir("esgz-metrics-");
  const tree = join(work, "tree");
  await mkdir(join(tree, "data"), { recursive: true });
  // a small file to read, and 3 MiB nobody reads: only the background fetch asks for those
  await run("sh", ["-c", `echo hello > "${tree}/data/small.txt" && head -c 3145728 /dev/urandom > "${tree}/data/big.bin"`]);
  const tar = join(work, "layer.tar");
  await run("tar", ["--format=pax", "--sort=name", "-C", tree, "-cf", tar, "."]);
  reg = await startRegistry();
  const img = await pushEStargzImage(reg, "test/metrics", "v1", [tar], { chunkSize: 64 << 10 });
  const port = await freePort();
  const mnt = join(work, "mnt");
  store = await startStoreProcess({ mountpoint: mnt, root: join(work, "root"), args: ["-metrics-address", `127.0.0.1:${port}`] });
  const diff = join(mnt, refDir(img.ref), img.layers[0].digest, "diff");
  assert.is(await readFile(join(diff, "data", "small.txt"), "utf8"), "hello\n");
  // the background fetch of the rest of the layer, logged when it is done (debug level)
  for (let i = 0; i < 600 && !store.logs().includes('"msg":"background fetch done"'); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(store.logs(), '"msg":"background fetch done"');
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const requests = byPriority(text, "esgz_fetch_requests_total");
  assert.ok((requests.high ?? 0) >= 1, `a high-priority request (the TOC, the read): ${JSON.stringify(requests)}`);
  assert.ok((requests.low ?? 0) >= 1, `a low-priority request (the background fetch): ${JSON.stringify(requests)}`);
  // memory: the chunks the LRU holds are part of what the FUSE thread holds outside its heap
  const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
  const [lru, external, heap] = [gauge("esgz_cache_memory_bytes"), gauge("nodejs_external_memory_bytes"), gauge("nodejs_heap_size_used_bytes")];
  assert.ok(lru > 0, `the memory LRU holds the chunks read and fetched: ${lru}`);
  assert.ok(external >= lru, `external memory ${external} covers the LRU's ${lru} bytes`);
  assert.ok(heap > 1 << 20, `a V8 heap in use: ${heap}`);
});

test.run();
