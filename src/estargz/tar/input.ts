// Sequential byte input for the tar parser: exact-length reads over an async stream of pieces (a
// Node stream, a gunzip stream) or over a file at positions. Memory is bounded by the largest read.
import type { FileHandle } from "node:fs/promises";
import { EStargzError } from "../errors.js";

export interface ByteInput {
  /** Exactly `n` bytes, or fewer only at the end of input (then the caller decides if that is an error). */
  read(n: number): Promise<Uint8Array>;
  /** Skips `n` bytes; returns how many were skipped (fewer only at the end). */
  skip(n: number): Promise<number>;
  /** Bytes consumed so far. */
  readonly position: number;
}

export class StreamInput implements ByteInput {
  private it: AsyncIterator<Uint8Array>;
  private pieces: Uint8Array[] = [];
  private buffered = 0;
  private ended = false;
  position = 0;

  constructor(stream: AsyncIterable<Uint8Array>) {
    this.it = stream[Symbol.asyncIterator]();
  }

  private async fill(n: number): Promise<void> {
    while (this.buffered < n && !this.ended) {
      const r = await this.it.next();
      if (r.done) {
        this.ended = true;
        break;
      }
      const piece = r.value instanceof Uint8Array ? r.value : new Uint8Array(r.value as ArrayBuffer);
      if (piece.length) {
        this.pieces.push(piece);
        this.buffered += piece.length;
      }
    }
  }

  private take(n: number, copy: boolean): Uint8Array | null {
    n = Math.min(n, this.buffered);
    const first = this.pieces[0];
    let out: Uint8Array | null = null;
    if (first && first.length >= n) {
      if (copy) out = first.subarray(0, n);
      if (first.length === n) this.pieces.shift();
      else this.pieces[0] = first.subarray(n);
    } else {
      out = copy ? new Uint8Array(n) : null;
      let done = 0;
      while (done < n) {
        const p = this.pieces[0];
        const k = Math.min(p.length, n - done);
        if (out) out.set(p.subarray(0, k), done);
        if (k === p.length) this.pieces.shift();
        else this.pieces[0] = p.subarray(k);
        done += k;
      }
    }
    this.buffered -= n;
    this.position += n;
    return out ?? new Uint8Array(0);
  }

  async read(n: number): Promise<Uint8Array> {
    await this.fill(n);
    return this.take(n, true)!;
  }

  /** Stops reading: the underlying stream is closed (destroyed) if it was not consumed to its end. */
  async close(): Promise<void> {
    if (!this.ended) {
      this.ended = true;
      await this.it.return?.();
    }
    this.pieces = [];
    this.buffered = 0;
  }

  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      await this.fill(Math.min(left, 1 << 20));
      if (this.buffered === 0) break;
      const k = Math.min(left, this.buffered);
      this.take(k, false);
      left -= k;
    }
    return n - left;
  }
}

/** Reads a file from a start position through its own read-ahead buffer (positional reads, async). */
export class FileInput implements ByteInput {
  private buf = new Uint8Array(0);
  private bufPos = 0; // file offset of buf[0]
  constructor(private readonly fh: FileHandle, public position = 0, private readonly readAhead = 1 << 20) {}

  async read(n: number): Promise<Uint8Array> {
    const inBuf = this.position - this.bufPos;
    if (inBuf >= 0 && inBuf + n <= this.buf.length) {
      const out = this.buf.subarray(inBuf, inBuf + n);
      this.position += n;
      return out;
    }
    const want = Math.max(n, this.readAhead);
    const b = new Uint8Array(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await this.fh.read(b, got, want - got, this.position + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    this.buf = b.subarray(0, got);
    this.bufPos = this.position;
    const k = Math.min(n, got);
    this.position += k;
    return this.buf.subarray(0, k);
  }

  async skip(n: number): Promise<number> {
    this.position += n;
    return n;
  }

  seek(position: number): void {
    this.position = position;
  }
}

export async function readExact(input: ByteInput, n: number, what: string): Promise<Uint8Array> {
  const b = await input.read(n);
  if (b.length !== n) {
    throw new EStargzError("tar", `input tar ends inside ${what} (at offset ${input.position}, ${n - b.length} bytes missing)`);
  }
  return b;
}
