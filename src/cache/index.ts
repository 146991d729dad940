// The verified-chunk cache: a bytes-bounded memory LRU over a content-addressed disk directory.
//
// What goes in (`put`) has been verified by the caller against its sha256; what comes out of the disk
// (`get`) is verified again here through the injected hash function before it is served or kept in
// memory: a file that does not hash to its name (torn by a power loss, edited, bit rot) counts as a
// miss, is removed and logged, and is never returned. File I/O is fs/promises; hashing is the injected
// function, by default node:crypto on the calling thread (~2–8 ms per 4 MiB chunk read back from disk).
//
// Concurrency: two puts of one digest share one write; a get during a put is answered from the bytes
// being written; concurrent gets of one digest from disk share one read and one verification.
import { createHash } from "node:crypto";
import { DiskChunks } from "./disk.js";
import { ByteLru } from "./lru.js";
import type { Priority } from "../util/priority.js";

export { ByteLru } from "./lru.js";
export { DiskChunks } from "./disk.js";


/** sha256 of `data` as 64 lowercase hex digits. Must leave `data` usable (no transfer/detach). */
export type HashHex = (data: Uint8Array, priority: Priority) => Promise<string>;

/** Whether each file exists, in one step off the main thread (the store's worker pool). */
export type FilesExist = (paths: string[]) => Promise<boolean[]>;

/** What the cache reports, for metrics. */
export interface CacheEvents {
  hit(where: "memory" | "disk"): void;
  miss(where: "memory" | "disk"): void;
  /** A disk file failed verification (and was removed). */
  corrupt(): void;
}

export interface CacheLog {
  warn(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
}

/** Default bound of the memory LRU: keeps the store's peak RSS within 65 MiB. */
export const DEFAULT_MEMORY_CACHE_BYTES = 8 << 20;

/** Pending disk writes beyond this many bytes are dropped (the chunk stays in memory and can be refetched). */
const MAX_PENDING_WRITE_BYTES = 64 << 20;

export interface ChunkCacheOptions {
  /** The disk part's directory (`<root>/cache`); omitted = memory only. */
  dir?: string;
  /** Bound of the memory LRU in bytes (default 8 MiB). */
  memoryBytes?: number;
  hash?: HashHex;
  log?: CacheLog;
  events?: CacheEvents;
  /** fsync each chunk file before its rename (default false: see disk.ts). */
  fsync?: boolean;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Accepts "sha256:<hex>" or "<hex>"; anything else is a caller bug (it would become a path). */
export function chunkKey(digest: string): string {
  const hex = digest.startsWith("sha256:") ? digest.slice(7) : digest;
  if (!HEX64.test(hex)) throw new TypeError(`chunk cache: not a sha256 digest: ${JSON.stringify(digest)}`);
  return hex;
}

/**
 * node:crypto's SHA-256, on the calling thread. WebCrypto's `subtle.digest` (the default before)
 * looks asynchronous, but on Node 20 its synchronous part takes as long as this (measured: 2.9
 * against 2.7 ms for 4 MiB; in the store's profile of warm reads 293 against 272 ms), so it only
 * added a promise and a copy of the input.
 */
export const sha256Hex: HashHex = async (data) => createHash("sha256").update(data).digest("hex");

const noLog: CacheLog = { warn() {}, debug() {} };

export class ChunkCache {
  private readonly memory: ByteLru;
  private readonly writes = new Map<string, { data: Uint8Array; done: Promise<void> }>();
  private readonly reads = new Map<string, Promise<Uint8Array | undefined>>();
  private pendingBytes = 0;
  private readonly hash: HashHex;
  private filesExist: FilesExist | undefined;
  private newBytes: ((bytes: number) => void) | undefined;
  /** Chunks a worker has just written to disk (`chunkFile`); their `put` skips the disk. */
  private readonly writtenElsewhere = new Set<string>();
  /**
   * Chunk files this process wrote or verified, with their size: read back without hashing them
   * again (a file is hashed once per process: at its first read after a restart).
   */
  private readonly trusted = new Map<string, number>();
  private readonly log: CacheLog;
  private readonly events?: CacheEvents;

  private constructor(private readonly disk: DiskChunks | undefined, opts: ChunkCacheOptions) {
    this.memory = new ByteLru(opts.memoryBytes ?? DEFAULT_MEMORY_CACHE_BYTES);
    this.hash = opts.hash ?? sha256Hex;
    this.log = opts.log ?? noLog;
    this.events = opts.events;
  }

  /** Opens the cache; with `dir`, creates it and clears temp files left by a killed process. */
  static async open(opts: ChunkCacheOptions = {}): Promise<ChunkCache> {
    const disk = opts.dir === undefined ? undefined : await DiskChunks.open(opts.dir, opts.fsync);
    return new ChunkCache(disk, opts);
  }

