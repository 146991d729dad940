// The eStargz writer: a tar (plain or gzip, stream or file) in, an eStargz blob out as a stream.
//
// Layout follows the reference writer (stargz-snapshotter's estargz.Build): the prefetch landmark
// comes first (or after the prioritized files), a new gzip member starts at every non-empty regular
// file payload and at every chunk boundary, a payload's member goes on with its padding and the
// following entries' headers, the TOC's tar entry (plus the end-of-archive blocks) is a member of
// its own, then the 51-byte footer. Input header blocks are copied unchanged.
//
// Members are independent, so they are gzipped in parallel on libuv's thread pool (node:zlib's async
// API, native zlib — faster than fflate's JS deflate at the same level) and written in order.
// Memory: the member being filled (≤ chunk size + headers, or + min chunk size when grouping) plus
// `concurrency` members in flight.
import { createHash, type Hash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, open, rm, type FileHandle } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip, gzip as gzipCb, gzipSync, type ZlibOptions } from "node:zlib";
import { EStargzError } from "./errors.js";
import { buildFooter } from "./footer.js";
import { BLOCK, encodeRegHeader, padding } from "./tar/header.js";
import { FileInput, StreamInput, type ByteInput } from "./tar/input.js";
import { TarReader, type TarEntry } from "./tar/reader.js";
import { checkWrittenToc } from "./toc-check.js";
import {
  cleanEntryName, formatModtime, LANDMARK_CONTENTS, NO_PREFETCH_LANDMARK, PREFETCH_LANDMARK,
  TOC_TAR_NAME, tocJson, type TocEntryJson,
} from "./toc-json.js";

export const DEFAULT_CHUNK_SIZE = 4 << 20;
/** gzip level 9, as the reference writer (gzip.BestCompression). */
export const DEFAULT_COMPRESSION_LEVEL = 9;

export interface WriterOptions {
  /** Largest decompressed size of one chunk of a regular file (default 4 MiB). */
  chunkSize?: number;
  /** gzip level 0-9 (default 9). */
  compressionLevel?: number;
  /**
   * Group small payloads: a payload joins the current gzip member (with `innerOffset`) while that
   * member holds fewer than this many uncompressed bytes. 0 (default) = a member per payload/chunk.
   * (The reference counts compressed bytes; we count uncompressed ones so members can be
   * compressed in parallel.)
   */
  minChunkSize?: number;
  /** Paths moved to the front, in this order (with their parent dirs and hardlink targets). */
  prioritizedFiles?: string[];
  /** Skip prioritized paths missing from the input instead of failing; they are reported. */
  allowMissingPrioritized?: boolean;
  /** gzip members in flight at once (default: the number of CPUs + 2, so the thread pool stays fed). */
  concurrency?: number;
  /**
   * Read the input through an index (a stream or a gzip is spooled to a temporary plain tar first),
   * as with prioritized files: later entries of a name replace earlier ones, as tar extraction (and
   * the reference writer) does. Without it the input is read once as a stream, and a tar with two
   * entries of one name is refused with a DuplicateNameError: the TOC may list each name once.
   */
  indexed?: boolean;
  /** Where to spool the input when prioritized files need random access (default os.tmpdir()). */
  tempDir?: string;
  /** Called as input is consumed: bytes of (uncompressed) tar read so far. */
  onProgress?: (tarBytesRead: number) => void;
}

export interface WriteResult {
  /** sha256 of the whole blob, "sha256:…". */
  digest: string;
  /** Blob size in bytes. */
  size: number;
  /** sha256 of the TOC JSON: the `containerd.io/snapshot/stargz/toc.digest` annotation. */
  tocDigest: string;
  /** sha256 of the decompressed blob. */
  diffId: string;
  /** Size of the decompressed blob: the `io.containers.estargz.uncompressed-size` annotation. */
  uncompressedSize: number;
  /** Offset of the TOC member. */
  tocOffset: number;
  /** Prioritized paths that were not in the input (only with allowMissingPrioritized). */
  missingPrioritized: string[];
}

/** A tar to convert: a file path (plain or gzip) or a stream of bytes (plain or gzip). */
export type TarInput = string | AsyncIterable<Uint8Array>;
/** Receives the blob in order; may return a promise for back-pressure. */
export type Sink = (bytes: Uint8Array) => unknown | Promise<unknown>;

