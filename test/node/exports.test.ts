// The package's entry points as a user imports them (by package name, through package.json
// "exports"): `esgz-fast` for Node programs and `esgz-fast/core` for the Wasm core alone.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { packTree } from "../helpers/tartree.js";

test("esgz-fast: write an eStargz layer and read a file back through the package root", async () => {
  const api = await import("esgz-fast");
  const body = new TextEncoder().encode("served lazily, verified always\n".repeat(1000));
  const tar = await packTree([{ name: "etc/motd", type: "file", mode: 0o644, uid: 0, gid: 0, mtime: new Date(0), data: body }]);
  const parts: Uint8Array[] = [];
  const facts = await api.writeEStargz((async function* () { yield tar; })(), (b) => { parts.push(b.slice()); }, { chunkSize: 8192 });
  const blob = Buffer.concat(parts);
  assert.is(facts.digest, "sha256:" + createHash("sha256").update(blob).digest("hex"));
  const reader = await api.EStargzReader.open(new api.MemorySource(blob, "motd-layer"), api.readerDeps(), { tocDigest: facts.tocDigest });
  assert.ok(reader.tocVerified);
  assert.equal(Buffer.from(await reader.readWholeFile("etc/motd")), Buffer.from(body));
});

test("esgz-fast/core: the Wasm core's SHA-256 agrees with node:crypto", async () => {
  const core = await import("esgz-fast/core");
  const { nodeCore } = await import("esgz-fast");
  const data = new TextEncoder().encode("abc".repeat(12345));
  assert.is(core.sha256Hex(nodeCore(), data), createHash("sha256").update(data).digest("hex"));
});

test.run();
