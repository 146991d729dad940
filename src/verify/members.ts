// The gzip side of verify: a streaming inflater over a whole blob that reports every member's
// boundaries (compressed and decompressed offsets). TEMPORARY BACKEND: node:zlib, one member at a
// time from a buffered input, until src/core/inflate.ts's GzipStreamInflater lands; only this file
// changes then.
import { crc32, inflateRawSync } from "node:zlib";

export interface MemberBoundary {
  /** Compressed offsets in the blob: [cStart, cEnd). */
  cStart: number;
  cEnd: number;
  /** Decompressed offsets in the stream: [dStart, dEnd). */
  dStart: number;
  dEnd: number;
}

/** A malformed gzip stream: what and at which blob offset. */
export class GzipFailure extends Error {
  constructor(message: string, readonly position: number) {
    super(message);
    this.name = "GzipFailure";
  }
}

export interface MemberSink {
  /** Decompressed bytes in order; the view is only valid during the call. */
  output(bytes: Uint8Array): void;
  member(m: MemberBoundary): void;
}

export class BlobInflater {
  private buf = new Uint8Array(0);
  private base = 0; // blob offset of buf[0]
  private dpos = 0;

  constructor(private readonly sink: MemberSink, private readonly start = 0) {
    this.base = start;
  }

  push(piece: Uint8Array): void {
    const nb = new Uint8Array(this.buf.length + piece.length);
    nb.set(this.buf);
    nb.set(piece, this.buf.length);
    this.buf = nb;
    this.drain(false);
  }

  /** No more input: throws if a member is incomplete. */
  end(): void {
    this.drain(true);
  }

  private drain(final: boolean): void {
    for (;;) {
      if (this.buf.length === 0) return;
      const b = this.buf;
      const at = this.base;
      if (b.length < 18) {
        if (final) throw new GzipFailure(`gzip stream ends inside a member header (${b.length} bytes left)`, at);
        return;
      }
      if (b[0] !== 0x1f || b[1] !== 0x8b) throw new GzipFailure("not a gzip member header (bad magic)", at);
      if (b[2] !== 8) throw new GzipFailure(`gzip member header: compression method ${b[2]}, expected 8 (deflate)`, at);
      const flg = b[3];
      let p = 10;
      const need = (n: number) => {
        if (p + n > b.length) throw new Incomplete();
      };
      let body: Uint8Array, used: number;
      try {
        if (flg & 4) {
          need(2);
          const xlen = b[p] | (b[p + 1] << 8);
          p += 2;
          need(xlen);
          p += xlen;
        }
        for (const bit of [8, 16]) {
          if (flg & bit) {
            while (true) {
              need(1);
              if (b[p++] === 0) break;
            }
          }
        }
        if (flg & 2) {
          need(2);
          p += 2;
        }
        try {
          const r = inflateRawSync(b.subarray(p), { info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
          body = r.buffer;
          used = r.engine.bytesWritten;
        } catch (err) {
          if ((err as { code?: string }).code === "Z_BUF_ERROR") throw new Incomplete();
          throw new GzipFailure(`invalid deflate data in the member at ${at}: ${(err as Error).message}`, at + p);
        }
        p += used;
        need(8);
      } catch (err) {
        if (err instanceof Incomplete) {
          if (final) throw new GzipFailure(`gzip stream ends inside the member that starts at ${at} (truncated)`, at + b.length);
          return;
        }
        throw err;
      }
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const crc = dv.getUint32(p, true), isize = dv.getUint32(p + 4, true);
      if (crc32(body) !== crc) throw new GzipFailure(`CRC-32 mismatch in the member at ${at}: trailer says ${hex(crc)}, data has ${hex(crc32(body))}`, at + p);
      if ((body.length >>> 0) !== isize) throw new GzipFailure(`ISIZE mismatch in the member at ${at}: trailer says ${isize}, data has ${body.length}`, at + p + 4);
      p += 8;
      if (body.length) this.sink.output(body);
      this.sink.member({ cStart: at, cEnd: at + p, dStart: this.dpos, dEnd: this.dpos + body.length });
      this.dpos += body.length;
      this.base += p;
      this.buf = b.subarray(p);
    }
  }
}

class Incomplete extends Error {}

const hex = (n: number) => "0x" + n.toString(16).padStart(8, "0");