const SMALL_MEMBER = 8 * 1024;
/**
 * Output goes to the sink in pieces of about this size: a layer of small files is a member per file,
 * and a sink call per member (a file write through libuv's pool, which the compression jobs share)
 * cost ~60 ms of a 600 ms conversion of 942 files.
 */
const OUT_BATCH = 1 << 20;

const sha256hex = (h: Hash): string => `sha256:${h.digest("hex")}`;

function gzipAsync(data: Uint8Array, opts: ZlibOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => gzipCb(data, opts, (err, out) => (err ? reject(err) : resolve(out))));
}

/** Builds gzip members in order, compresses them concurrently, writes them to the sink in order. */
class MemberStream {
  private buf: Uint8Array;
  private len = 0;
  private count = 0; // members started so far (index of the open one = count - 1 when open)
  private open = false;
  private inflight: Promise<Buffer>[] = [];
  /** Blob bytes not yet given to the sink (see OUT_BATCH). */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  readonly memberOffsets: number[] = [];
  written = 0;
  uncompressed = 0;
  readonly diff = createHash("sha256");
  readonly blob = createHash("sha256");

  constructor(private readonly sink: Sink, private readonly level: number, private readonly concurrency: number, initial: number) {
    this.buf = new Uint8Array(initial);
  }

  /** Index of the open member, opening one if none is. */
  current(): number {
    if (!this.open) {
      this.open = true;
      this.count++;
    }
    return this.count - 1;
  }

  /** Uncompressed bytes in the open member. */
  get currentLength(): number {
    return this.open ? this.len : 0;
  }

  append(bytes: Uint8Array): void {
    this.current();
    if (this.len + bytes.length > this.buf.length) {
      const grown = new Uint8Array(Math.max(this.buf.length * 2, this.len + bytes.length));
      grown.set(this.buf.subarray(0, this.len));
      this.buf = grown;
    }
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
    this.diff.update(bytes);
    this.uncompressed += bytes.length;
  }

  appendZeros(n: number): void {
    if (n > 0) this.append(new Uint8Array(n));
  }

  /** Ends the open member (if any) and queues it for compression. */
  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    // the compression job gets its own copy; the fill buffer is reused (no per-member allocation of
    // a whole chunk-sized buffer, which hurt layers of many small files)
    const data = this.buf.slice(0, this.len);
    this.len = 0;
    // Small members (headers, small files) are compressed right here: a thread-pool round trip costs
    // more than their deflate. Big ones go to the pool and overlap with reading the input.
    this.inflight.push(data.length < SMALL_MEMBER
      ? Promise.resolve(gzipSync(data, { level: this.level }))
      : gzipAsync(data, { level: this.level, chunkSize: Math.min(Math.max(data.length, 16384), 1 << 20) }));
    while (this.inflight.length >= this.concurrency) await this.writeOne();
  }

  private async writeOne(): Promise<void> {
    const out = await this.inflight.shift()!;
    this.memberOffsets.push(this.written);
    await this.raw(out);
  }

  /** Writes bytes that are not a queued member (the footer) after everything queued. */
  async raw(bytes: Uint8Array): Promise<void> {
    this.blob.update(bytes);
    this.written += bytes.length;
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    if (this.pendingBytes >= OUT_BATCH) await this.flush();
  }

  /** Hands what `raw` has collected to the sink (also the end of the blob). */
  async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const out = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    await this.sink(out);
  }

  async drain(): Promise<void> {
    while (this.inflight.length) await this.writeOne();
  }

  /** Rejections of queued jobs are surfaced by drain; on abort, keep them from going unhandled. */
  abandon(): void {
    for (const p of this.inflight) p.catch(() => {});
    this.inflight = [];
  }
}

interface PendingEntry {
  json: TocEntryJson;
  member: number; // -1: no payload
}

/** Reads the payload of the entry being written, in pieces. */
interface PayloadReader {
  read(n: number): Promise<Uint8Array>;
}

class Builder {
  readonly entries: PendingEntry[] = [];
  private lastUname = new Map<number, string>();
  private lastGname = new Map<number, string>();

  constructor(readonly out: MemberStream, readonly chunkSize: number, readonly minChunkSize: number) {}

