// The one sequential read: each piece of the blob is hashed (blob digest) on this thread and handed,
// without a copy, to the inflate worker; the decompressed stream comes back in order for the tar and
// chunk checks. The worker inflates while this thread hashes and checks: both cores busy.
// A small blob is inflated on this thread instead (runInline): starting the worker costs more than
// the parallelism saves on it.
import { createHash } from "node:crypto";
import { stat } from "node:fs/promises";
import { Worker } from "node:worker_threads";
import { INPUT_LIMIT, OUTPUT_LIMIT, type FromInflater, type ToInflater } from "./inflate-protocol.js";
import { MAX_MEMBERS, MemberTable } from "./member-table.js";
import { BlobInflater, GzipFailure } from "./members.js";
import type { LayerBlob } from "./target.js";
import { sendable } from "../node/transfer.js";
import { OutputBatches } from "./batches.js";

export interface PassResult<T> {
  /** sha256 of the bytes read, "sha256:…" (undefined when the read failed). */
  digest?: string;
  bytesRead: number;
  /** Every gzip member, in blob order, up to the first gzip error. */
  members: MemberTable;
  gzipError?: { message: string; position: number };
  ioError?: string;
  /** sha256 and size of the decompressed stream (when it inflated to the end). */
  diffId?: string;
  uncompressedSize?: number;
  /** What the consumer of the decompressed stream returned. */
  consumed: T;
}

/** Pieces pushed by message handlers, pulled by an async consumer. */
class PieceQueue implements AsyncIterable<Uint8Array> {
  private items: Uint8Array[] = [];
  private closed = false;
  private wake: (() => void) | null = null;
  push(b: Uint8Array): void {
    this.items.push(b);
    this.wake?.();
  }
  close(): void {
    this.closed = true;
    this.wake?.();
  }
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const b = this.items.shift();
      if (b) {
        yield b;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
  }
}

// One worker for the process, started on first use (or early, by warmInflateWorker) and reused for
// every layer; unref'd between passes so it never keeps the process alive.
let shared: Worker | undefined;
let passes = 0;

function inflateWorker(): Worker {
  if (!shared) {
    const w = new Worker(new URL("./inflate-worker.js", import.meta.url));
    w.unref();
    w.on("error", () => {
      if (shared === w) shared = undefined;
    });
    w.on("exit", () => {
      if (shared === w) shared = undefined;
    });
    shared = w;
  }
  return shared;
}

/** Starts the worker now, so its start-up overlaps the tail read. */
export function warmInflateWorker(): void {
  inflateWorker();
}

/** Starts the worker now unless `input` names a blob file that runPass will inflate on this thread
 *  (a directory, a registry reference or no input at all: started). */
export async function warmInflateWorkerFor(input: string | undefined): Promise<void> {
  const st = input === undefined ? undefined : await stat(input).catch(() => undefined);
  if (st?.isFile() && inflatesHere(st.size)) return;
  inflateWorker();
}

/** Stops the shared worker (tests, benchmarks); the next pass starts a new one. */
export async function stopInflateWorker(): Promise<void> {
  const w = shared;
  shared = undefined;
  await w?.terminate();
}

/**
 * Blobs up to this many bytes are inflated on the main thread when no worker is running yet. 0 by
 * default: with a free core the worker wins on wall time even for small layers once it is warm, and
 * does not lose in a one-shot CLI (docs/decisions.md, "Verify: inline inflate only on request").
 * `ESGZ_VERIFY_INLINE_BYTES` sets it (e.g. 16777216 on a machine without a free core: saves the
 * worker's ~100 ms of start-up CPU).
 */
export const INLINE_BYTES = 0;

export function inflatesInline(blobSize: number): boolean {
  const env = process.env.ESGZ_VERIFY_INLINE_BYTES;
  const limit = env !== undefined && env !== "" && Number.isFinite(Number(env)) ? Number(env) : INLINE_BYTES;
  return limit > 0 && blobSize <= limit;
}

/** Whether runPass inflates a blob of this size on this thread: small enough, and no worker running
 *  yet (a running worker, started for an earlier larger layer, costs nothing more to use). */