  /** Called with the size of every chunk buffer the cache takes in (`put`, a disk read). */
  onNewBytes(listener: (bytes: number) => void): void {
    this.newBytes = listener;
  }

  /** Sets the batch existence check `hasMany` uses (default: one stat per chunk here). */
  useFilesExist(check: FilesExist): void {
    this.filesExist = check;
  }

  /**
   * Where chunk `digest` goes on disk, for a writer elsewhere (a worker) that writes `tmp` and renames
   * it to `path` — only with verified bytes; undefined for a memory-only cache.
   */
  chunkFile(digest: string): { path: string; tmp: string } | undefined {
    if (!this.disk) return undefined;
    const hex = chunkKey(digest);
    return { path: this.disk.pathOf(hex), tmp: this.disk.tmpPathOf(hex) };
  }

  /**
   * Chunk `digest` was written to `chunkFile(digest).path` by someone else (a worker, with verified
   * bytes): the `put` that follows keeps it in memory only.
   */
  noteWritten(digest: string): void {
    if (!this.disk) return;
    const hex = chunkKey(digest);
    this.writtenElsewhere.add(hex);
  }

  /** True when chunks are also kept on disk. */
  get persistent(): boolean {
    return this.disk !== undefined;
  }

  /** Bytes held by the memory LRU (≤ its bound). */
  get memoryBytes(): number {
    return this.memory.bytes;
  }

  /**
   * The memory part only, synchronously (no I/O): a hit is counted, a miss is left to `get`. An entry
   * of another size than `size` is not this chunk (a TOC claiming another size for a digest lies).
   */
  getMemory(digest: string, size: number): Uint8Array | undefined {
    const v = this.memory.get(chunkKey(digest));
    if (!v || v.byteLength !== size) return undefined;
    this.events?.hit("memory");
    return v;
  }

  /** Whether the memory part holds `digest` (no hit counted, recency unchanged). */
  hasMemory(digest: string): boolean {
    return this.memory.has(chunkKey(digest));
  }

  /**
   * The verified bytes of chunk `digest` of `size` bytes, from memory or disk, or undefined (an entry
   * or a file of another length is not this chunk: a miss, without hashing).
   */
  async get(digest: string, size: number, priority: Priority = "high"): Promise<Uint8Array | undefined> {
    const hex = chunkKey(digest);
    const mem = this.memory.get(hex);
    if (mem && mem.byteLength === size) {
      this.events?.hit("memory");
      return mem;
    }
    this.events?.miss("memory");
    if (!this.disk) return undefined;
    const writing = this.writes.get(hex);
    if (writing && writing.data.byteLength === size) {
      this.events?.hit("disk");
      return writing.data;
    }
    let read = this.reads.get(hex);
    if (!read) {
      read = this.readChecked(this.disk, hex, priority).finally(() => this.reads.delete(hex));
      this.reads.set(hex, read);
    }
    // A verified file of another size is the chunk of that digest, not the one asked for (the asker's
    // TOC gives the digest a size it does not have): a miss, and the file stays.
    const data = (await read)?.byteLength === size ? await read : undefined;
    this.events?.[data ? "hit" : "miss"]("disk");
    return data;
  }

  // The file's bytes, hashed against its name unless this process wrote or checked it already.
  private async readChecked(disk: DiskChunks, hex: string, priority: Priority): Promise<Uint8Array | undefined> {
    let data: Uint8Array | undefined;
    try {
      data = await disk.read(hex);
    } catch (err) {
      this.log.warn("chunk cache: read failed, treated as a miss", { chunk: `sha256:${hex}`, file: disk.pathOf(hex), error: err });
      return undefined;
    }
    if (!data) {
      this.trusted.delete(hex);
      return undefined;
    }
    this.newBytes?.(data.byteLength);
    if (this.trusted.get(hex) !== data.byteLength) {
      const actual = await this.hash(data, priority);
      if (actual !== hex) {
        this.trusted.delete(hex);
        this.events?.corrupt();
        this.log.warn("chunk cache: corrupt file removed, chunk will be fetched again", {
          chunk: `sha256:${hex}`, file: disk.pathOf(hex), found: `sha256:${actual}`,
        });
        await disk.remove(hex);
        return undefined;
      }
      this.trusted.set(hex, data.byteLength);
    }
    this.memory.set(hex, data, priority === "low");
    return data;
  }

  /** Whether `readInto` serves chunk `digest` of `size` bytes (its file was written or checked by this process). */
  readable(digest: string, size: number): boolean {
    return this.disk !== undefined && this.trusted.get(chunkKey(digest)) === size;
  }

