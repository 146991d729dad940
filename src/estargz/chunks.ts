// Getting verified chunk bytes out of a blob for the reader (the library's and verify's; the store
// has its own read path, src/layer/): which blob ranges to read for a set of chunks (adjacent members
// in one read, each member only as far as its chunk can reach), and the pluggable `VerifyChunk`
// (inflate + sha256 compare; the core in this thread, or a worker pool).
import { EStargzError } from "./errors.js";
import type { Source } from "./source.js";

/** One chunk of a regular file, as the TOC index describes it. */
export interface ChunkRef {
  /** Blob offset of the gzip member holding the chunk. */
  memberOffset: number;
  /** Offset of the chunk's first byte in the decompressed member. */
  innerOffset: number;
  /** Decompressed size of the chunk (never 0). */
  size: number;
  /** Blob offset of the next member (or the TOC): the member's compressed end at the latest. */
  compressedEnd: number;
  /** sha256 of the chunk's bytes, 32 raw bytes. */
  digest: Uint8Array;
  /** For error messages: the file and the chunk's offset in it. */
  file: string;
  chunkOffset: number;
}

/**
 * Inflates `member` (compressed bytes starting at a member's gzip header), checks the sha256 of the
 * `size` bytes at `innerOffset` of its output against `digest`, and calls `use` with exactly those
 * bytes before resolving — `use` may be given a view that is only valid during the call (a view of
 * Wasm memory), so it copies what it keeps. Rejects with an error naming what failed (inflate
 * error, member too short, digest mismatch); `use` is then never called.
 */
export type VerifyChunk = (
  member: Uint8Array, innerOffset: number, size: number, digest: Uint8Array, use: (bytes: Uint8Array) => void,
) => Promise<void>;

/**
 * The most compressed bytes a member can need to yield `n` decompressed bytes from any sane deflate
 * encoder: stored blocks cost 5 bytes per ≤64 KiB, plus gzip header with optional fields. Reading no
 * further keeps a member that claims to run on for gigabytes (or trailing headers) from being read.
 */
export function maxCompressedFor(n: number): number {
  return n + 5 * Math.ceil(n / 16384) + 4096;
}

export interface ReadPlanOptions {
  /** Members closer than this are read in one source read (default 0: only touching ones). */
  mergeGap?: number;
  /** Upper bound of one source read (default 32 MiB). */
  maxRead?: number;
}

interface Member {
  start: number;
  end: number; // exclusive: where we stop reading
  chunks: number[]; // indexes into the request
}

/** Groups chunks by member and members into source reads. Exported for tests. */
export function planReads(chunks: ChunkRef[], blobSize: number, opts: ReadPlanOptions = {}): Array<{ offset: number; length: number; members: Member[] }> {
  const gap = opts.mergeGap ?? 0;
  const maxRead = opts.maxRead ?? 32 << 20;
  const byStart = new Map<number, Member>();
  chunks.forEach((c, i) => {
    if (!(c.memberOffset >= 0 && c.memberOffset < c.compressedEnd && c.compressedEnd <= blobSize)) {
      throw new EStargzError("chunk", `${c.file} @${c.chunkOffset}: member [${c.memberOffset}, ${c.compressedEnd}) is outside the blob's data (size ${blobSize})`);
    }
    const end = Math.min(c.compressedEnd, c.memberOffset + maxCompressedFor(c.innerOffset + c.size));
    const m = byStart.get(c.memberOffset);
    if (m) {
      m.end = Math.max(m.end, end);
      m.chunks.push(i);
    } else byStart.set(c.memberOffset, { start: c.memberOffset, end, chunks: [i] });
  });
  const members = [...byStart.values()].sort((a, b) => a.start - b.start);
  const reads: Array<{ offset: number; length: number; members: Member[] }> = [];
  for (const m of members) {
    const last = reads[reads.length - 1];
    const lastEnd = last ? last.offset + last.length : -1;
    if (last && m.start <= lastEnd + gap && Math.max(lastEnd, m.end) - last.offset <= maxRead) {
      last.length = Math.max(lastEnd, m.end) - last.offset;
      last.members.push(m);
    } else reads.push({ offset: m.start, length: m.end - m.start, members: [m] });
  }
  return reads;
}

/** Reads members straight from a `Source` and verifies every chunk with `verify`. */
export class SourceChunkProvider {
  constructor(
    private readonly source: Source,
    private readonly verify: VerifyChunk,
    private readonly opts: ReadPlanOptions = {},
  ) {}

  async withChunks(chunks: ChunkRef[], use: (i: number, bytes: Uint8Array) => void): Promise<void> {
    const reads = planReads(chunks, this.source.size, this.opts);
    await Promise.all(reads.map(async (r) => {
      const bytes = await this.source.read(r.offset, r.length);
      await Promise.all(r.members.flatMap((m) => m.chunks.map(async (i) => {
        const c = chunks[i];
        // each verification gets its own copy: a pool transfers (detaches) what it is given
        const member = r.members.length === 1 && m.chunks.length === 1 && m.start === r.offset && m.end === r.offset + r.length
          ? bytes
          : bytes.slice(m.start - r.offset, m.end - r.offset);
        try {
          await this.verify(member, c.innerOffset, c.size, c.digest, (data) => {
            if (data.length !== c.size) throw new Error(`verifier returned ${data.length} bytes, expected ${c.size}`);
            use(i, data);
          });
        } catch (err) {
          if (err instanceof EStargzError) throw err;
          throw new EStargzError("chunk", `${c.file} @${c.chunkOffset} (member at blob offset ${c.memberOffset}): ${(err as Error).message}`, this.source.name);
        }
      })));
    }));
  }
}
