// Fetch scheduling for one layer: turns "I need these chunks" into as few registry range requests as
// possible and hands back verified, decompressed chunks.
//
// * A chunk is fetched whole (its gzip member); the request is widened to `chunk_size` alignment in the
//   blob and every chunk whose member lies inside the widened range is verified and cached too, so
//   neighbouring small files come in the same request.
// * Misses whose members are close merge into one range; several ranges go out as one multi-range
//   request when the source supports it.
// * Concurrent requests for one chunk share one fetch (the in-flight map).
// * Nothing reaches the cache or a reader before `verify` (inflate + sha256 against chunkDigest, in a
//   worker thread) accepted it.
import type { ChunkMap } from "./chunkmap.js";

export type Priority = "high" | "low";

/**
 * Random access to the compressed blob (the registry's blob reader, a local file...). The bytes
 * returned belong to the caller (the fetcher may transfer their buffer to a worker).
 */
export interface RangeSource {
  readonly size: number;
  /** `priority`: what the bytes are for (the metrics label fetches with it); "high" when omitted. */
  read(offset: number, length: number, priority?: Priority): Promise<Uint8Array>;
  /** Several ranges in one request where the server allows it; results in the order asked. */
  readRanges?(ranges: Array<{ offset: number; length: number }>, priority?: Priority): Promise<Uint8Array[]>;
}

/** One chunk of a verification batch: its gzip member at [start, end) of the batch's bytes. */
export interface BatchChunk {
  start: number;
  end: number;
  innerOffset: number;
  size: number;
  /** sha256 of the chunk, 32 raw bytes. */
  digest: Uint8Array;
}

/**
 * Inflates and checks a batch of chunks off the event loop (the worker pool's `verifyChunks`); per
 * chunk: exactly `size` verified bytes, or the reason it failed.
 */
export type VerifyBatch = (body: Uint8Array, chunks: BatchChunk[], priority: Priority,
  /** Called at once with a function that raises a low-priority batch still waiting to high. */
  promotable?: (promote: () => void) => void) => Promise<Array<Uint8Array | string>>;

/**
 * Verified chunks by digest (hex) and size: a chunk is what hashes to its digest AND has the size the
 * TOC gives it; an entry of another size is a miss. `get` must itself re-verify what it read from disk.
 */
export interface ChunkStore {
  getMemory(digestHex: string, size: number): Uint8Array | undefined;
  /** Whether memory holds it, without counting a hit or touching its recency. */
  hasMemory?(digestHex: string): boolean;
  get(digestHex: string, size: number, priority: Priority): Promise<Uint8Array | undefined>;
  /** Keeps verified bytes; the promise (if any) settles once they are on disk. Low priority = nobody waits for them yet. */
  put(digestHex: string, data: Uint8Array, priority?: Priority): void | Promise<void>;
  /** Keeps verified bytes in memory as regular entries (a reader got them from a low-priority fetch). */
  remember?(digestHex: string, data: Uint8Array): void;
  /** Whether the disk part holds the chunk (without reading it): background work skips those. */
  has?(digestHex: string): Promise<boolean>;
  /** `has` for a whole window of chunks at once (preferred over `has` when present). */
  hasMany?(digestHexes: string[]): Promise<boolean[]>;
}

export interface FetcherOptions {
  /** Fetch granularity in blob bytes (stargz-store's `[blob] chunk_size`). */
  chunkSize: number;
  /** Misses closer than this in the blob go out as one range. */
  mergeGap: number;
  /** Upper bound of one request's length (keeps memory bounded). */
  maxRequest: number;
  /** Requests are widened to at least this many bytes (rounded up to a multiple of chunkSize). */
  minFetch: number;
}

export interface FetchStats {
  requests: number;
  bytes: number;
  chunksVerified: number;
  cacheHits: number;
}

/** Decompressed bytes per verification batch (one worker round trip). */
const BATCH_BYTES = 1 << 20;

