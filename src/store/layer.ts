// One opened eStargz layer: its verified TOC index, the chunk fetcher over the registry blob, the
// prefetch of the landmark range and the background fetch of the rest, and reads of files and of the
// raw blob. What the file system sees of it is a `LayerView` (src/fs/als.ts).
import { createHash } from "node:crypto";
import type { BlobHandle, LayerView } from "../fs/als.js";
import { FsError } from "../fs/errno.js";
import type { TreeIndex } from "../fs/overlay.js";
import { ChunkMap, type ChunkSourceIndex } from "./chunkmap.js";
import { ChunkFetcher, type ChunkStore, type RangeSource, type VerifyBatch } from "./fetcher.js";

/** What a layer needs of its TOC index (`TocIndex` satisfies it). */
export interface LayerIndex extends TreeIndex, ChunkSourceIndex {
  chunkCount(id: number): number;
  chunkOffset(id: number, k: number): number;
  findChunk(id: number, fileOffset: number): number;
  /** 0 none, 1 `.prefetch.landmark`, 2 `.no.prefetch.landmark`. */
  readonly landmark: number;
  readonly prefetchEnd: number;
  dispose(): void;
}

/** The manifest and config facts a layer is served under. */
export interface LayerFacts {
  /** Compressed digest (manifest). */
  digest: string;
  size: number;
  /** The `containerd.io/snapshot/stargz/toc.digest` annotation, if any. */
  tocDigest?: string;
  /** rootfs.diff_ids[i] of the config. */
  diffId: string;
  /** `io.containers.estargz.uncompressed-size`, if any. */
  uncompressedSize?: number;
}

export interface FetchSettings {
  chunkSize: number;
  prefetchSize: number;
  prefetchTimeoutMs: number;
  noPrefetch: boolean;
  noBackgroundFetch: boolean;
  /** Fetched at low priority after the prefetch even with no_background_fetch. */
  prefetchAsyncSize: number;
  /** Awaited between the prefetch and the background fetch (the store: until FUSE is quiet). */
  beforeBackground?: () => Promise<void>;
}

export interface LayerLog {
  warn(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
}

const BLOB_WINDOW = 1 << 20;
/** Out-of-order blob reads kept for the sequential digest check, at most. */
const BLOB_EARLY_LIMIT = 16 << 20;
const BACKGROUND_WINDOW = 4 << 20;
/** A read starting this close to where the previous one of the file ended is sequential. */
const SEQUENTIAL_SLACK = 1 << 20;

export class Layer {
  readonly map: ChunkMap;
  readonly fetcher: ChunkFetcher;
  /** Set when a check failed (blob digest): every later read of the layer is EIO. */
  private failure: string | undefined;
  private prefetched: Promise<void> = Promise.resolve();
  /** The prefetch is over (done, failed or timed out): reads need not wait for it. */
  private prefetchSettled = true;
  private stopped = false;
  /** Open file handles and engine references; the store drops the layer only when both are zero. */
  openHandles = 0;
  refs = 0;
  lastUse = Date.now();
  /** Where the last read of each recently read file ended (to recognise sequential readers). */
  private readonly readEnds = new Map<number, number>();
  private readonly infoByToc: Uint8Array;
  private readonly infoByDigest: Uint8Array;

  constructor(
    readonly facts: LayerFacts,
    readonly index: LayerIndex,
    readonly tocOffset: number,
    private readonly source: RangeSource,
    verify: VerifyBatch,
    cache: ChunkStore,
    private readonly settings: FetchSettings,
    private readonly log: LayerLog,
  ) {
    this.map = new ChunkMap(index);
    this.fetcher = new ChunkFetcher(this.map, source, verify, cache, {
      chunkSize: settings.chunkSize, mergeGap: settings.chunkSize, maxRequest: 16 << 20, minFetch: 256 << 10,
    }, tocOffset, facts.digest);
    this.infoByDigest = layerInfo(facts, false);
    this.infoByToc = layerInfo(facts, true);
  }

