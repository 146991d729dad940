// The gzip side of verify: the core's streaming inflater over a whole blob, reporting every member's
// boundaries (compressed and decompressed offsets) and failing with the blob offset of the damage.
import { GzipStreamInflater } from "../core/inflate.js";
import { CoreError, type Core } from "../core/wasm.js";
import { nodeCore } from "../node/core.js";

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

/** Inflates blob bytes pushed in order from blob offset `start`; CRC-32 and ISIZE of every member checked. */
export class BlobInflater {
  private readonly inf: GzipStreamInflater;

  constructor(sink: MemberSink, private readonly start = 0, core: Core = nodeCore()) {
    this.inf = new GzipStreamInflater(core, {
      checkCrc: true,
      inputBytes: 256 << 10,
      outputChunk: 1 << 20,
      onData: (b) => sink.output(b),
      onMember: (m) => sink.member({
        cStart: start + m.compressedStart, cEnd: start + m.compressedEnd,
        dStart: m.decompressedStart, dEnd: m.decompressedEnd,
      }),
    });
  }

  push(piece: Uint8Array): void {
    this.guard(() => this.inf.push(piece));
  }

  /** No more input: throws if the stream ends inside a member. */
  end(): void {
    this.guard(() => this.inf.finish());
  }

  dispose(): void {
    this.inf.dispose();
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (err instanceof CoreError) {
        const at = this.start + Math.max(0, err.position);
        throw new GzipFailure(err.message.replace(/^inflate: /, "").replace(/ at byte \d+$/, ""), at); // the offset goes in `where`
      }
      throw err;
    }
  }
}