export function inflatesHere(blobSize: number): boolean {
  return !shared && inflatesInline(blobSize);
}

type Consume<T> = (decompressed: AsyncIterable<Uint8Array>, gzipFailed: () => boolean) => Promise<T>;

/**
 * Reads `blob` once front to back. `consume` gets the decompressed stream (it must read it to the end)
 * and its result is returned with the blob digest, the member boundaries and any gzip or I/O error.
 */
export async function runPass<T>(
  blob: LayerBlob,
  consume: Consume<T>,
  onProgress?: (bytesRead: number) => void,
  opts: { diffIdOnMainThread?: boolean } = {},
): Promise<PassResult<T>> {
  if (inflatesHere(blob.size)) return runInline(blob, consume, onProgress);
  const diffHere = opts.diffIdOnMainThread ? createHash("sha256") : undefined;
  const worker = inflateWorker();
  const pass = ++passes;
  const pending = new SharedArrayBuffer(4);
  const pendingView = new Int32Array(pending);
  const queue = new PieceQueue();
  const members = new MemberTable();
  let gzipError: PassResult<T>["gzipError"];
  let inflight = 0;
  let credit: (() => void) | null = null;
  let workerDone!: () => void;
  const finished = new Promise<void>((r) => (workerDone = r));
  let crashed: Error | undefined;
  let diffId: string | undefined, uncompressedSize: number | undefined;
  let inflated = false; // the worker reached the end of the gzip stream

  const onMessage = (msg: FromInflater) => {
    if (msg.pass !== pass) return;
    switch (msg.type) {
      case "out":
        for (const m of msg.members) {
          if (!members.push(m) && !gzipError) {
            gzipError = { message: `more than ${MAX_MEMBERS} gzip members: refused (memory bound)`, position: m.cStart };
            queue.close();
            workerDone();
            void stopInflateWorker();
          }
        }
        if (msg.bytes.length) queue.push(msg.bytes);
        break;
      case "consumed":
        inflight -= msg.n;
        credit?.();
        break;
      case "error":
        gzipError = { message: msg.message, position: msg.position };
        queue.close();
        workerDone();
        break;
      case "done":
        diffId = msg.diffId;
        inflated = true;
        uncompressedSize = msg.size;
        queue.close();
        workerDone();
        break;
    }
  };
  const onError = (err: Error) => {
    crashed = err;
    queue.close();
    workerDone();
    credit?.();
  };
  worker.on("message", onMessage);
  worker.on("error", onError);
  worker.ref();

  // The consumer's view of the stream releases the worker's output budget as it pulls.
  async function* released(): AsyncIterable<Uint8Array> {
    for await (const b of queue) {
      diffHere?.update(b);
      Atomics.sub(pendingView, 0, b.length);
      Atomics.notify(pendingView, 0);
      yield b;
    }
  }
  const consumer = consume(released(), () => gzipError !== undefined);
  // A consumer that fails (a bug, not bad bytes: those are reported) must not leave the worker
  // waiting for it to drain: stop the worker and end the pass.
  consumer.catch((err: Error) => {
    crashed ??= err;
    queue.close();
    workerDone();
    credit?.();
    void stopInflateWorker();
  });

  const hash = createHash("sha256");
  let bytesRead = 0;
  let ioError: string | undefined;
  worker.postMessage({ type: "init", pass, start: 0, pending, hashDiffId: !diffHere } satisfies ToInflater);
  try {
    for await (const piece of blob.stream(0, blob.size)) {
      hash.update(piece);
      bytesRead += piece.length;
      onProgress?.(bytesRead);
      if (gzipError || crashed) continue; // keep hashing the blob; the worker has nothing left to do
      inflight += piece.length;
      // transfer without a copy when the piece owns its buffer; a view into a shared one is copied
      const own = piece.byteOffset === 0 && piece.byteLength === piece.buffer.byteLength && piece.buffer instanceof ArrayBuffer ? piece : new Uint8Array(piece); // a copy (Buffer#slice would be a view)
      worker.postMessage({ type: "data", pass, bytes: own } satisfies ToInflater, sendable([own.buffer as ArrayBuffer]));
      while (inflight > INPUT_LIMIT && !gzipError && !crashed) await new Promise<void>((r) => (credit = r));
      credit = null;
    }
    worker.postMessage({ type: "end", pass } satisfies ToInflater);
  } catch (err) {
    ioError = (err as Error).message;
    queue.close();
    workerDone();
  }
  try {
    await finished;
    const consumed = await consumer;
    if (crashed) throw crashed;
    if (inflated && diffHere) diffId = "sha256:" + diffHere.digest("hex"); // the consumer has drained the stream
    return { digest: ioError ? undefined : "sha256:" + hash.digest("hex"), bytesRead, members, gzipError, ioError, diffId, uncompressedSize, consumed };
  } finally {
    worker.off("message", onMessage);
    worker.off("error", onError);
    worker.unref();
    if (ioError) await stopInflateWorker(); // it may be mid-member of an abandoned pass
  }
}

