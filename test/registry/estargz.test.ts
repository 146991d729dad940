// The registry's BlobReader as the eStargz reader's Source, unchanged: the Go fixture blobs pushed
// as layers of one image to a real registry, opened with their TOC digest annotation, and every
// regular file read back through byte ranges with the sha256 the fixture listing records.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fixtures, fixturesDir } from "../helpers/paths.js";
import { pushImage, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { RegistryClient } from "../../src/registry/index.js";
import { EStargzReader } from "../../src/estargz/reader.js";
import { readerDeps } from "../../src/estargz/deps.js";

const TOC_ANNOTATION = "containerd.io/snapshot/stargz/toc.digest";
let reg: TestRegistry;
let client: RegistryClient;

test.before(async () => {
  reg = await startRegistry();
  client = new RegistryClient({ platform: "linux/amd64" });
});
test.after(async () => {
  await client?.close();
  await reg?.stop();
});

test("every Go fixture layer reads back through the registry as its listing says", async () => {
  const fx = fixtures();
  await pushImage(reg, "estargz/fixtures", "v1", {
    layers: fx.map((f) => ({ data: readFileSync(f.path), annotations: { [TOC_ANNOTATION]: f.tocDigest } })),
  });
  const img = await client.resolveImage(`${reg.host}/estargz/fixtures:v1`);
  assert.is(img.layers.length, fx.length);
  const deps = readerDeps();
  for (const [i, layer] of img.layers.entries()) {
    assert.is(layer.digest, fx[i].blobDigest);
    const source = await client.openBlob(img.ref, layer.digest, layer.size);
    const reader = await EStargzReader.open(source, deps, { tocDigest: layer.annotations![TOC_ANNOTATION], tailWindow: 8192 });
    try {
      assert.ok(reader.tocVerified);
      const listing = readFileSync(join(fixturesDir, fx[i].blob.replace(".tar.gz", ".listing.tsv")), "utf8").trim().split("\n").map((l) => l.split("\t"));
      let files = 0;
      for (const [path, type, , , , size, digest] of listing) {
        if (type !== "reg") continue;
        const id = reader.index.lookup(path);
        assert.ok(id >= 0, `${fx[i].blob}: ${path} in the TOC`);
        const bytes = await reader.readFile(id);
        assert.is(bytes.length, Number(size), `${fx[i].blob}: ${path} size`);
        assert.is(`sha256:${createHash("sha256").update(bytes).digest("hex")}`, digest, `${fx[i].blob}: ${path}`);
        files++;
      }
      assert.ok(files > 10, `${fx[i].blob}: ${files} files read`);
    } finally {
      reader.close();
    }
  }
  const log = await reg.accessLog();
  const gets = log.filter((e) => e.method === "GET" && fx.some((f) => e.path.endsWith(f.blobDigest)));
  assert.ok(gets.length > fx.length && gets.every((e) => e.status === 206), "layers were read by ranges only");
});

test.run();