  private nameIfChanged(map: Map<number, string>, id: number, name: string): string {
    if (name === "" || map.get(id) === name) return "";
    map.set(id, name);
    return name;
  }

  /** Writes one entry: its raw headers into the open member, its payload in chunk members. */
  async entry(e: TarEntry, payload: PayloadReader, forceNewMember = false): Promise<void> {
    if (e.name.split("/").includes("..")) {
      throw new EStargzError("tar", `tar entry ${JSON.stringify(e.name)}: a name with ".." is refused (its header goes into the layer unchanged, where readers reject it)`);
    }
    const json: TocEntryJson = {
      name: tocName(e.name),
      type: e.type,
      modtime: formatModtime(e.mtime),
      mode: e.mode,
      uid: e.uid,
      gid: e.gid,
      userName: this.nameIfChanged(this.lastUname, e.uid, e.uname),
      groupName: this.nameIfChanged(this.lastGname, e.gid, e.gname),
    };
    if (e.xattrs.size) json.xattrs = e.xattrs;
    if (e.type === "hardlink" || e.type === "symlink") json.linkName = e.linkName;
    if (e.type === "char" || e.type === "block") {
      json.devMajor = e.devMajor;
      json.devMinor = e.devMinor;
    }
    this.out.append(e.raw);
    if (e.type !== "reg") {
      this.entries.push({ json, member: -1 });
      return;
    }
    json.size = e.size;
    const fileHash = createHash("sha256");
    let ent: TocEntryJson = json;
    let written = 0;
    while (written < e.size) {
      const remain = e.size - written;
      const n = Math.min(remain, this.chunkSize);
      if (remain >= this.chunkSize) ent.chunkSize = this.chunkSize;
      let member: number;
      if (forceNewMember || this.minChunkSize <= 0 || this.out.currentLength >= this.minChunkSize) {
        await this.out.close();
        member = this.out.current();
      } else {
        member = this.out.current();
        ent.innerOffset = this.out.currentLength;
      }
      ent.chunkOffset = written;
      const bytes = await payload.read(n);
      if (bytes.length !== n) throw new EStargzError("tar", `input tar ends inside the payload of ${JSON.stringify(e.name)}`);
      this.out.append(bytes);
      fileHash.update(bytes);
      ent.chunkDigest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
      this.entries.push({ json: ent, member });
      written += n;
      ent = { name: e.name, type: "chunk" };
    }
    json.digest = sha256hex(fileHash);
    if (e.size === 0) this.entries.push({ json, member: -1 });
    this.out.appendZeros(padding(e.size));
  }

  /** The landmark file the reference writes: mode/owner/mtime 0, one byte 0x0f, own member. */
  async landmark(name: string): Promise<void> {
    const body = new Uint8Array([LANDMARK_CONTENTS]);
    const e: TarEntry = {
      raw: encodeRegHeader(name, 1), headerOffset: -1, payloadOffset: -1, name, type: "reg", mode: 0, uid: 0,
      gid: 0, uname: "", gname: "", size: 1, mtime: 0, linkName: "", devMajor: 0, devMinor: 0, xattrs: new Map(),
    };
    await this.entry(e, { read: async () => body }, true);
  }

  /** Closes the data, writes the TOC member and the footer; returns the TOC digest. */
  async finish(): Promise<{ tocDigest: string; tocOffset: number }> {
    await this.out.close();
    await this.out.drain();
    const offsets = this.out.memberOffsets;
    const toc = this.entries.map(({ json, member }) => (member >= 0 ? { ...json, offset: offsets[member] } : json));
    const text = Buffer.from(tocJson(toc), "utf8");
    const tocOffset = this.out.written;
    checkWrittenToc(text, tocOffset, toc);
    this.out.append(encodeRegHeader(TOC_TAR_NAME, text.length));
    this.out.append(text);
    this.out.appendZeros(padding(text.length) + 2 * BLOCK);
    await this.out.close();
    await this.out.drain();
    await this.out.raw(buildFooter(tocOffset));
    await this.out.flush();
    return { tocDigest: `sha256:${createHash("sha256").update(text).digest("hex")}`, tocOffset };
  }
}

/**
 * A streamed tar with two entries of one name. The TOC must list a name once (Go's reader would mix
 * the two files' chunks; our verify fails it) and the first entry's bytes are already written:
 * convert again with `indexed: true`.
 */
