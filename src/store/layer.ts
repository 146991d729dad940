// One opened eStargz layer: its verified TOC index, the chunk fetcher over the registry blob, the
// prefetch of the landmark range and the background fetch of the rest, and reads of files and of the
// raw blob. What the file system sees of it is a `LayerView` (src/fs/als.ts).
import { createHash } from "node:crypto";
import { open, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { BlobHandle, LayerView } from "../fs/als.js";
import { FsError } from "../fs/errno.js";
import type { TreeIndex } from "../fs/overlay.js";
import { ChunkMap, type ChunkSourceIndex } from "./chunkmap.js";
import { ChunkFetcher, type ChunkStore, type RangeSource, type VerifyBatch } from "./fetcher.js";
import { TOC_DIGEST_ANNOTATION, UNCOMPRESSED_SIZE_ANNOTATION } from "../estargz/annotations.js";
import type { ImageLayer } from "./store.js";

/** What a layer needs of its TOC index (`TocIndex` satisfies it). */
export interface LayerIndex extends TreeIndex, ChunkSourceIndex {
  chunkCount(id: number): number;
  chunkOffset(id: number, k: number): number;
  findChunk(id: number, fileOffset: number): number;
  /** Cleaned full path of node `id` (for messages). */
  name(id: number): string;
  /** 0 none, 1 `.prefetch.landmark`, 2 `.no.prefetch.landmark`. */
  readonly landmark: number;
  readonly prefetchEnd: number;
  dispose(): void;
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
}

export interface LayerLog {
  warn(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
}

/** The whole blob is fetched in ranges of this size, this many at once. */
const BLOB_WINDOW = 4 << 20;
const BLOB_WINDOWS_IN_FLIGHT = 4;
/** The blob is hashed in pieces of this size (each a slice of the event loop's time). */
const BLOB_HASH_PIECE = 1 << 20;
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
  /** The verified copy of the blob, once asked for (see `openBlob`). */
  private verifiedBlob: Promise<VerifiedBlob> | undefined;

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
    const blob = this.verifiedBlob;
    this.verifiedBlob = undefined;
    void blob?.then((b) => b.remove(), () => {});
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
    const held = k0 === k1 ? this.fetcher.fromMemory(cids[0]) : undefined;
    if (held) return this.fill(id, into, offset, end, k0, k1, () => held);
    return this.fetcher.chunks(cids, "high").then((got) => this.fill(id, into, offset, end, k0, k1, (k) => got.get(this.map.cid(id, k))!));
  }

  // Copies bytes [offset, end) of file `id` from its chunks k0..k1 into `into`. The chunks must tile
  // that range exactly (each one where the previous ended, each of its size in the TOC): a TOC that
  // says otherwise gets EIO, never a read that returns bytes it did not fill.
  private fill(id: number, into: Uint8Array, offset: number, end: number, k0: number, k1: number, chunk: (k: number) => Uint8Array): number {
    const ix = this.index;
    let at = ix.chunkOffset(id, k0);
    if (at > offset) throw this.tocFault(id, `chunk ${k0} starts at ${at}, after the read at ${offset}`);
    for (let k = k0; k <= k1; k++) {
      const data = chunk(k);
      const cOff = ix.chunkOffset(id, k);
      if (cOff !== at || data.length !== this.map.size[this.map.cid(id, k)]) {
        throw this.tocFault(id, `chunk ${k} (${data.length} bytes at ${cOff}) does not follow the previous chunk, which ends at ${at}`);
      }
      const from = Math.max(offset, cOff);
      const to = Math.min(end, cOff + data.length);
      if (to > from) into.set(data.subarray(from - cOff, to - cOff), from - offset);
      at = cOff + data.length;
    }
    if (at < end) throw this.tocFault(id, `its chunks end at ${at}, before ${end}`);
    return end - offset;
  }

  private tocFault(id: number, what: string): FsError {
    const msg = `${this.facts.digest}: the TOC's chunks of ${JSON.stringify(this.index.name(id))} do not cover the file: ${what}`;
    this.log.warn("read refused: TOC chunk list does not add up", { layer: this.facts.digest, file: this.index.name(id), problem: what });
    return new FsError("EIO", msg);
  }

  /**
   * The blob, byte for byte. No byte is served before the whole blob was fetched and its sha256 found
   * equal to the layer digest: the first open fetches it (ranges in parallel, hashed in order) into a
   * file under `blobDir`, and every read is served from that file. Engines read `blob` whole anyway
   * (export, push). A digest mismatch makes this and every later read of the layer EIO.
   */
  openBlob(): BlobHandle {
    this.verifiedBlob ??= fetchVerifiedBlob(this.source, this.facts, this.settings.blobDir).then(
      (b) => { if (this.stopped) void b.remove(); return b; },
      (e: Error) => {
        this.verifiedBlob = undefined; // a network failure is tried again by the next open
        if (e instanceof BlobDigestMismatch) {
          this.failure = e.message;
          this.log.warn("layer blob digest mismatch; the layer now answers EIO", { layer: this.facts.digest, actual: e.actual });
        } else {
          this.log.warn("cannot fetch the layer blob", { layer: this.facts.digest, error: e.message });
        }
        throw new FsError("EIO", e.message);
      });
    const verified = this.verifiedBlob;
    verified.catch(() => {});
    return {
      read: async (into, offset, length) => {
        const blob = await verified;
        if (this.failure) throw new FsError("EIO", this.failure);
        return blob.read(into, offset, length);
      },
    };
  }

  /** The view the file system serves for a lookup of `desc` (by its TOC digest when `byToc`). */
  view(desc: ImageLayer, byToc: boolean): LayerView {
    return {
      info: layerInfo(desc, byToc),
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
 * The `info` file. A layer-digest lookup (podman ≤ 5.0) gets the manifest's and config's digests and
 * sizes: `compression: 2` (gzip) is required for export; `diff-size` comes from the uncompressed-size
 * annotation or is -1. A TOC-digest lookup (containers/storage ≥ 5.1) is identified by its TOC digest
 * alone: exactly upstream's fields, the config's diffID only as the hint `expected-layer-diffid`, and
 * no digest or size the store has not verified (the engine indexes a layer under every digest `info`
 * claims).
 */
export function layerInfo(desc: ImageLayer, byToc: boolean): Uint8Array {
  const info: Record<string, unknown> = byToc
    ? { "diff-size": -1, compression: 2, "toc-digest": desc.annotations![TOC_DIGEST_ANNOTATION], flags: { "expected-layer-diffid": desc.diffId } }
    : {
      "compressed-diff-digest": desc.digest,
      "compressed-size": desc.size,
      "diff-digest": desc.diffId,
      "diff-size": uncompressedSize(desc) ?? -1,
      compression: 2,
    };
  return new TextEncoder().encode(JSON.stringify(info));
}

function uncompressedSize(desc: ImageLayer): number | undefined {
  const note = desc.annotations?.[UNCOMPRESSED_SIZE_ANNOTATION];
  return note !== undefined && /^\d+$/.test(note) ? Number(note) : undefined;
}

/** The whole blob, verified, in a local file. */
interface VerifiedBlob {
  read(into: Uint8Array, offset: number, length: number): Promise<number>;
  remove(): Promise<void>;
}

class BlobDigestMismatch extends Error {
  constructor(readonly expected: string, readonly actual: string) {
    super(`blob of layer ${expected} hashes to ${actual}: the registry served different bytes`);
  }
}

// Fetches the blob in BLOB_WINDOW ranges, BLOB_WINDOWS_IN_FLIGHT at a time, writes each where it
// belongs and hashes them in order; the file is used only once the digest matched.
async function fetchVerifiedBlob(source: RangeSource, facts: LayerFacts, dir: string): Promise<VerifiedBlob> {
  const path = join(dir, `${facts.digest.replace(":", "-")}.${process.pid}.${Math.random().toString(36).slice(2)}`);
  const fh: FileHandle = await open(path, "wx+", 0o600);
  const remove = async () => { await fh.close().catch(() => {}); await unlink(path).catch(() => {}); };
  try {
    const hash = createHash("sha256");
    const size = facts.size;
    const windows: Array<Promise<Uint8Array>> = [];
    let asked = 0;
    const ask = () => {
      if (asked >= size) return;
      const len = Math.min(BLOB_WINDOW, size - asked);
      const at = asked;
      const p = source.read(at, len).then(async (bytes) => {
        if (bytes.length !== len) throw new Error(`blob range ${at}+${len}: got ${bytes.length} bytes`);
        await fh.write(bytes, 0, len, at);
        return bytes;
      });
      p.catch(() => {});
      windows.push(p);
      asked += len;
    };
    while (windows.length < BLOB_WINDOWS_IN_FLIGHT && asked < size) ask();
    while (windows.length) {
      const bytes = await windows.shift()!;
      ask();
      for (let o = 0; o < bytes.length; o += BLOB_HASH_PIECE) {
        hash.update(bytes.subarray(o, o + BLOB_HASH_PIECE));
        if (o + BLOB_HASH_PIECE < bytes.length) await new Promise<void>((r) => setImmediate(r));
      }
    }
    const actual = `sha256:${hash.digest("hex")}`;
    if (actual !== facts.digest) throw new BlobDigestMismatch(facts.digest, actual);
  } catch (e) {
    await remove();
    throw e;
  }
  return {
    read: async (into, offset, length) => {
      if (offset >= facts.size || length <= 0) return 0;
      const n = Math.min(length, facts.size - offset);
      let done = 0;
      while (done < n) {
        const { bytesRead } = await fh.read(into, done, n - done, offset + done);
        if (bytesRead === 0) throw new Error(`verified blob copy of ${facts.digest} ended at ${offset + done}`);
        done += bytesRead;
      }
      return n;
    },
    remove,
  };
}

