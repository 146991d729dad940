// Worker thread: inflates a blob's bytes as they are read (with its own Wasm core) and sends back the
// decompressed stream in ~1 MiB batches plus every member boundary; it hashes the stream (diffID) too
// when the main thread has more to do (balance.ts decides). One pass at a time; the worker is
// reused for the next layer. Output is bounded: while the main thread has more than OUTPUT_LIMIT bytes
// unprocessed this thread waits (Atomics), so a decompression bomb cannot fill memory. A pass that
// made the core fail (trap, abort) ends with an error, and the next pass gets a fresh instance.
import { createHash, type Hash } from "node:crypto";
import { parentPort } from "node:worker_threads";
import { BlobInflater, GzipFailure, type MemberBoundary } from "./members.js";
import { OUTPUT_LIMIT, type FromInflater, type ToInflater } from "./inflate-protocol.js";
import { sendable } from "../node/transfer.js";
import { settleNodeCore } from "../node/core.js";
import { OutputBatches } from "./batches.js";

const port = parentPort!;
let pass = -1;
let pending = new Int32Array(new SharedArrayBuffer(4)); // [0] = decompressed bytes posted, not yet processed
let inflater: BlobInflater | undefined;
let failed = false;
const out = new OutputBatches(() => flush());
let members: MemberBoundary[] = [];
let diff: Hash | undefined;
let size = 0;

function post(msg: FromInflater, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, sendable(transfer));
}

function flush(): void {
  if (out.length === 0 && members.length === 0) return;
  if (out.length === 0) {
    post({ type: "out", pass, bytes: new Uint8Array(0), members });
    members = [];
    return;
  }
  for (let cur = Atomics.load(pending, 0); cur > OUTPUT_LIMIT; cur = Atomics.load(pending, 0)) Atomics.wait(pending, 0, cur, 100);
  const bytes = out.take();
  Atomics.add(pending, 0, bytes.length);
  post({ type: "out", pass, bytes, members }, [bytes.buffer as ArrayBuffer]);
  members = [];
}

const sink = {
  output(view: Uint8Array): void {
    diff?.update(view);
    size += view.length;
    out.add(view);
  },
  member(m: MemberBoundary): void {
    members.push(m);
    if (members.length >= 4096) flush(); // many empty members must not pile up here either
  },
};

port.on("message", (msg: ToInflater) => {
  if (msg.type === "init") {
    inflater?.dispose();
    pass = msg.pass;
    pending = new Int32Array(msg.pending);
    failed = false;
    diff = msg.hashDiffId ? createHash("sha256") : undefined;
    size = 0;
    out.reset();
    members = [];
    try {
      inflater = new BlobInflater(sink, msg.start);
    } catch (err) {
      // the core could not even set up (out of memory): this pass fails, the next one gets a fresh core
      inflater = undefined;
      failed = true;
      settleNodeCore();
      post({ type: "error", pass, message: `inflater failed: ${(err as Error).message}`, position: -1 });
    }
    return;
  }
  if (msg.pass !== pass) return;
  try {
    if (failed) return;
    if (msg.type === "data") inflater!.push(msg.bytes);
    else {
      inflater!.end();
      flush();
      settleNodeCore();
      post({ type: "done", pass, diffId: diff ? "sha256:" + diff.digest("hex") : undefined, size });
    }
  } catch (err) {
    failed = true;
    settleNodeCore(); // the inflater of this pass keeps a failed instance; the next pass's is new
    flush();
    post(err instanceof GzipFailure
      ? { type: "error", pass, message: err.message, position: err.position }
      : { type: "error", pass, message: `inflater failed: ${(err as Error).message}`, position: -1 });
  } finally {
    if (msg.type === "data") post({ type: "consumed", pass, n: msg.bytes.length });
  }
});