export class ChunkFetcher {
  private readonly inflight = new Map<number, Promise<Uint8Array>>();
  /** In-flight background chunks a reader now waits for: their verification goes out at high priority. */
  private readonly wanted = new Set<number>();
  /** Raises the verification batch of an in-flight background chunk still queued for a worker. */
  private readonly promoters = new Map<number, () => void>();
  /** Cache writes under way: background work waits for them, so it cannot outrun the disk. */
  private readonly writes = new Set<Promise<void>>();
  /** On-demand fetches under way; background work waits while this is non-zero. */
  private highWaiting = 0;
  private idleWaiters: Array<() => void> = [];
  readonly stats: FetchStats = { requests: 0, bytes: 0, chunksVerified: 0, cacheHits: 0 };

  constructor(
    private readonly map: ChunkMap,
    private readonly source: RangeSource,
    private readonly verify: VerifyBatch,
    private readonly cache: ChunkStore,
    private readonly opts: FetcherOptions,
    /** Blob offset where chunk data ends (the TOC member). */
    private readonly dataEnd: number,
    private readonly name: string,
  ) {}

  /** Whether the memory cache holds chunk `cid` now (not counted as a hit). */
  inMemory(cid: number): boolean {
    return this.cache.hasMemory?.(this.map.digestHex(cid)) ?? false;
  }

  /** Chunk `cid` from the memory cache, counted as a hit, or undefined (then ask `chunks`). */
  fromMemory(cid: number): Uint8Array | undefined {
    const d = this.cache.getMemory(this.map.digestHex(cid), this.map.size[cid]);
    if (d) this.stats.cacheHits++;
    return d;
  }

  /** The verified bytes of chunk `cid`. */
  chunk(cid: number, priority: Priority = "high"): Promise<Uint8Array> {
    return this.chunks([cid], priority).then((m) => m.get(cid)!);
  }

  /** The verified bytes of each chunk in `cids`, fetching the missing ones in as few requests as possible. */
  async chunks(cids: number[], priority: Priority): Promise<Map<number, Uint8Array>> {
    const out = new Map<number, Uint8Array>();
    const waits: Array<Promise<void>> = [];
    const missing: number[] = [];
    for (const cid of cids) {
      const mem = this.fromMemory(cid);
      if (mem) { out.set(cid, mem); continue; }
      const f = this.inflight.get(cid);
      if (f) {
        // A reader waiting on a background fetch: its verification must not queue behind background
        // work (raised now, or issued high once the bytes arrive), and the chunk is kept as the
        // reader's (not on probation).
        if (priority === "high") { this.wanted.add(cid); this.promoters.get(cid)?.(); }
        waits.push(f.then((d) => { out.set(cid, d); if (priority === "high") this.cache.remember?.(this.map.digestHex(cid), d); }));
        continue;
      }
      missing.push(cid);
    }
    if (missing.length) {
      if (priority === "high") this.highWaiting++;
      try {
        // The disk cache first (its reads are verified again), then the registry for what is left.
        const fromRegistry: number[] = [];
        await Promise.all(missing.map(async (cid) => {
          const d = await this.cache.get(this.map.digestHex(cid), this.map.size[cid], priority).catch(() => undefined);
          if (d) { this.stats.cacheHits++; out.set(cid, d); } else fromRegistry.push(cid);
        }));
        const pending = this.fetch(fromRegistry.filter((cid) => !out.has(cid)), priority);
        await Promise.all([...pending].map(async ([cid, p]) => { out.set(cid, await p); }));
      } finally {
        if (priority === "high" && --this.highWaiting === 0) this.wakeIdle();
      }
    }
    await Promise.all(waits);
    return out;
  }

