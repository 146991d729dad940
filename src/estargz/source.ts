// Random-access sources of blob bytes: a local file and an in-memory buffer. The registry's blob
// reader implements the same interface and plugs into the reader unchanged.
import { open, type FileHandle } from "node:fs/promises";
import { EStargzError } from "./errors.js";

export interface Source {
  /** Size of the whole blob in bytes. */
  readonly size: number;
  /** Exactly `length` bytes at `offset`; rejects when the range is outside the blob or the read comes up short. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** A name for error messages (a path, a digest), when the source has one. */
  readonly name?: string;
}

/** Throws a range error unless [offset, offset+length) lies inside a blob of `size` bytes. */
export function checkRange(offset: number, length: number, size: number, name?: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new EStargzError("range", `read of ${length} bytes at offset ${offset} is outside the blob (size ${size})`, name);
  }
}

/** A blob in memory. `read` returns copies, so a caller may transfer or modify them freely. */
export class MemorySource implements Source {
  readonly size: number;
  constructor(private readonly data: Uint8Array, readonly name = "memory blob") {
    this.size = data.length;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(offset, length, this.size, this.name);
    return Uint8Array.prototype.slice.call(this.data, offset, offset + length); // a copy, also for a Buffer
  }
}

/** A blob in a local file, read with positional async reads (no sync I/O, no shared file position). */
export class FileSource implements Source {
  private constructor(private readonly fh: FileHandle, readonly size: number, readonly name: string) {}

  static async open(path: string): Promise<FileSource> {
    const fh = await open(path, "r");
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new EStargzError("io", "not a regular file", path);
      return new FileSource(fh, st.size, path);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(offset, length, this.size, this.name);
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.fh.read(out, done, length - done, offset + done);
      if (bytesRead === 0) {
        throw new EStargzError("io", `file ended after ${offset + done} bytes, expected ${offset + length} (was it truncated?)`, this.name);
      }
      done += bytesRead;
    }
    return out;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}
