// The store's chunk map (src/store/chunkmap.ts): a layer's chunks in blob order whatever the TOC's
// entry order, each chunk's facts and digest kept together, and a layout that would serve a file from
// the wrong chunk refused.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { ChunkTable } from "../../src/core/toc.js";
import { ChunkMap } from "../../src/layer/chunkmap.js";

interface Chunk { node: number; k: number; start: number; end: number; inner: number; size: number }

/** A ChunkSourceIndex whose table lists `chunks` in the order given (digest byte 0 = position + 1). */
function index(nodes: number, chunks: Chunk[]): { count: number; chunkTable(): ChunkTable } {
  return {
    count: nodes,
    chunkTable: () => {
      const digests = new Uint8Array(chunks.length * 32);
      chunks.forEach((_, j) => digests.fill(j + 1, j * 32, j * 32 + 32));
      return {
        node: Int32Array.from(chunks, (c) => c.node), k: Int32Array.from(chunks, (c) => c.k),
        memberStart: Float64Array.from(chunks, (c) => c.start), memberEnd: Float64Array.from(chunks, (c) => c.end),
        innerOffset: Float64Array.from(chunks, (c) => c.inner), size: Float64Array.from(chunks, (c) => c.size), digests,
      };
    },
  };
}

// node 1: two chunks in members at 100 and 200; nodes 2 and 3: small files sharing the member at 300
const layer: Chunk[] = [
  { node: 1, k: 0, start: 100, end: 200, inner: 0, size: 4096 },
  { node: 1, k: 1, start: 200, end: 300, inner: 0, size: 1000 },
  { node: 2, k: 0, start: 300, end: 400, inner: 0, size: 10 },
  { node: 3, k: 0, start: 300, end: 400, inner: 10, size: 20 },
];

test("a TOC already in blob order: chunks in that order, sizes summed, digests in place", () => {
  const m = new ChunkMap(index(4, layer));
  assert.is(m.count, 4);
  assert.equal([...m.memberStart], [100, 200, 300, 300]);
  assert.equal([...m.innerOffset], [0, 0, 0, 10]);
  assert.is(m.totalSize, 4096 + 1000 + 10 + 20);
  assert.equal([m.cid(1, 0), m.cid(1, 1), m.cid(2, 0), m.cid(3, 0)], [0, 1, 2, 3]);
  assert.is(m.digestHex(3), "04".repeat(32));
  assert.is(m.firstAtOrAfter(250), 2);
});

test("a TOC listing chunks out of blob order: sorted by member then inner offset, each chunk's facts and digest moved with it", () => {
  const shuffled = [layer[3], layer[0], layer[2], layer[1]];
  const m = new ChunkMap(index(4, shuffled));
  assert.equal([...m.memberStart], [100, 200, 300, 300]);
  assert.equal([...m.memberEnd], [200, 300, 400, 400]);
  assert.equal([...m.size], [4096, 1000, 10, 20]);
  assert.equal([m.cid(1, 0), m.cid(1, 1), m.cid(2, 0), m.cid(3, 0)], [0, 1, 2, 3]);
  // shuffled[1] (node 1, k 0) had digest byte 2; shuffled[0] (node 3) had 1
  assert.is(m.digestHex(0), "02".repeat(32));
  assert.is(m.digestHex(1), "04".repeat(32));
  assert.is(m.digestHex(3), "01".repeat(32));
  assert.equal([...m.digest(2)], new Array(32).fill(3));
});

test("chunks that inflate to more than maxChunkSize (inner offset + size) are refused, naming the chunk and the bound; the rest are served", () => {
  const m = new ChunkMap(index(4, layer), 1000);
  assert.is(m.oversizedCount, 1);
  assert.is(m.largestChunk, 4096);
  assert.match(m.refusal(0) ?? "", new RegExp(`^chunk sha256:${"01".repeat(32)} \\(blob offset 100\\) inflates to 4096 bytes, over \\[blob\\] max_chunk_size = 1000: not fetched$`));
  assert.equal([1, 2, 3].map((cid) => m.refusal(cid)), [undefined, undefined, undefined]);
  // a small chunk far inside its member inflates past the bound too
  const deep = new ChunkMap(index(4, layer), 25);
  assert.equal([0, 1, 2, 3].map((cid) => deep.refusal(cid) !== undefined), [true, true, false, true]);
  assert.match(deep.refusal(3) ?? "", /inflates to 30 bytes \(inner offset 10 \+ size 20\), over \[blob\] max_chunk_size = 25/);
  assert.is(new ChunkMap(index(4, layer)).oversizedCount, 0, "no bound given: none refused");
});

test("a file whose chunks are not one after another in the blob is refused", () => {
  const split = [
    { node: 1, k: 0, start: 100, end: 200, inner: 0, size: 4096 },
    { node: 2, k: 0, start: 200, end: 300, inner: 0, size: 10 },
    { node: 1, k: 1, start: 300, end: 400, inner: 0, size: 1000 },
  ];
  assert.throws(() => new ChunkMap(index(3, split)), /chunk 1 of TOC node 1 is not stored after the file's previous chunk/);
});

test.run();