  /** Resolves when no on-demand fetch is waiting (background work yields to reads). */
  whenIdle(): Promise<void> {
    if (this.highWaiting === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private wakeIdle(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  /** Fetches one blob range [start, end) and verifies every chunk whose member lies inside it. */
  async fetchRange(start: number, end: number, priority: Priority): Promise<void> {
    const first = this.map.firstAtOrAfter(start);
    let cids: number[] = [];
    for (let c = first; c < this.map.count && this.map.memberEnd[c] <= end; c++) {
      if (!this.inflight.has(c) && !this.cache.getMemory(this.map.digestHex(c), this.map.size[c])) cids.push(c);
    }
    // Chunks already on disk (a restarted store) are not fetched again.
    const has = this.cache.has;
    if ((this.cache.hasMany || has) && cids.length) {
      const hexes = cids.map((c) => this.map.digestHex(c));
      const onDisk = this.cache.hasMany
        ? await this.cache.hasMany(hexes).catch(() => hexes.map(() => false))
        : await Promise.all(hexes.map((hex) => has!.call(this.cache, hex).catch(() => false)));
      cids = cids.filter((c, i) => !onDisk[i] && !this.inflight.has(c));
      if (cids.length === 0) return;
      start = this.map.memberStart[cids[0]];
      end = Math.max(...cids.map((c) => this.map.memberEnd[c]));
    }
    if (cids.length === 0) return;
    const pending = this.issue([{ start, end, cids }], priority);
    await Promise.all([...pending.values()]);
    if (priority === "low") await Promise.all([...this.writes]);
  }

  // Plans requests for `cids` (none in flight or cached), registers them as in flight, and returns
  // each chunk's promise.
  private fetch(cids: number[], priority: Priority): Map<number, Promise<Uint8Array>> {
    const result = new Map<number, Promise<Uint8Array>>();
    const todo = cids.filter((cid) => {
      const f = this.inflight.get(cid);
      if (f) result.set(cid, f);
      return !f;
    }).sort((a, b) => a - b);
    if (todo.length === 0) return result;
    const { mergeGap, maxRequest } = this.opts;
    // The unit requests are widened to: a multiple of chunk_size (so still aligned to it) of at least
    // `minFetch` bytes — on a loopback or LAN registry 256 KiB cost about what 50 KB does, and a cold
    // walk over small files then needs a tenth of the round trips.
    const chunkSize = this.opts.chunkSize * Math.max(1, Math.ceil(this.opts.minFetch / this.opts.chunkSize));
    const m = this.map;
    // Merge close misses, then widen each range to chunk_size alignment.
    const ranges: Array<{ start: number; end: number; cids: number[] }> = [];
    for (const cid of todo) {
      const last = ranges[ranges.length - 1];
      if (last && m.memberStart[cid] <= last.end + mergeGap && m.memberEnd[cid] - last.start <= maxRequest) {
        last.end = Math.max(last.end, m.memberEnd[cid]);
        last.cids.push(cid);
      } else {
        ranges.push({ start: m.memberStart[cid], end: m.memberEnd[cid], cids: [cid] });
      }
    }
    for (const r of ranges) {
      const alignedStart = Math.floor(r.start / chunkSize) * chunkSize;
      const alignedEnd = Math.min(this.dataEnd, Math.ceil(r.end / chunkSize) * chunkSize);
      // Neighbours fully inside the aligned window come along (not already cached or in flight).
      const extra: number[] = [];
      for (let c = m.firstAtOrAfter(alignedStart); c < m.count && m.memberStart[c] < alignedEnd; c++) {
        if (m.memberEnd[c] > alignedEnd || r.cids.includes(c)) continue;
        if (this.inflight.has(c) || this.cache.getMemory(m.digestHex(c), m.size[c])) continue;
        extra.push(c);
      }
      const starts = [r.start, ...extra.map((c) => m.memberStart[c])];
      const ends = [r.end, ...extra.map((c) => m.memberEnd[c])];
      r.start = Math.min(...starts);
      r.end = Math.max(...ends);
      r.cids.push(...extra);
    }
    for (const [cid, p] of this.issue(ranges, priority)) result.set(cid, p);
    return result;
  }

  // Sends the requests (one multi-range request when possible) and verifies each chunk as its bytes
  // arrive. Every chunk of every range gets an in-flight promise that settles exactly once.
  private issue(ranges: Array<{ start: number; end: number; cids: number[] }>, priority: Priority): Map<number, Promise<Uint8Array>> {
    const result = new Map<number, Promise<Uint8Array>>();
    const settlers = new Map<number, { resolve(d: Uint8Array): void; reject(e: Error): void }>();
    for (const r of ranges) {
      for (const cid of r.cids) {
        const p = new Promise<Uint8Array>((resolve, reject) => settlers.set(cid, { resolve, reject }));
        p.catch(() => {}); // a failed opportunistic chunk nobody asked for is not an unhandled rejection
        this.inflight.set(cid, p);
        result.set(cid, p);
      }
    }
    const bodies = this.readRanges(ranges.map((r) => ({ offset: r.start, length: r.end - r.start })), priority);
    ranges.forEach((r, i) => {
      bodies.then((all) => all[i]).then((body) => {
        // one request for all ranges when they went out as a multi-range request, else one each
        this.stats.requests += ranges.length > 1 && this.source.readRanges ? (i === 0 ? 1 : 0) : 1;
        this.stats.bytes += body.length;
        this.verifyRange(r.cids, body, r.start, priority, settlers);
      }, (err: Error) => {
        const e = new Error(`${this.name}: fetching blob bytes ${r.start}-${r.end - 1} failed: ${err.message}`);
        for (const cid of r.cids) { this.inflight.delete(cid); this.wanted.delete(cid); settlers.get(cid)!.reject(e); }
      });
    });
    return result;
  }

  private readRanges(ranges: Array<{ offset: number; length: number }>, priority: Priority): Promise<Uint8Array[]> {
    if (ranges.length > 1 && this.source.readRanges) return this.source.readRanges(ranges, priority);
    return Promise.all(ranges.map((r) => this.source.read(r.offset, r.length, priority)));
  }

  // Verifies the chunks of one fetched range in batches of about BATCH_BYTES of output, each batch
  // one round trip to a worker with just its members' bytes; settles every chunk exactly once.
  private verifyRange(cids: number[], body: Uint8Array, bodyStart: number, priority: Priority,
    settlers: Map<number, { resolve(d: Uint8Array): void; reject(e: Error): void }>): void {
    const m = this.map;
    const sorted = [...cids].sort((a, b) => a - b);
    for (let i = 0; i < sorted.length;) {
      const batch: number[] = [];
      let bytes = 0;
      while (i < sorted.length && (batch.length === 0 || bytes + m.size[sorted[i]] <= BATCH_BYTES)) {
        bytes += m.size[sorted[i]];
        batch.push(sorted[i++]);
      }
      const bStart = m.memberStart[batch[0]];
      const bEnd = Math.max(...batch.map((c) => m.memberEnd[c]));
      // A batch that is the whole body (one big chunk) takes the body itself: a copy of megabytes
      // into fresh pages is not free. Otherwise each batch gets its own copy to transfer.
      const whole = bStart === bodyStart && bEnd === bodyStart + body.length && body.byteOffset === 0 && body.byteLength === body.buffer.byteLength;
      const part = whole ? body : body.slice(bStart - bodyStart, bEnd - bodyStart);
      const chunks = batch.map((c) => ({
        start: m.memberStart[c] - bStart, end: m.memberEnd[c] - bStart, innerOffset: m.innerOffset[c], size: m.size[c], digest: m.digest(c),
      }));
      const done = (cid: number, r: Uint8Array | string | Error) => {
        this.inflight.delete(cid);
        this.wanted.delete(cid);
        this.promoters.delete(cid);
        const s = settlers.get(cid)!;
        if (r instanceof Uint8Array) {
          this.stats.chunksVerified++;
          const put = this.cache.put(m.digestHex(cid), r, priority);
          if (put) this.writes.add(put.finally(() => this.writes.delete(put)));
          s.resolve(r);
        } else {
          s.reject(new Error(`${this.name}: chunk sha256:${m.digestHex(cid)} (blob offset ${m.memberStart[cid]}): ${typeof r === "string" ? r : r.message}`));
        }
      };
      const batchPriority = priority === "low" && batch.some((c) => this.wanted.has(c)) ? "high" : priority;
      const promotable = batchPriority === "low" ? (promote: () => void) => { for (const c of batch) this.promoters.set(c, promote); } : undefined;
      this.verify(part, chunks, batchPriority, promotable).then(
        (results) => batch.forEach((cid, k) => done(cid, results[k] ?? "no result")),
        (err: Error) => batch.forEach((cid) => done(cid, err)),
      );
    }
  }
}

