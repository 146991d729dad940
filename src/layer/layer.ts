// One opened eStargz layer: its verified TOC index, the chunk map, the reader over the registry blob,
// the prefetch of the landmark range and the background fetch of the rest, and the raw blob. What the
// file system sees of it is a `LayerView`.
import type { TocIndex } from "../core/toc.js";
import { FsError } from "../util/errno.js";
import { BlobDigestMismatch, fetchVerifiedBlob, type VerifiedBlob } from "./blob.js";
import type { ChunkStore } from "./cache.js";
import { ChunkMap } from "./chunkmap.js";
import { ChunkReader } from "./reader.js";
import type { RangeSource } from "./source.js";
import type { VerifyBatch } from "./verify.js";

/** A layer as the file system serves it (src/fs/als.ts). */
export interface LayerView {
  /** The `info` file's bytes. */
  readonly info: Uint8Array;
  readonly blobSize: number;
  readonly index: TocIndex;
  /** Reads a regular file's verified bytes into `into`; returns the count (short only at EOF). */
  readFile(id: number, into: Uint8Array, offset: number, length: number): number | Promise<number>;
  /** Opens the raw blob for reading. */
  openBlob(): BlobHandle;
  /** Keeps the layer loaded while a file of it is open; call the returned function on release. */
  hold(): () => void;
}

export interface BlobHandle {
  read(into: Uint8Array, offset: number, length: number): Promise<number>;
}

/** Where a layer's bytes come from and what they were verified against: what identifies it. */
export interface LayerFacts {
  /** `registry/repository` the blob is fetched from. */
  repository: string;
  /** Compressed digest (manifest). */
  digest: string;
  size: number;
  /** sha256 of the TOC fetched from the blob (equal to the manifest's annotation when it has one). */
  tocDigest: string;
}

export interface FetchSettings {
  /** Where the verified copy of the whole blob is written when `blob` is read. */
  blobDir: string;
  chunkSize: number;
  prefetchSize: number;
  prefetchTimeoutMs: number;
  noPrefetch: boolean;
  noBackgroundFetch: boolean;
  /** Fetched at low priority after the prefetch even with no_background_fetch. */
  prefetchAsyncSize: number;
  /** Awaited between the prefetch and the background fetch (the store: until FUSE is quiet). */
  beforeBackground?: () => Promise<void>;
  /** The most a chunk may inflate to (`[blob] max_chunk_size`); files with a larger chunk answer EIO. */
  maxChunkSize?: number;
}

export interface LayerLog {
  warn(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
}

/** The background fetch asks for the blob in ranges of this size. */
const BACKGROUND_WINDOW = 4 << 20;

export class Layer {
  readonly map: ChunkMap;
  readonly reader: ChunkReader;
  private stopped = false;
  /** Open files of this layer; the store drops a layer only when none is open. */
  openHandles = 0;
  lastUse = Date.now();
  /** The verified copy of the blob, once asked for (see `openBlob`). */
  private verifiedBlob: Promise<VerifiedBlob> | undefined;

  constructor(
    readonly facts: LayerFacts,
    readonly index: TocIndex,
    readonly tocOffset: number,
    private readonly source: RangeSource,
    verify: VerifyBatch,
    cache: ChunkStore,
    private readonly settings: FetchSettings,
    private readonly log: LayerLog,
  ) {
    this.map = new ChunkMap(index, settings.maxChunkSize);
    if (this.map.oversizedCount > 0) {
      log.warn("layer has chunks over [blob] max_chunk_size: reads of their files answer EIO", {
        layer: facts.digest, chunks: this.map.oversizedCount, largest: this.map.largestChunk, limit: settings.maxChunkSize,
      });
    }
    this.reader = new ChunkReader(index, this.map, source, verify, cache, {
      chunkSize: settings.chunkSize, mergeGap: settings.chunkSize, maxRequest: 16 << 20, minFetch: 256 << 10,
    }, tocOffset, facts.digest, log);
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
    const work = end > 0 ? this.reader.fetchRange(0, end, "high") : Promise.resolve();
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
    const prefetched = Promise.race([done, timeout]).finally(() => clearTimeout(timer));
    if (end > 0) this.reader.holdReadsUntil(prefetched);
    // The rest of the layer in the background; with no_background_fetch only up to prefetch_async_size.
    const limit = noBackgroundFetch ? Math.min(this.settings.prefetchAsyncSize, this.tocOffset) : this.tocOffset;
    if (limit > end) {
      void done.then(() => this.settings.beforeBackground?.())
        .then(() => { if (!this.stopped) return this.background(end, limit); });
    }
    return prefetched;
  }

  // Fetches the rest of the layer in windows at low priority, pausing while reads wait.
  private async background(from: number, limit: number): Promise<void> {
    let start = from;
    while (!this.stopped && start < limit) {
      await this.reader.whenIdle();
      if (start > from) await this.settings.beforeBackground?.();
      const end = Math.min(limit, start + BACKGROUND_WINDOW);
      try {
        await this.reader.fetchRange(start, end, "low");
      } catch (e) {
        this.log.warn("background fetch stopped", { layer: this.facts.digest, error: (e as Error).message });
        return;
      }
      start = end;
    }
    if (!this.stopped) this.log.debug("background fetch done", { layer: this.facts.digest, ...this.reader.stats });
  }

  /** Stops background work, frees the index, removes the blob copy. */
  dispose(): void {
    this.stopped = true;
    this.index.dispose();
    const blob = this.verifiedBlob;
    this.verifiedBlob = undefined;
    void blob?.then((b) => b.remove(), () => {});
  }

  /**
   * The blob, byte for byte. No byte is served before the whole blob was fetched and its sha256 found
   * equal to the layer digest: the first open fetches it into a file under `blobDir` (src/layer/blob.ts),
   * and every read is served from that file. Engines read `blob` whole anyway (export, push). A digest
   * mismatch makes this and every later read of the layer EIO.
   */
  openBlob(): BlobHandle {
    const failed = this.reader.failure;
    if (failed) return { read: () => Promise.reject(new FsError("EIO", failed)) };
    this.verifiedBlob ??= fetchVerifiedBlob(this.source, this.facts, this.settings.blobDir).then(
      (b) => { if (this.stopped) void b.remove(); return b; },
      (e: Error) => {
        this.verifiedBlob = undefined; // a network failure is tried again by the next open
        if (e instanceof BlobDigestMismatch) {
          this.reader.fail(e.message);
          this.log.warn("layer blob digest mismatch; the layer now answers EIO", { layer: this.facts.digest, actual: e.actual });
        } else {
          this.log.warn("cannot fetch the layer blob", { layer: this.facts.digest, error: e.message });
        }
        throw new FsError("EIO", e.message);
      });
    const verified = this.verifiedBlob;
    verified.catch(() => {});
    return { read: async (into, offset, length) => (await verified).read(into, offset, length) };
  }

  /** The view the file system serves, with `info` as the lookup's `info` file. */
  view(info: Uint8Array): LayerView {
    const reader = this.reader;
    return {
      info,
      blobSize: this.facts.size,
      index: this.index,
      readFile: (id, into, offset, length) => reader.readFile(id, into, offset, length),
      openBlob: () => this.openBlob(),
      hold: () => {
        this.openHandles++;
        let held = true;
        return () => { if (held) { held = false; this.openHandles--; this.lastUse = Date.now(); } };
      },
    };
  }
}