export class DuplicateNameError extends EStargzError {
  constructor(readonly entryName: string) {
    super("tar", `the tar has two entries named ${JSON.stringify(entryName)}; converting it needs the indexed mode (later entries replace earlier ones)`);
  }
}

/**
 * The TOC's name of a tar entry: the tar's own, as the reference writes it (`./a` stays `./a`), but an
 * absolute name cleaned as the reference's reader cleans it (`/abs/x` → `abs/x`), so that no TOC name
 * points outside the layer. The tar header keeps the name as it was.
 */
function tocName(name: string): string {
  return name.startsWith("/") ? cleanEntryName(name) : name;
}

/** Input names the writer drops: an existing TOC and landmarks (it writes its own). */
function reserved(name: string): boolean {
  const c = cleanEntryName(name);
  return c === TOC_TAR_NAME || c === PREFETCH_LANDMARK || c === NO_PREFETCH_LANDMARK;
}

async function peekGzip(input: TarInput): Promise<{ gzip: boolean; stream: AsyncIterable<Uint8Array> }> {
  if (typeof input === "string") {
    const fh = await open(input, "r");
    const head = new Uint8Array(3);
    try {
      await fh.read(head, 0, 3, 0);
    } finally {
      await fh.close();
    }
    return { gzip: head[0] === 0x1f && head[1] === 0x8b && head[2] === 8, stream: createReadStream(input, { highWaterMark: 1 << 20 }) };
  }
  const it = input[Symbol.asyncIterator]();
  let first = await it.next();
  while (!first.done && first.value.length === 0) first = await it.next();
  const head = first.done ? new Uint8Array(0) : first.value;
  const gzip = head.length >= 3 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 8;
  async function* rest(): AsyncGenerator<Uint8Array> {
    try {
      if (!first.done) yield first.value;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    } finally {
      await it.return?.(); // stopped early (an error, or data after the end of the archive): release the source
    }
  }
  return { gzip, stream: rest() };
}

function plainStream(gzip: boolean, stream: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  if (!gzip) return stream;
  const gunzip = createGunzip({ chunkSize: 1 << 20 });
  pipeline(stream, gunzip).catch((err) => gunzip.destroy(err));
  return gunzip;
}

function progressInput(input: ByteInput, onProgress?: (n: number) => void): ByteInput {
  if (!onProgress) return input;
  let last = 0;
  const report = () => {
    if (input.position - last >= 1 << 20) {
      last = input.position;
      onProgress(input.position);
    }
  };
  return {
    get position() { return input.position; },
    async read(n) { const b = await input.read(n); report(); return b; },
    async skip(n) { const k = await input.skip(n); report(); return k; },
  };
}

/**
 * Converts a tar (plain or gzip) into an eStargz blob written to `sink`.
 * Without prioritized files the input is read once as a stream; with them it is spooled to a
 * temporary plain tar (unless it already is a plain tar file) so entries can be reordered.
 */
export async function writeEStargz(input: TarInput, sink: Sink, opts: WriterOptions = {}): Promise<WriteResult> {
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const level = opts.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) throw new RangeError(`chunk size must be a positive integer, got ${chunkSize}`);
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new RangeError(`compression level must be 0-9, got ${level}`);
  const minChunkSize = opts.minChunkSize ?? 0;
  const concurrency = Math.max(2, opts.concurrency ?? availableParallelism() + 2);
  const out = new MemberStream(sink, level, concurrency, Math.min(chunkSize, 1 << 20) + 64 * 1024);
  const b = new Builder(out, chunkSize, minChunkSize);
  const prioritized = opts.prioritizedFiles ?? [];
  let missing: string[] = [];
  try {
    const { gzip, stream } = await peekGzip(input);
    if (prioritized.length === 0 && !opts.indexed) {
      const sin = new StreamInput(plainStream(gzip, stream));
      try {
        const tr = new TarReader(progressInput(sin, opts.onProgress));
        await b.landmark(NO_PREFETCH_LANDMARK);
        const payload = { read: (n: number) => tr.readPayload(n) };
        const seen = new Set<string>();
        for (let e = await tr.next(); e; e = await tr.next()) {
          for (const g of tr.pendingGlobal.splice(0)) out.append(g);
          if (reserved(e.name)) continue;
          const key = cleanEntryName(e.name);
          if (key !== "") { // the root's attributes may be given twice: the index keeps the last
            if (seen.has(key)) throw new DuplicateNameError(key);
            seen.add(key);
          }
          await b.entry(e, payload);
        }
      } finally {
        await sin.close(); // releases the input (file descriptor, gunzip) also when we stop early
      }
    } else {
      missing = await writeReordered(input, gzip, stream, b, prioritized, opts);
    }
    const { tocDigest, tocOffset } = await b.finish();
    return {
      digest: sha256hex(out.blob), size: out.written, tocDigest, diffId: sha256hex(out.diff),
      uncompressedSize: out.uncompressed, tocOffset, missingPrioritized: missing,
    };
  } catch (err) {
    out.abandon();
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("Z_")) {
      throw new EStargzError("tar", `input gzip stream is corrupt: ${(err as Error).message}`);
    }
    throw err;
  }
}

