// A layer blob in a local file: random reads through the format's FileSource, and a sequential stream
// of fresh buffers (so each piece can be transferred to a worker without a copy).
import { open } from "node:fs/promises";
import { FileSource } from "../estargz/source.js";
import { EStargzError } from "../estargz/errors.js";
import type { LayerBlob } from "./target.js";

/** Size of each sequential read: big enough that syscalls and messages are noise, small enough to pipeline. */
export const STREAM_PIECE = 1 << 20;

export class FileBlob implements LayerBlob {
  private constructor(private readonly src: FileSource) {}

  static async open(path: string): Promise<FileBlob> {
    return new FileBlob(await FileSource.open(path));
  }

  get size(): number {
    return this.src.size;
  }
  get name(): string {
    return this.src.name;
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    return this.src.read(offset, length);
  }

  async *stream(start: number, end: number): AsyncIterable<Uint8Array> {
    const fh = await open(this.src.name, "r");
    try {
      let pos = start;
      while (pos < end) {
        const buf = new Uint8Array(Math.min(STREAM_PIECE, end - pos));
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        if (bytesRead === 0) throw new EStargzError("io", `file ended at ${pos} bytes, expected ${end} (was it truncated while read?)`, this.name);
        pos += bytesRead;
        yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
      }
    } finally {
      await fh.close();
    }
  }

  close(): Promise<void> {
    return this.src.close();
  }
}
