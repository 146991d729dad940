import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { fixtures, fixturesDir } from "../helpers/paths.js";
import {
  buildFooter, buildLegacyFooter, parseFooter, readFooter, FOOTER_SIZE, LEGACY_FOOTER_SIZE,
} from "../../src/estargz/footer.js";
import { FileSource, MemorySource } from "../../src/estargz/source.js";
import { EStargzError } from "../../src/estargz/errors.js";

async function rejects(p: Promise<unknown> | (() => unknown), re: RegExp, code?: string): Promise<void> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (err) {
    assert.instance(err, EStargzError);
    assert.match((err as Error).message, re);
    if (code) assert.is((err as EStargzError).code, code);
    return;
  }
  assert.unreachable(`expected an error matching ${re}`);
}

test("every fixture's footer parses, and its TOC offset leads to the TOC member", async () => {
  for (const f of fixtures()) {
    const src = await FileSource.open(f.path);
    try {
      const footer = await readFooter(src);
      const legacy = f.blob.startsWith("stargz-legacy");
      assert.is(footer.legacy, legacy, f.blob);
      assert.is(footer.size, legacy ? LEGACY_FOOTER_SIZE : FOOTER_SIZE);
      // Independent check with node:zlib: the member at tocOffset is a tar entry stargz.index.json
      // holding exactly the fixture's TOC JSON.
      const member = gunzipSync(await src.read(footer.tocOffset, src.size - footer.size - footer.tocOffset));
      assert.is(Buffer.from(member.subarray(0, 17)).toString(), "stargz.index.json");
      const size = parseInt(Buffer.from(member.subarray(124, 136)).toString().trim(), 8);
      const toc = readFileSync(join(fixturesDir, f.blob.replace(".tar.gz", ".toc.json")));
      assert.is(size, toc.length);
      assert.ok(Buffer.from(member.subarray(512, 512 + size)).equals(toc), `${f.blob}: TOC bytes`);
    } finally {
      await src.close();
    }
  }
});

test("built footers are byte-identical to the Go writer's, eStargz and legacy", () => {
  for (const f of fixtures()) {
    const blob = readFileSync(f.path);
    const legacy = f.blob.startsWith("stargz-legacy");
    const n = legacy ? LEGACY_FOOTER_SIZE : FOOTER_SIZE;
    const { tocOffset } = parseFooter(blob.subarray(blob.length - FOOTER_SIZE), blob.length);
    const built = legacy ? buildLegacyFooter(tocOffset) : buildFooter(tocOffset);
    assert.ok(Buffer.from(built).equals(blob.subarray(blob.length - n)), f.blob);
    // a footer is a valid empty gzip member
    assert.is(gunzipSync(built).length, 0);
  }
});

test("build → parse round trip at large offsets", () => {
  for (const off of [0, 1, 0xabcdef, 2 ** 40 + 5, Number.MAX_SAFE_INTEGER - 100]) {
    const size = off + 1000;
    assert.equal(parseFooter(buildFooter(off), size), { tocOffset: off, size: 51, legacy: false });
    assert.equal(parseFooter(buildLegacyFooter(off), size), { tocOffset: off, size: 47, legacy: true });
  }
});

test("a footer pointing at or past its own start is rejected with both offsets", async () => {
  await rejects(() => parseFooter(buildFooter(949), 1000, "b1"), /b1: footer points to a TOC at offset 949.*starts at 949, blob size 1000/, "footer");
  await rejects(() => parseFooter(buildFooter(5000), 1000), /offset 5000, outside/, "footer");
  await rejects(() => parseFooter(buildLegacyFooter(953), 1000), /offset 953.*47-byte footer starts at 953/, "footer");
  assert.is(parseFooter(buildFooter(948), 1000).tocOffset, 948);
});

test("malformed footers: each says what is wrong", async () => {
  const bad = (mut: (b: Uint8Array) => void) => {
    const b = buildFooter(100);
    mut(b);
    return b;
  };
  await rejects(() => parseFooter(bad((b) => (b[0] = 0)), 1000), /no eStargz footer found \(eStargz footer: no gzip header/);
  await rejects(() => parseFooter(bad((b) => (b[12] = 0x41)), 1000), /extra subfield is not 'SG'/);
  await rejects(() => parseFooter(bad((b) => (b[20] = 0x7a)), 1000), /TOC offset "0000z.*" is not 16 hex digits/);
  await rejects(() => parseFooter(bad((b) => (b[33] = 0x41)), 1000), /does not end in STARGZ/);
  await rejects(() => parseFooter(bad((b) => (b[45] = 1)), 1000), /not an empty stored block/);
  await rejects(() => parseFooter(bad((b) => b.set(new TextEncoder().encode("ffffffffffffffff"), 16)), 1e6), /beyond 2\^53/);
  await rejects(() => parseFooter(new Uint8Array(40), 40, "tiny"), /tiny: blob of 40 bytes is too small/);
  await rejects(readFooter(new MemorySource(new Uint8Array(300), "zeros")), /zeros: no eStargz footer found/);
});

test("a plain gzip layer (no footer) is rejected clearly", async () => {
  const { gzipSync } = await import("node:zlib");
  await rejects(readFooter(new MemorySource(gzipSync(Buffer.from(Array.from({ length: 10000 }, (_, i) => (i * 7919) % 251))), "plain.tar.gz")), /plain.tar.gz: no eStargz footer found/, "footer");
});

test.run();
