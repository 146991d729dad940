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
import { join } from "node:path";

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
    return join(this.dataDir, hex.slice(0, 2), hex);
  }

  /** A fresh temp name for a write of chunk `hex` (rename it to `pathOf(hex)` once complete). */
  tmpPathOf(hex: string): string {
    return join(this.tmpDir, `${hex}.${process.pid}.${randomBytes(6).toString("hex")}`);
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
    const tmp = this.tmpPathOf(hex);
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
