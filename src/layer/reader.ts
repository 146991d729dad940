// The read path of one layer: a read of a file → the chunks that hold it → memory cache, disk cache,
// or as few registry range requests as possible → verified bytes → the reader's buffer.
//
// * A chunk is fetched whole (its gzip member); the request is widened to `chunk_size` alignment in the
//   blob and every chunk whose member lies inside the widened range is verified and cached too, so
//   neighbouring small files come in the same request.
// * Misses whose members are close merge into one range; several ranges go out as one multi-range
//   request when the source supports it.
// * Concurrent requests for one chunk share one fetch (the in-flight map).
// * Nothing reaches the cache or a reader before `verify` (inflate + sha256 against the chunk digest, in
//   a worker thread) accepted it; a read is answered only from chunks that tile the requested range.
// * A chunk the map refuses (over `[blob] max_chunk_size`) is never fetched: asked for, it fails.
import type { TocIndex } from "../core/toc.js";
import { FsError } from "../util/errno.js";
import type { Priority } from "../util/priority.js";
import type { ChunkStore } from "./cache.js";
import type { ChunkMap } from "./chunkmap.js";
import type { RangeSource } from "./source.js";
import type { VerifyBatch } from "./verify.js";

export interface ReaderOptions {
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
/** …and for background work, which a read's batch may have to wait for in the worker. */
const LOW_BATCH_BYTES = 256 << 10;

/** A read starting this close to where the previous one of the file ended is sequential. */
const SEQUENTIAL_SLACK = 1 << 20;

export interface ReaderLog {
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export class ChunkReader {
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
  /** Reads wait for this first (the layer's prefetch), until it settles. */
  private gate: Promise<void> | undefined;
  /** Set when a check of the layer failed (its blob digest): every later read is EIO. */
  private failed: string | undefined;
  /** Where the last read of each recently read file ended (to recognise sequential readers). */
  private readonly readEnds = new Map<number, number>();

  constructor(
    private readonly index: TocIndex,
    private readonly map: ChunkMap,
    private readonly source: RangeSource,
    private readonly verify: VerifyBatch,
    private readonly cache: ChunkStore,
    private readonly opts: ReaderOptions,
    /** Blob offset where chunk data ends (the TOC member). */
    private readonly dataEnd: number,
    /** The layer digest, for messages. */
    private readonly name: string,
    private readonly log: ReaderLog,
  ) {}

  /** Reads wait until `work` settles (the prefetch: what it fetches is what they will ask for). */
  holdReadsUntil(work: Promise<void>): void {
    const gate = work.finally(() => { if (this.gate === gate) this.gate = undefined; });
    this.gate = gate;
  }

  /** From now on every read is EIO with `reason`. */
  fail(reason: string): void {
    this.failed = reason;
  }

  /** Why the layer's reads fail, once a check failed. */
  get failure(): string | undefined {
    return this.failed;
  }

  /**
   * Verified bytes of regular file `id` at `offset` into `into`; the count read (short at EOF). A read
   * within one chunk that the memory cache holds is answered at once, without a promise: most reads of
   * a warm layer are, and the promise machinery of the async path was a large part of their cost.
   */
  readFile(id: number, into: Uint8Array, offset: number, length: number): number | Promise<number> {
    if (this.failed) throw new FsError("EIO", this.failed);
    if (this.gate) return this.gate.then(() => this.readFileNow(id, into, offset, length));
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
    // The kernel's readahead sends several reads at once, not always in order: near enough counts. A
    // read far from the last end (a new pass from offset 0 included) starts a new sequence.
    const last = this.readEnds.get(id);
    const near = last !== undefined && Math.abs(offset - last) <= SEQUENTIAL_SLACK;
    const sequential = offset === 0 || near;
    this.readEnds.delete(id);
    this.readEnds.set(id, near ? Math.max(end, last) : end);
    if (this.readEnds.size > 256) this.readEnds.delete(this.readEnds.keys().next().value!);
    if (sequential && k1 + 1 < ix.chunkCount(id)) {
      const next = this.map.cid(id, k1 + 1);
      if (!this.inMemory(next) && !this.cache.readable(this.map.digestHex(next), this.map.size[next])) void this.chunk(next, "high").catch(() => {});
    }
    if (k0 !== k1) return this.readChunks(id, into, offset, end, k0, k1, cids);
    const cid = cids[0];
    const held = this.fromMemory(cid);
    if (held) return this.fill(id, into, offset, end, k0, k1, () => held);
    // A chunk the disk cache holds, checked: the bytes asked for go from its file straight into `into`.
    const cOff = ix.chunkOffset(id, k0);
    const cSize = this.map.size[cid];
    if (cOff > offset || cOff + cSize < end) throw this.tocFault(id, `chunk ${k0} (${cSize} bytes at ${cOff}) does not hold bytes ${offset}-${end - 1}`);
    const direct = this.cache.readInto(this.map.digestHex(cid), cSize, into, offset - cOff, end - offset);
    if (!direct) return this.readChunks(id, into, offset, end, k0, k1, cids);
    return direct.then((n) => {
      if (n === undefined) return this.readChunks(id, into, offset, end, k0, k1, cids);
      this.stats.cacheHits++;
      return n;
    });
  }

  // The read's chunks from wherever they are (memory, disk, the registry), then copied by `fill`.
  private async readChunks(id: number, into: Uint8Array, offset: number, end: number, k0: number, k1: number, cids: number[]): Promise<number> {
    const got = await this.chunks(cids, "high");
    return this.fill(id, into, offset, end, k0, k1, (k) => got.get(this.map.cid(id, k))!);
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
    const msg = `${this.name}: the TOC's chunks of ${JSON.stringify(this.index.name(id))} do not cover the file: ${what}`;
    this.log.warn("read refused: TOC chunk list does not add up", { layer: this.name, file: this.index.name(id), problem: what });
    return new FsError("EIO", msg);
  }

  /** Whether the memory cache holds chunk `cid` now (not counted as a hit). */
  inMemory(cid: number): boolean {
    return this.cache.hasMemory(this.map.digestHex(cid));
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
    for (const cid of cids) {
      const refused = this.map.refusal(cid);
      if (refused) throw new Error(`${this.name}: ${refused}`);
    }
    const out = new Map<number, Uint8Array>();
    const waits: Array<Promise<void>> = [];
    const missing: number[] = [];
    for (const cid of cids) {
      const mem = this.fromMemory(cid);
      if (mem) { out.set(cid, mem); continue; }
      const f = this.join(cid, priority);
      if (f) waits.push(f.then((d) => { out.set(cid, d); }));
      else missing.push(cid);
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

  // The fetch of `cid` already under way, if any. A reader (high) joining a background fetch: its
  // verification must not queue behind background work (raised now, or issued high once the bytes
  // arrive), and the chunk is kept as the reader's in memory (not on probation).
  private join(cid: number, priority: Priority): Promise<Uint8Array> | undefined {
    const f = this.inflight.get(cid);
    if (!f || priority === "low") return f;
    this.wanted.add(cid);
    this.promoters.get(cid)?.();
    return f.then((d) => { this.cache.remember(this.map.digestHex(cid), d); return d; });
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
      if (!this.inflight.has(c) && !this.map.refusal(c) && !this.cache.getMemory(this.map.digestHex(c), this.map.size[c])) cids.push(c);
    }
    // Chunks already on disk (a restarted store) are not fetched again.
    if (cids.length) {
      const onDisk = await this.cache.hasMany(cids.map((c) => this.map.digestHex(c))).catch(() => cids.map(() => false));
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
      const f = this.join(cid, priority);
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
        if (this.inflight.has(c) || m.refusal(c) || this.cache.getMemory(m.digestHex(c), m.size[c])) continue;
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
        // Out of the in-flight map at once: the next read of these chunks sends a new request.
        const e = new Error(`${this.name}: fetching blob bytes ${r.start}-${r.end - 1} failed: ${err.message}`, { cause: err });
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
      const limit = priority === "low" ? LOW_BATCH_BYTES : BATCH_BYTES;
      while (i < sorted.length && (batch.length === 0 || bytes + m.size[sorted[i]] <= limit)) {
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
      const done = (cid: number, r: Uint8Array | string | Error, onDisk = false) => {
        this.inflight.delete(cid);
        this.wanted.delete(cid);
        this.promoters.delete(cid);
        const s = settlers.get(cid)!;
        if (r instanceof Uint8Array) {
          this.stats.chunksVerified++;
          const put = this.cache.put(m.digestHex(cid), r, priority, onDisk);
          this.writes.add(put.finally(() => this.writes.delete(put)));
          s.resolve(r);
        } else {
          s.reject(new Error(`${this.name}: chunk sha256:${m.digestHex(cid)} (blob offset ${m.memberStart[cid]}): ${typeof r === "string" ? r : r.message}`));
        }
      };
      const batchPriority = priority === "low" && batch.some((c) => this.wanted.has(c)) ? "high" : priority;
      const promotable = batchPriority === "low" ? (promote: () => void) => { for (const c of batch) this.promoters.set(c, promote); } : undefined;
      this.verify(part, chunks, batchPriority, promotable).then(
        ({ results, onDisk }) => batch.forEach((cid, k) => done(cid, results[k] ?? "no result", onDisk?.[k])),
        (err: Error) => batch.forEach((cid) => done(cid, err)),
      );
    }
  }
}