/** Input handed to the inflater at a time on this thread: one call's output (at most ~1032× its input)
 *  then waits for the consumer, as the worker's does, so a decompression bomb stays bounded. */
const INLINE_SLICE = 16 << 10;

/** runPass without the worker: this thread reads, hashes, inflates (its own core) and checks in turn. */
async function runInline<T>(blob: LayerBlob, consume: Consume<T>, onProgress?: (bytesRead: number) => void): Promise<PassResult<T>> {
  const queue = new PieceQueue();
  const members = new MemberTable();
  const diff = createHash("sha256");
  let size = 0;
  let gzipError: PassResult<T>["gzipError"];
  let crashed: Error | undefined;
  let queued = 0; // decompressed bytes handed to the consumer and not yet pulled
  let drained: (() => void) | null = null;
  const flush = () => {
    if (out.length === 0) return;
    const b = out.take();
    queue.push(b);
    queued += b.length;
  };
  const out = new OutputBatches(flush);
  const inflater = new BlobInflater({
    output(view) {
      diff.update(view);
      size += view.length;
      out.add(view);
    },
    member(m) {
      if (!members.push(m)) throw new GzipFailure(`more than ${MAX_MEMBERS} gzip members: refused (memory bound)`, m.cStart);
    },
  });
  async function* released(): AsyncIterable<Uint8Array> {
    for await (const b of queue) {
      queued -= b.length;
      drained?.();
      yield b;
    }
  }
  const consumer = consume(released(), () => gzipError !== undefined);
  consumer.catch((err: Error) => {
    crashed ??= err;
    queue.close();
    drained?.();
  });
  const fail = (err: unknown) => {
    flush(); // the output before the damage is checked too, as from the worker
    gzipError = err instanceof GzipFailure
      ? { message: err.message, position: err.position }
      : { message: `inflater failed: ${(err as Error).message}`, position: -1 };
    queue.close();
  };

  const hash = createHash("sha256");
  let bytesRead = 0;
  let ioError: string | undefined;
  try {
    try {
      for await (const piece of blob.stream(0, blob.size)) {
        hash.update(piece);
        bytesRead += piece.length;
        onProgress?.(bytesRead);
        for (let o = 0; o < piece.length && !gzipError && !crashed; o += INLINE_SLICE) {
          try {
            inflater.push(piece.subarray(o, o + INLINE_SLICE));
          } catch (err) {
            fail(err);
          }
          while (queued > OUTPUT_LIMIT && !crashed) await new Promise<void>((r) => (drained = r));
          drained = null;
        }
      }
    } catch (err) {
      ioError = (err as Error).message;
      queue.close();
    }
    if (!ioError && !gzipError && !crashed) {
      try {
        inflater.end();
        flush();
        queue.close();
      } catch (err) {
        fail(err);
      }
    }
    const consumed = await consumer;
    if (crashed) throw crashed;
    const inflated = !ioError && !gzipError;
    return {
      digest: ioError ? undefined : "sha256:" + hash.digest("hex"), bytesRead, members, gzipError, ioError,
      diffId: inflated ? "sha256:" + diff.digest("hex") : undefined, uncompressedSize: inflated ? size : undefined, consumed,
    };
  } finally {
    inflater.dispose();
  }
}