  /**
   * Bytes [offset, offset + length) of chunk `digest` (of `size` bytes) straight from its file into
   * `into`, when this process wrote or checked that file; undefined when it did not, or the file is
   * gone (then `get` it: that checks the file). Warm reads of big chunks then cost one read each, not
   * a read and a hash of the whole chunk.
   */
  readInto(digest: string, size: number, into: Uint8Array, offset: number, length: number): Promise<number | undefined> | undefined {
    if (!this.readable(digest, size) || offset + length > size) return undefined;
    const disk = this.disk!;
    const hex = chunkKey(digest);
    return disk.readInto(hex, into, offset, length).then((n) => {
      if (n === length) {
        this.events?.hit("disk");
        return n;
      }
      this.trusted.delete(hex);
      return undefined;
    }, () => {
      this.trusted.delete(hex);
      return undefined;
    });
  }

  /**
   * Whether chunk `digest` is held (memory, a pending write, or a file on disk), without reading or
   * verifying it: for planners such as the background fetch. A true answer can still turn into a
   * miss in `get` if the file proves corrupt.
   */
  async has(digest: string): Promise<boolean> {
    const hex = chunkKey(digest);
    if (this.memory.has(hex) || this.writes.has(hex)) return true;
    return this.disk ? this.disk.exists(hex) : false;
  }

  /** `has` for many chunks at once (one worker round trip for the files when `useFilesExist` was set). */
  async hasMany(digests: string[]): Promise<boolean[]> {
    const hexes = digests.map(chunkKey);
    const out = hexes.map((hex) => this.memory.has(hex) || this.writes.has(hex));
    const disk = this.disk;
    if (!disk) return out;
    const ask = hexes.map((_, i) => i).filter((i) => !out[i]);
    if (ask.length === 0) return out;
    const found = this.filesExist
      ? await this.filesExist(ask.map((i) => disk.pathOf(hexes[i])))
      : await Promise.all(ask.map((i) => disk.exists(hexes[i])));
    ask.forEach((i, k) => { out[i] = found[k]; });
    return out;
  }

  /** Keeps verified bytes in memory only, as regular entries (a reader took them from a low-priority fetch). */
  remember(digest: string, data: Uint8Array): void {
    const hex = chunkKey(digest);
    if (this.memory.get(hex) === undefined) this.memory.set(hex, data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice());
  }

  /**
   * Keeps verified bytes: in memory at once, on disk in the background. Never rejects (a failed disk
   * write is logged: the chunk can be fetched again). The caller must not modify `data` afterwards.
   * Low-priority chunks (prefetch, background) are kept in memory only while they displace no other.
   */
  put(digest: string, data: Uint8Array, priority: Priority = "high"): Promise<void> {
    const hex = chunkKey(digest);
    // A view into a larger buffer would keep the whole buffer alive and defeat the memory bound.
    const owned = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
    this.newBytes?.(owned.byteLength);
    this.memory.set(hex, owned, priority === "low");
    if (!this.disk) return Promise.resolve();
    if (this.writtenElsewhere.delete(hex)) {
      this.trusted.set(hex, owned.byteLength); // a worker wrote these verified bytes
      return Promise.resolve();
    }
    const pending = this.writes.get(hex);
    if (pending) return pending.done;
    if (this.pendingBytes + owned.byteLength > MAX_PENDING_WRITE_BYTES) {
      this.log.debug("chunk cache: disk writes behind, chunk kept in memory only", { chunk: `sha256:${hex}` });
      return Promise.resolve();
    }
    this.pendingBytes += owned.byteLength;
    const done = this.writeOnce(this.disk, hex, owned).finally(() => {
      this.pendingBytes -= owned.byteLength;
      this.writes.delete(hex);
    });
    this.writes.set(hex, { data: owned, done });
    return done;
  }

  private async writeOnce(disk: DiskChunks, hex: string, data: Uint8Array): Promise<void> {
    try {
      if (await disk.exists(hex)) return; // content-addressed: the same name holds the same bytes (checked at its first read)
      await disk.write(hex, data);
      this.trusted.set(hex, data.byteLength);
    } catch (err) {
      this.log.warn("chunk cache: disk write failed, chunk kept in memory only", { chunk: `sha256:${hex}`, error: err });
    }
  }

  /** Resolves when every disk write started so far has finished. */
  async flush(): Promise<void> {
    while (this.writes.size) await Promise.all([...this.writes.values()].map((w) => w.done));
  }

  /** Flushes and empties the memory part. */
  async close(): Promise<void> {
    await this.flush();
    await this.disk?.close();
    this.memory.clear();
  }
}

