// Run as its own process by test/registry/undici-free.test.ts: pulls like the store does (resolve an
// image, ranged reads of a layer), optionally then asks a blob's size (a HEAD), and prints what it
// read and whether undici was loaded into this process.
//   node pull-child.js REF [--head]
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { RegistryClient } from "../../src/registry/index.js";

const [ref, flag] = process.argv.slice(2);
const undiciLoaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes("/node_modules/undici/"));
const client = new RegistryClient();
try {
  const img = await client.resolveImage(ref);
  const layer = img.layers[0];
  const [head, tail] = await client.readBlob(img.ref, layer.digest, [{ offset: 0, length: 1000 }, { offset: layer.size - 1000, length: 1000 }]);
  const afterPull = undiciLoaded();
  if (flag === "--head") await client.blobSize(img.ref, layer.digest);
  process.stdout.write(JSON.stringify({
    layer: layer.digest,
    head: createHash("sha256").update(head).digest("hex"),
    tail: createHash("sha256").update(tail).digest("hex"),
    undiciAfterPull: afterPull,
    undiciAtEnd: undiciLoaded(),
  }));
} finally {
  await client.close();
}
