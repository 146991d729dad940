// The store's TOC step in a worker: pool op `readToc` (inflate the TOC member, take the JSON out of
// its tar header, check the TOC digest) behind EStargzReader.open's `readToc` dependency.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { gzipSync } from "node:zlib";
import { testPool } from "../helpers/pool-worker.js";
import { nodeCore } from "../../src/node/core.js";
import { TocIndex } from "../../src/core/toc.js";
import { EStargzReader, type ReaderDeps } from "../../src/estargz/reader.js";
import { readerDeps } from "../../src/estargz/deps.js";
import { MemorySource } from "../../src/estargz/source.js";
import { writeEStargz } from "../../src/estargz/writer.js";
import { parseFooter } from "../../src/estargz/footer.js";
import { packTree, randomTree } from "../helpers/tartree.js";
import { withTocJson } from "../helpers/toc-rewrite.js";
import { rejects } from "../helpers/assert.js";

async function layer(): Promise<{ blob: Buffer; tocDigest: string }> {
  const parts: Uint8Array[] = [];
  const tar = await packTree(randomTree(7, [0, 10, 5000, 70_000, 300_000]));
  const r = await writeEStargz((async function* () { yield tar; })(), (b) => { parts.push(Buffer.from(b)); }, { chunkSize: 65536 });
  return { blob: Buffer.concat(parts), tocDigest: r.tocDigest };
}

function poolDeps(pool: ReturnType<typeof testPool>): ReaderDeps<TocIndex> {
  return {
    readToc: (member, tocOffset, maxToc, expected, name) =>
      pool.run("readToc", { member, tocOffset, maxToc, expected, name }, { transfer: [member.buffer as ArrayBuffer] }),
    buildIndex: (json, tocOffset) => TocIndex.build(nodeCore(), json, { tocOffset }),
    verifyChunk: () => Promise.reject(new Error("not used")),
  };
}

test("readToc in a worker gives the JSON and digest the in-thread reader gives", async () => {
  const { blob, tocDigest } = await layer();
  const pool = testPool(1);
  try {
    const viaPool = await EStargzReader.open(new MemorySource(blob, "layer"), poolDeps(pool), { tocDigest });
    const inThread = await EStargzReader.open(new MemorySource(blob, "layer"), readerDeps(), { tocDigest });
    assert.is(viaPool.tocDigest, tocDigest);
    assert.ok(viaPool.tocVerified);
    assert.equal(Buffer.from(viaPool.tocJson), Buffer.from(inThread.tocJson));
    assert.is(viaPool.index.count, inThread.index.count);
    assert.is(viaPool.footer.tocOffset, inThread.footer.tocOffset);
    viaPool.close();
    inThread.close();
  } finally {
    await pool.close();
  }
});

test("readToc refuses a TOC whose digest differs from the expected one, and a member that is not gzip", async () => {
  const { blob } = await layer();
  const pool = testPool(1);
  try {
    const wrong = `sha256:${"0".repeat(64)}`;
    await rejects(() => EStargzReader.open(new MemorySource(blob, "layer-x"), poolDeps(pool), { tocDigest: wrong }),
      /layer-x.*TOC digest mismatch: expected sha256:0{64}, the TOC hashes to sha256:[0-9a-f]{64}/);
    // Another TOC put in place of the right one: the annotation's digest no longer matches.
    const json = Buffer.from(JSON.stringify({ version: 1, entries: [] }));
    const swapped = withTocJson(blob, json);
    const original = (await layer()).tocDigest; // the writer is deterministic: the same layer again
    await rejects(() => EStargzReader.open(new MemorySource(swapped.blob), poolDeps(pool), { tocDigest: original }), /TOC digest mismatch/);
    // The TOC member's bytes replaced by something that is not gzip: the inflate error, with its offset.
    const { tocOffset } = parseFooter(blob.subarray(blob.length - 51), blob.length);
    const broken = Buffer.from(blob);
    broken.fill(0x55, tocOffset, tocOffset + 16);
    await rejects(() => EStargzReader.open(new MemorySource(broken), poolDeps(pool), { tocDigest: original }),
      new RegExp(`TOC member at offset ${tocOffset} does not inflate`));
    // The pool keeps working after failed ops.
    const good = await EStargzReader.open(new MemorySource(blob), poolDeps(pool), { tocDigest: original });
    assert.is(good.tocDigest, original);
    good.close();
    // A JSON that gzip accepts but that is not in a tar: the reader's tar-header error.
    // (same TOC offset, so the original footer still points at it)
    const notTar = Buffer.concat([blob.subarray(0, tocOffset), gzipSync(Buffer.alloc(600, 0x61)), blob.subarray(blob.length - 51)]);
    await rejects(() => EStargzReader.open(new MemorySource(notTar), poolDeps(pool), { tocDigest: original }),
      /does not start with a valid tar header/);
  } finally {
    await pool.close();
  }
});

test.run();
