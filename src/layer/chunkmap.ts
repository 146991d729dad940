// Every chunk of a layer in blob order, as flat typed arrays (no object per chunk): where its gzip
// member starts and ends in the blob, where its payload starts inside the member, its size and digest.
// Chunk ids ("cid") are positions in this order; the chunk reader merges neighbours by walking it.
// Chunks that inflate to more than the store's bound (`[blob] max_chunk_size`) are marked here, when
// the layer opens, and never fetched nor handed to a worker: reads of their files fail, nothing else.
import type { ChunkTable } from "../core/toc.js";

/** The subset of `TocIndex` (src/core/toc.ts) the chunk map is built from. */
export interface ChunkSourceIndex {
  /** Number of nodes. */
  readonly count: number;
  chunkTable(): ChunkTable;
}

export class ChunkMap {
  /** Blob offset of each chunk's gzip member, ascending. */
  readonly memberStart: Float64Array;
  /** Blob offset where each chunk's member ends (the next member, or the TOC). */
  readonly memberEnd: Float64Array;
  readonly innerOffset: Float64Array;
  readonly size: Float64Array;
  /** sha256 of each chunk's decompressed bytes, 32 bytes per chunk. */
  readonly digests: Uint8Array;
  /** cid of chunk 0 of each node (-1 for nodes without chunks); chunk k of a node is firstCid + k. */
  private readonly firstCid: Int32Array;
  readonly count: number;
  /** Sum of the chunks' decompressed sizes. */
  readonly totalSize: number;
  /** cids of the chunks over `maxChunkSize` (usually none). */
  private readonly oversized = new Set<number>();
  /** The most any chunk inflates to: its offset inside its member plus its size. */
  readonly largestChunk: number;

  /**
   * `maxChunkSize`: the most a chunk may inflate to (inner offset + size): chunks over it are refused.
   */
  constructor(index: ChunkSourceIndex, readonly maxChunkSize = Number.MAX_SAFE_INTEGER) {
    // The TOC's chunk entries (read in one pass: see TocIndex.chunkTable) in blob order, which writers
    // already produce (checked: a sort only when they did not).
    const t = index.chunkTable();
    const n = t.node.length;
    let sorted = true;
    for (let j = 1; j < n && sorted; j++) {
      if (t.memberStart[j] < t.memberStart[j - 1] || (t.memberStart[j] === t.memberStart[j - 1] && t.innerOffset[j] < t.innerOffset[j - 1])) sorted = false;
    }
    let { node, k: kOf } = t;
    this.count = n;
    if (sorted) {
      this.memberStart = t.memberStart; this.memberEnd = t.memberEnd; this.innerOffset = t.innerOffset; this.size = t.size; this.digests = t.digests;
    } else {
      const order = Array.from({ length: n }, (_, i) => i)
        .sort((a, b) => t.memberStart[a] - t.memberStart[b] || t.innerOffset[a] - t.innerOffset[b] || a - b);
      const pick = (from: Float64Array) => Float64Array.from(order, (i) => from[i]);
      this.memberStart = pick(t.memberStart); this.memberEnd = pick(t.memberEnd); this.innerOffset = pick(t.innerOffset); this.size = pick(t.size);
      node = Int32Array.from(order, (i) => t.node[i]);
      kOf = Int32Array.from(order, (i) => t.k[i]);
      this.digests = new Uint8Array(n * 32);
      order.forEach((src, cid) => this.digests.set(t.digests.subarray(src * 32, src * 32 + 32), cid * 32));
    }
    this.firstCid = new Int32Array(index.count).fill(-1);
    let total = 0;
    let largest = 0;
    for (let cid = 0; cid < n; cid++) {
      total += this.size[cid];
      if (kOf[cid] === 0) this.firstCid[node[cid]] = cid;
      const extent = this.innerOffset[cid] + this.size[cid];
      if (extent > largest) largest = extent;
      if (extent > maxChunkSize) this.oversized.add(cid);
    }
    this.totalSize = total;
    this.largestChunk = largest;
    // The layout every writer produces: a file's chunks follow each other in the blob. Anything else
    // is refused here rather than served from the wrong chunk.
    for (let cid = 0; cid < n; cid++) {
      const first = this.firstCid[node[cid]];
      if (first < 0 || first + kOf[cid] !== cid) {
        throw new Error(`chunk ${kOf[cid]} of TOC node ${node[cid]} is not stored after the file's previous chunk`);
      }
    }
  }

  /** Number of chunks over `maxChunkSize`. */
  get oversizedCount(): number {
    return this.oversized.size;
  }

  /** Why chunk `cid` is not served (it inflates to more than `maxChunkSize`), or undefined. */
  refusal(cid: number): string | undefined {
    if (!this.oversized.has(cid)) return undefined;
    const inner = this.innerOffset[cid];
    return `chunk sha256:${this.digestHex(cid)} (blob offset ${this.memberStart[cid]}) inflates to ${inner + this.size[cid]} bytes` +
      `${inner > 0 ? ` (inner offset ${inner} + size ${this.size[cid]})` : ""}, over [blob] max_chunk_size = ${this.maxChunkSize}: not fetched`;
  }

  /** cid of chunk k of `node`. */
  cid(node: number, k: number): number {
    return this.firstCid[node] + k;
  }

  digestHex(cid: number): string {
    return Buffer.from(this.digests.buffer, cid * 32, 32).toString("hex");
  }

  digest(cid: number): Uint8Array {
    return this.digests.slice(cid * 32, cid * 32 + 32);
  }

  /** First cid whose member starts at or after `offset`. */
  firstAtOrAfter(offset: number): number {
    let lo = 0, hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.memberStart[mid] < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
