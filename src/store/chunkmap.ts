// Every chunk of a layer in blob order, as flat typed arrays (no object per chunk): where its gzip
// member starts and ends in the blob, where its payload starts inside the member, its size and digest.
// Chunk ids ("cid") are positions in this order; the fetcher merges neighbours by walking it.

/** The subset of `TocIndex` (src/core/toc.ts) the chunk map is built from. */
export interface ChunkSourceIndex {
  readonly count: number;
  readonly entryCount: number;
  entryNode(i: number): number;
  entryChunk(i: number): number;
  chunkCount(id: number): number;
  chunkOffset(id: number, k: number): number;
  chunkSize(id: number, k: number): number;
  chunkMemberOffset(id: number, k: number): number;
  chunkInnerOffset(id: number, k: number): number;
  chunkCompressedEnd(id: number, k: number): number;
  chunkDigest(id: number, k: number): Uint8Array | null;
  findChunk(id: number, fileOffset: number): number;
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

  constructor(index: ChunkSourceIndex) {
    // Collect (node, k) in TOC order, then order by blob position.
    const nodes: number[] = [];
    const ks: number[] = [];
    for (let i = 0; i < index.entryCount; i++) {
      const k = index.entryChunk(i);
      if (k < 0) continue;
      nodes.push(index.entryNode(i));
      ks.push(k);
    }
    const n = nodes.length;
    const order = Array.from({ length: n }, (_, i) => i);
    const start = (i: number) => index.chunkMemberOffset(nodes[i], ks[i]);
    const inner = (i: number) => index.chunkInnerOffset(nodes[i], ks[i]);
    order.sort((a, b) => start(a) - start(b) || inner(a) - inner(b) || a - b);
    this.count = n;
    this.memberStart = new Float64Array(n);
    this.memberEnd = new Float64Array(n);
    this.innerOffset = new Float64Array(n);
    this.size = new Float64Array(n);
    this.digests = new Uint8Array(n * 32);
    this.firstCid = new Int32Array(index.count).fill(-1);
    let total = 0;
    const kOfCid = new Int32Array(n);
    const nodeOfCid = new Int32Array(n);
    order.forEach((src, cid) => {
      const node = nodes[src], k = ks[src];
      this.memberStart[cid] = index.chunkMemberOffset(node, k);
      this.memberEnd[cid] = index.chunkCompressedEnd(node, k);
      this.innerOffset[cid] = index.chunkInnerOffset(node, k);
      this.size[cid] = index.chunkSize(node, k);
      total += this.size[cid];
      const d = index.chunkDigest(node, k);
      if (d) this.digests.set(d, cid * 32);
      if (k === 0) this.firstCid[node] = cid;
      kOfCid[cid] = k;
      nodeOfCid[cid] = node;
    });
    this.totalSize = total;
    // The layout every writer produces: a file's chunks follow each other in the blob. Anything else
    // is refused here rather than served from the wrong chunk.
    for (let cid = 0; cid < n; cid++) {
      const first = this.firstCid[nodeOfCid[cid]];
      if (first < 0 || first + kOfCid[cid] !== cid) {
        throw new Error(`chunk ${kOfCid[cid]} of TOC node ${nodeOfCid[cid]} is not stored after the file's previous chunk`);
      }
    }
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