/** Prioritized (or indexed) mode: index a plain tar file, reorder as the reference does, write from positions. */
async function writeReordered(
  input: TarInput, gzip: boolean, stream: AsyncIterable<Uint8Array>, b: Builder, prioritized: string[], opts: WriterOptions,
): Promise<string[]> {
  let spoolDir: string | undefined;
  let path: string;
  if (typeof input === "string" && !gzip) {
    path = input;
    // the peek opened a read stream we will not use
    (stream as unknown as { destroy?: () => void }).destroy?.();
  } else {
    spoolDir = await mkdtemp(join(opts.tempDir ?? tmpdir(), "esgz-spool-"));
    path = join(spoolDir, "layer.tar");
    await pipeline(plainStream(gzip, stream), createWriteStream(path));
  }
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, "r");
    const tr = new TarReader(progressInput(new FileInput(fh), opts.onProgress));
    // index: later entries with the same name replace earlier ones (as the reference's importTar)
    const order: TarEntry[] = [];
    const byName = new Map<string, TarEntry>();
    const globals: Uint8Array[] = [];
    for (let e = await tr.next(); e; e = await tr.next()) {
      globals.push(...tr.pendingGlobal.splice(0));
      if (reserved(e.name)) continue;
      const key = cleanEntryName(e.name);
      const prev = byName.get(key);
      if (prev) order.splice(order.indexOf(prev), 1);
      byName.set(key, e);
      order.push(e);
    }
    const moved = new Set<TarEntry>();
    const sorted: TarEntry[] = [];
    const missing: string[] = [];
    const move = (name: string): boolean => {
      const key = cleanEntryName(name);
      const e = byName.get(key);
      if (key === "") {
        if (e && !moved.has(e)) { moved.add(e); sorted.push(e); }
        return true;
      }
      if (!e) return false;
      const parent = key.includes("/") ? key.slice(0, key.lastIndexOf("/")) : "";
      move(parent);
      if (e.type === "hardlink" && !moved.has(e)) move(e.linkName);
      if (!moved.has(e)) { moved.add(e); sorted.push(e); }
      return true;
    };
    for (const p of prioritized) {
      if (!move(p)) {
        if (!opts.allowMissingPrioritized) throw new EStargzError("tar", `prioritized file ${JSON.stringify(p)} is not in the input tar`);
        missing.push(p);
      }
    }
    // indexed only to drop replaced entries: laid out as the stream mode does, landmark first
    if (prioritized.length === 0) await b.landmark(NO_PREFETCH_LANDMARK);
    for (const g of globals) b.out.append(g);
    const data = new FileInput(fh);
    const payload = { read: async (n: number) => (await data.read(n)) };
    const emit = async (e: TarEntry) => {
      data.seek(e.payloadOffset);
      await b.entry(e, payload);
    };
    for (const e of sorted) await emit(e);
    if (prioritized.length > 0) await b.landmark(PREFETCH_LANDMARK);
    for (const e of order) if (!moved.has(e)) await emit(e);
    return missing;
  } finally {
    await fh?.close();
    if (spoolDir) await rm(spoolDir, { recursive: true, force: true });
  }
}

/** A sink writing to a file handle in order. */
export function fileSink(fh: FileHandle): Sink {
  return async (bytes) => {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await fh.write(bytes, done, bytes.length - done);
      done += bytesWritten;
    }
  };
}
