// The body of a CorePool worker: one core instance, operations dispatched by name.
import { parentPort, workerData, type Transferable } from "node:worker_threads";
import { loadCoreSync } from "../core/wasm.js";
import { ops, type OpName } from "./pool-ops.js";
import type { WorkerReply } from "./pool.js";
import { sendable } from "./transfer.js";

const core = loadCoreSync(workerData.module as WebAssembly.Module);
const port = parentPort!;

port.on("message", (msg: { id: number; op: OpName; args: unknown }) => {
  let reply: WorkerReply;
  let transfer: Transferable[] = [];
  try {
    const impl = ops[msg.op] as ((c: typeof core, a: unknown) => { result: unknown; transfer?: Transferable[] }) | undefined;
    if (!impl) throw new Error(`CorePool: unknown operation ${msg.op}`);
    const out = impl(core, msg.args);
    reply = { id: msg.id, ok: true, result: out.result };
    transfer = out.transfer ?? [];
  } catch (e) {
    const err = e as Error & { code?: number; position?: number };
    reply = {
      id: msg.id, ok: false,
      error: { message: err.message, name: err.name, code: typeof err.code === "number" ? err.code : undefined, position: err.position },
    };
  }
  try {
    port.postMessage(reply, sendable(transfer));
  } catch (e) {
    // A result that cannot be sent still answers the task: the pool must never wait for a lost reply.
    port.postMessage({ id: msg.id, ok: false, error: { message: `CorePool: result of ${msg.op} not sendable: ${(e as Error).message}`, name: "Error" } } satisfies WorkerReply);
  }
});