  /** Starts the prefetch (reads wait for it, bounded by the timeout) and then the background fetch. */
  start(): Promise<void> {
    const { noPrefetch, prefetchSize, prefetchTimeoutMs, noBackgroundFetch } = this.settings;
    let end = 0;
    if (!noPrefetch) {
      if (this.index.landmark === 1) end = this.index.prefetchEnd;
      else if (this.index.landmark === 0) end = Math.min(prefetchSize, this.tocOffset);
    }
    const t0 = Date.now();
    const work = end > 0 ? this.fetcher.fetchRange(0, end, "high") : Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.log.warn("prefetch timed out; reads go on without it", { layer: this.facts.digest, ms: prefetchTimeoutMs });
        resolve();
      }, prefetchTimeoutMs);
      timer.unref();
    });
    const done = work.then(
      () => this.log.debug("prefetch done", { layer: this.facts.digest, bytes: end, ms: Date.now() - t0 }),
      (e: Error) => this.log.warn("prefetch failed", { layer: this.facts.digest, error: e.message }),
    );
    this.prefetchSettled = false;
    this.prefetched = Promise.race([done, timeout]).finally(() => { clearTimeout(timer); this.prefetchSettled = true; });
    // The rest of the layer in the background; with no_background_fetch only up to prefetch_async_size.
    const limit = noBackgroundFetch ? Math.min(this.settings.prefetchAsyncSize, this.tocOffset) : this.tocOffset;
    if (limit > end) {
      void done.then(() => this.settings.beforeBackground?.())
        .then(() => { if (!this.stopped) return this.background(end, limit); });
    }
    return this.prefetched;
  }

  // Fetches the rest of the layer in windows at low priority, pausing while reads wait.
  private async background(from: number, limit: number): Promise<void> {
    let start = from;
    while (!this.stopped && start < limit) {
      await this.fetcher.whenIdle();
      const end = Math.min(limit, start + BACKGROUND_WINDOW);
      try {
        await this.fetcher.fetchRange(start, end, "low");
      } catch (e) {
        this.log.warn("background fetch stopped", { layer: this.facts.digest, error: (e as Error).message });
        return;
      }
      start = end;
    }
    if (!this.stopped) this.log.debug("background fetch done", { layer: this.facts.digest, ...this.fetcher.stats });
  }

  stop(): void {
    this.stopped = true;
  }

  dispose(): void {
    this.stop();
    this.index.dispose();
  }

  /**
   * Verified bytes of regular file `id` at `offset` into `into`; the count read (short at EOF). A read
   * within one chunk that the memory cache holds is answered at once, without a promise: most reads of
   * a warm layer are, and the promise machinery of the async path was a large part of their cost.
   */
  readFile(id: number, into: Uint8Array, offset: number, length: number): number | Promise<number> {
    if (this.failure) throw new FsError("EIO", this.failure);
    if (!this.prefetchSettled) return this.prefetched.then(() => this.readFileNow(id, into, offset, length));
    return this.readFileNow(id, into, offset, length);
  }

  private readFileNow(id: number, into: Uint8Array, offset: number, length: number): number | Promise<number> {
    const ix = this.index;
    const size = ix.size(id);
    if (offset >= size || length <= 0) return 0;
    const end = Math.min(size, offset + length);
    const k0 = ix.findChunk(id, offset);
    const k1 = ix.findChunk(id, end - 1);
    if (k0 < 0 || k1 < 0) throw new FsError("EIO", `no chunk covers offset ${offset} of TOC node ${id}`);
    const cids: number[] = [];
    for (let k = k0; k <= k1; k++) cids.push(this.map.cid(id, k));
    // A process reading a file sequentially: ask for the next chunk now, at the reader's priority (a
    // low-priority one would queue behind the background fetch by the time the reader gets there).
    // (the kernel's readahead sends several reads at once, not always in order: near enough counts)
    // A read far from the last end (a new pass from offset 0 included) starts a new sequence: keeping
    // the old pass's end would mark every later read of this pass random and stop the readahead.
    const last = this.readEnds.get(id);
    const near = last !== undefined && Math.abs(offset - last) <= SEQUENTIAL_SLACK;
    const sequential = offset === 0 || near;
    this.readEnds.delete(id);
    this.readEnds.set(id, near ? Math.max(end, last) : end);
    if (this.readEnds.size > 256) this.readEnds.delete(this.readEnds.keys().next().value!);
    if (sequential && k1 + 1 < ix.chunkCount(id)) {
      const next = this.map.cid(id, k1 + 1);
      if (!this.fetcher.inMemory(next)) void this.fetcher.chunk(next, "high").catch(() => {});
    }
    const copy = (k: number, data: Uint8Array) => {
      const cOff = ix.chunkOffset(id, k);
      const from = Math.max(offset, cOff);
      const to = Math.min(end, cOff + data.length);
      into.set(data.subarray(from - cOff, to - cOff), from - offset);
    };
    const held = k0 === k1 ? this.fetcher.fromMemory(cids[0]) : undefined;
    if (held) {
      copy(k0, held);
      return end - offset;
    }
    return this.fetcher.chunks(cids, "high").then((got) => {
      for (let k = k0; k <= k1; k++) copy(k, got.get(this.map.cid(id, k))!);
      return end - offset;
    });
  }

  /**
   * The blob's bytes at any offset. Reads that together cover the blob from 0 to the end are hashed in
   * order (the kernel's readahead may answer them out of order: later pieces wait, bounded) and checked
   * against the layer digest; a mismatch fails the read that completes the hash, and every later read.
   */
  openBlob(): BlobHandle {
    const hash = createHash("sha256");
    let next = 0;
    const early = new Map<number, Uint8Array>();
    let earlyBytes = 0;
    let tracking = true;
    const windows: Array<{ start: number; end: number; data: Promise<Uint8Array> }> = [];
    const size = this.facts.size;
    const expected = this.facts.digest;
    const feed = (offset: number, bytes: Uint8Array) => {
      if (!tracking || offset + bytes.length <= next) return;
      if (offset > next) {
        if (earlyBytes + bytes.length > BLOB_EARLY_LIMIT) { tracking = false; early.clear(); return; }
        early.set(offset, bytes.slice());
        earlyBytes += bytes.length;
        return;
      }
      hash.update(bytes.subarray(next - offset));
      next = offset + bytes.length;
      for (let e = early.get(next); e; e = early.get(next)) {
        early.delete(next);
        earlyBytes -= e.length;
        hash.update(e);
        next += e.length;
      }
      if (next === size) {
        tracking = false;
        const actual = `sha256:${hash.digest("hex")}`;
        if (actual !== expected) {
          this.failure = `blob of layer ${expected} hashes to ${actual}: the registry served different bytes`;
          this.log.warn("layer blob digest mismatch; the layer now answers EIO", { layer: expected, actual });
          throw new FsError("EIO", this.failure);
        }
      }
    };
    return {
      read: async (into, offset, length) => {
        if (this.failure) throw new FsError("EIO", this.failure);
        if (offset >= size || length <= 0) return 0;
        const end = Math.min(size, offset + length);
        // Concurrent readahead requests share the window being fetched that covers them.
        let w = windows.find((x) => offset >= x.start && end <= x.end);
        if (!w) {
          const wEnd = Math.min(size, Math.max(end, offset + BLOB_WINDOW));
          w = { start: offset, end: wEnd, data: this.source.read(offset, wEnd - offset) };
          windows.push(w);
          if (windows.length > 4) windows.shift();
          w.data.catch(() => { const i = windows.indexOf(w!); if (i >= 0) windows.splice(i, 1); });
        }
        const data = await w.data;
        const bytes = data.subarray(offset - w.start, end - w.start);
        feed(offset, bytes);
        into.set(bytes);
        return bytes.length;
      },
    };
  }

  /** The view the file system serves: `info` for a TOC-digest lookup differs from a digest lookup. */
  view(byToc: boolean): LayerView {
    return {
      info: byToc ? this.infoByToc : this.infoByDigest,
      blobSize: this.facts.size,
      index: this.index,
      entryCount: this.index.count,
      readFile: (id, into, offset, length) => this.readFile(id, into, offset, length),
      openBlob: () => this.openBlob(),
      hold: () => {
        this.openHandles++;
        let held = true;
        return () => { if (held) { held = false; this.openHandles--; this.lastUse = Date.now(); } };
      },
    };
  }
}

/**
 * The `info` file. `compression: 2` (gzip) is required for export; `diff-size` comes from the
 * uncompressed-size annotation or is -1. TOC-digest clients also get `toc-digest` (it must equal the
 * digest they looked up) and `flags.expected-layer-diffid`.
 */
export function layerInfo(f: LayerFacts, byToc: boolean): Uint8Array {
  const info: Record<string, unknown> = {
    "compressed-diff-digest": f.digest,
    "compressed-size": f.size,
    "diff-digest": f.diffId,
    "diff-size": f.uncompressedSize ?? -1,
    compression: 2,
  };
  if (byToc && f.tocDigest) {
    info["toc-digest"] = f.tocDigest;
    info.flags = { "expected-layer-diffid": f.diffId };
  }
  return new TextEncoder().encode(JSON.stringify(info));
}

