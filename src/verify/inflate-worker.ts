// Worker thread: inflates one blob's bytes as they are read and sends back the decompressed stream in
// ~1 MiB batches plus every member boundary. Output is bounded: when the main thread has more than
// OUTPUT_LIMIT bytes unprocessed, this thread waits (Atomics) — a decompression bomb cannot fill memory.
import { parentPort } from "node:worker_threads";
import { BlobInflater, GzipFailure, type MemberBoundary } from "./members.js";
import type { ToInflater, FromInflater } from "./inflate-protocol.js";
import { OUTPUT_LIMIT, BATCH } from "./inflate-protocol.js";

const port = parentPort!;
let pending: Int32Array; // [0] = decompressed bytes posted but not yet processed by the main thread
let inflater: BlobInflater | undefined;
let failed = false;
let batch = new Uint8Array(BATCH);
let fill = 0;
let members: MemberBoundary[] = [];

function flush(): void {
  if (fill === 0 && members.length === 0) return;
  const bytes = batch.subarray(0, fill);
  // back-pressure: wait while the main thread is behind
  while (Atomics.load(pending, 0) > OUTPUT_LIMIT) Atomics.wait(pending, 0, Atomics.load(pending, 0), 50);
  Atomics.add(pending, 0, fill);
  const msg: FromInflater = { type: "out", bytes, members };
  port.postMessage(msg, [bytes.buffer as ArrayBuffer]);
  batch = new Uint8Array(BATCH);
  fill = 0;
  members = [];
}

const sink = {
  output(view: Uint8Array): void {
    let o = 0;
    while (o < view.length) {
      const n = Math.min(view.length - o, BATCH - fill);
      batch.set(view.subarray(o, o + n), fill);
      fill += n;
      o += n;
      if (fill === BATCH) flush();
    }
  },
  member(m: MemberBoundary): void {
    members.push(m);
  },
};

function fail(err: unknown): void {
  failed = true;
  flush();
  const msg: FromInflater =
    err instanceof GzipFailure
      ? { type: "error", message: err.message, position: err.position }
      : { type: "error", message: `inflater failed: ${(err as Error).message}`, position: -1 };
  port.postMessage(msg);
}

port.on("message", (msg: ToInflater) => {
  if (msg.type === "init") {
    pending = new Int32Array(msg.pending);
    inflater = new BlobInflater(sink, msg.start);
    return;
  }
  if (failed) {
    if (msg.type === "data") port.postMessage({ type: "consumed", n: msg.bytes.length } satisfies FromInflater);
    return;
  }
  try {
    if (msg.type === "data") {
      inflater!.push(msg.bytes);
      port.postMessage({ type: "consumed", n: msg.bytes.length } satisfies FromInflater);
    } else {
      inflater!.end();
      flush();
      port.postMessage({ type: "done" } satisfies FromInflater);
    }
  } catch (err) {
    if (msg.type === "data") port.postMessage({ type: "consumed", n: msg.bytes.length } satisfies FromInflater);
    fail(err);
  }
});
