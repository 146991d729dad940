// The body of a CorePool worker: one core instance at a time, operations dispatched by name. After
// each task the instance is let go if it failed (trap, abort) or grew past CORE_KEEP_BYTES; the next
// task gets a fresh one, and a collection gives the old one's memory back now.
import { parentPort, workerData, type Transferable } from "node:worker_threads";
import { CoreSlot, loadCoreSync } from "../core/wasm.js";
import { ops, type OpName } from "./pool-ops.js";
import type { WorkerReply } from "./pool.js";
import { gcFunction } from "./reclaim.js";
import { sendable } from "./transfer.js";

const cores = new CoreSlot(() => loadCoreSync(workerData.module as WebAssembly.Module));
const port = parentPort!;
let gc: ReturnType<typeof gcFunction> | null = null;

port.on("message", (msg: { id: number; op: OpName; args: unknown }) => {
  let reply: WorkerReply;
  let transfer: Transferable[] = [];
  try {
    const impl = ops[msg.op] as ((c: CoreSlot, a: unknown) => { result: unknown; transfer?: Transferable[] }) | undefined;
    if (!impl) throw new Error(`CorePool: unknown operation ${msg.op}`);
    const out = impl(cores, msg.args);
    reply = { id: msg.id, ok: true, result: out.result };
    transfer = out.transfer ?? [];
  } catch (e) {
    const err = e as Error & { code?: number; position?: number };
    reply = {
      id: msg.id, ok: false,
      error: { message: err.message, name: err.name, code: typeof err.code === "number" ? err.code : undefined, position: err.position },
    };
  }
  const held = cores.memoryBytes;
  const reason = cores.failure;
  const dropped = cores.settle();
  if (dropped) {
    reply.core = { dropped, bytes: held, reason };
    // Wasm memory is freed with its instance object, which nothing else would collect soon.
    if (gc === null) gc = gcFunction();
    void gc?.({ type: "major", execution: "async" }).catch(() => {});
  }
  reply.coreBytes = cores.memoryBytes;
  try {
    port.postMessage(reply, sendable(transfer));
  } catch (e) {
    // A result that cannot be sent still answers the task: the pool must never wait for a lost reply.
    port.postMessage({ id: msg.id, ok: false, error: { message: `CorePool: result of ${msg.op} not sendable: ${(e as Error).message}`, name: "Error" }, core: reply.core, coreBytes: reply.coreBytes } satisfies WorkerReply);
  }
});
