// The on-disk half of the chunk cache: one file per verified chunk, named by the sha256 of its
// (decompressed) bytes, so a chunk shared by several layers or images is stored once.
//
//   <dir>/sha256/<first two hex digits>/<64 hex digits>    the chunk's bytes, nothing else
//   <dir>/tmp/<hex>.<pid>.<random>                          a write in progress
//
// A file appears under its final name only by rename(2) of a completely written temp file, so a
// reader never sees a partial chunk written by a live process. fsync is off by default: every read
// from disk is verified again (see ChunkCache), so a file torn by a power loss is detected, removed
// and fetched again; paying a flush per chunk would only save that refetch.
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink, type FileHandle } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Where chunk `hex` (64 lowercase hex digits, already validated) lives in the cache at `dir`. */
export const chunkPath = (dir: string, hex: string): string => join(dir, "sha256", hex.slice(0, 2), hex);
/** A fresh temp name for a write of chunk `hex` (renamed to `chunkPath` once complete). */
const tmpChunkPath = (dir: string, hex: string): string => join(dir, "tmp", `${hex}.${process.pid}.${randomBytes(6).toString("hex")}`);

// Shard directories made (or found) by this thread's synchronous writes.
const madeShards = new Set<string>();

/**
 * Writes verified chunk `hex` into the cache at `dir` synchronously, the same way `DiskChunks.write`
 * does (temp file, then rename): for a worker thread that verified the chunk and has nothing else
 * to do meanwhile. False when it was not written (the caller's cache writes it then).
 */
export function writeChunkSync(dir: string, hex: string, data: Uint8Array): boolean {
  const path = chunkPath(dir, hex);
  const tmp = tmpChunkPath(dir, hex);
  try {
    const shard = join(path, "..");
    if (!madeShards.has(shard)) { mkdirSync(shard, { recursive: true, mode: 0o700 }); madeShards.add(shard); }
    writeFileSync(tmp, data, { mode: 0o600, flag: "wx" });
    renameSync(tmp, path);
    return true;
  } catch {
    try { unlinkSync(tmp); } catch { /* never created */ }
    return false;
  }
}

/** Whether each chunk file exists, synchronously (a worker's batch check for `ChunkCache.hasMany`). */
export function chunksExistSync(dir: string, hexes: string[]): boolean[] {
  return hexes.map((hex) => existsSync(chunkPath(dir, hex)));
}

/** Chunk files kept open for reads into callers' buffers (as stargz-store's `max_cache_fds`). */
const OPEN_FILES = 16;

interface OpenFile {
  handle: Promise<FileHandle>;
  /** Reads under way on it: it is closed when evicted only once they are done. */
  busy: number;
  evicted: boolean;
}

export class DiskChunks {
  private readonly shards = new Set<string>();
  /** Recently read chunk files, least recently used first. */
  private readonly open = new Map<string, OpenFile>();
  private readonly tmpDir: string;
  private readonly dataDir: string;

  private constructor(readonly dir: string, private readonly fsync: boolean) {
    this.tmpDir = join(dir, "tmp");
    this.dataDir = join(dir, "sha256");
  }

  /** Creates the layout if needed and removes temp files a killed process left behind. */
  static async open(dir: string, fsync = false): Promise<DiskChunks> {
    const d = new DiskChunks(dir, fsync);
    await mkdir(d.dataDir, { recursive: true, mode: 0o700 });
    await rm(d.tmpDir, { recursive: true, force: true });
    await mkdir(d.tmpDir, { recursive: true, mode: 0o700 });
    return d;
  }

  /** Where chunk `hex` lives (`hex` must already be validated: 64 lowercase hex digits). */
  pathOf(hex: string): string {
    return chunkPath(this.dir, hex);
  }

  /** The stored bytes, or undefined if there is no file. Not verified here. */
  async read(hex: string): Promise<Uint8Array | undefined> {
    try {
      const buf = await readFile(this.pathOf(hex));
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  /**
   * Bytes [offset, offset + length) of chunk file `hex` into `into` (at its start); the count read,
   * short if the file is. The file stays open for the next reads (a few files at a time).
   */
  async readInto(hex: string, into: Uint8Array, offset: number, length: number): Promise<number> {
    let f = this.open.get(hex);
    if (f) {
      this.open.delete(hex);
      this.open.set(hex, f);
    } else {
      f = { handle: open(this.pathOf(hex), "r"), busy: 0, evicted: false };
      f.handle.catch(() => {});
      this.open.set(hex, f);
      for (const [k, old] of this.open) {
        if (this.open.size <= OPEN_FILES) break;
        this.open.delete(k);
        old.evicted = true;
        if (old.busy === 0) void old.handle.then((h) => h.close(), () => {});
      }
    }
    f.busy++;
    try {
      const h = await f.handle.catch((e: unknown) => { if (this.open.get(hex) === f) this.open.delete(hex); throw e; });
      let done = 0;
      while (done < length) {
        const { bytesRead } = await h.read(into, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done;
    } finally {
      if (--f.busy === 0 && f.evicted) void f.handle.then((h) => h.close(), () => {});
    }
  }

  /** Closes the files kept open. */
  async close(): Promise<void> {
    const files = [...this.open.values()];
    this.open.clear();
    for (const f of files) f.evicted = true;
    await Promise.all(files.filter((f) => f.busy === 0).map((f) => f.handle.then((h) => h.close(), () => {})));
  }

  async exists(hex: string): Promise<boolean> {
    try {
      await stat(this.pathOf(hex));
      return true;
    } catch {
      return false;
    }
  }

  /** Writes to a temp name, then renames into place. */
  async write(hex: string, data: Uint8Array): Promise<void> {
    const shard = hex.slice(0, 2);
    if (!this.shards.has(shard)) {
      await mkdir(join(this.dataDir, shard), { recursive: true, mode: 0o700 });
      this.shards.add(shard);
    }
    const tmp = tmpChunkPath(this.dir, hex);
    const fh = await open(tmp, "wx", 0o600);
    try {
      await fh.writeFile(data);
      if (this.fsync) await fh.sync();
    } catch (err) {
      await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw err;
    }
    await fh.close();
    try {
      await rename(tmp, this.pathOf(hex));
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
  }

  async remove(hex: string): Promise<void> {
    const f = this.open.get(hex);
    if (f) {
      this.open.delete(hex);
      f.evicted = true;
      if (f.busy === 0) void f.handle.then((h) => h.close(), () => {});
    }
    await unlink(this.pathOf(hex)).catch(() => {});
  }

  /** Number of chunk files and their total size (for operators' tools and tests). */
  async usage(): Promise<{ files: number; bytes: number }> {
    let files = 0, bytes = 0;
    for (const shard of await readdir(this.dataDir).catch(() => [] as string[])) {
      for (const name of await readdir(join(this.dataDir, shard)).catch(() => [] as string[])) {
        const s = await stat(join(this.dataDir, shard, name)).catch(() => undefined);
        if (s?.isFile()) { files++; bytes += s.size; }
      }
    }
    return { files, bytes };
  }
}
