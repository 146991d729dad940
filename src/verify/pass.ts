// The one sequential read: each piece of the blob is hashed (blob digest) on this thread and handed,
// without a copy, to the inflate worker; the decompressed stream comes back in order for the tar and
// chunk checks. The worker inflates while this thread hashes and checks: both cores busy.
import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";
import { INPUT_LIMIT, type FromInflater, type ToInflater } from "./inflate-protocol.js";
import { MAX_MEMBERS, MemberTable } from "./member-table.js";
import type { LayerBlob } from "./target.js";
import { sendable } from "../node/transfer.js";

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

/** Stops the shared worker (tests, benchmarks); the next pass starts a new one. */
export async function stopInflateWorker(): Promise<void> {
  const w = shared;
  shared = undefined;
  await w?.terminate();
}

/**
 * Reads `blob` once front to back. `consume` gets the decompressed stream (it must read it to the end)
 * and its result is returned with the blob digest, the member boundaries and any gzip or I/O error.
 */
export async function runPass<T>(
  blob: LayerBlob,
  consume: (decompressed: AsyncIterable<Uint8Array>, gzipFailed: () => boolean) => Promise<T>,
  onProgress?: (bytesRead: number) => void,
  opts: { diffIdOnMainThread?: boolean } = {},
): Promise<PassResult<T>> {
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
      const own = piece.byteOffset === 0 && piece.byteLength === piece.buffer.byteLength && piece.buffer instanceof ArrayBuffer ? piece : piece.slice();
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
