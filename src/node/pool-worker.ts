// The body of a CorePool worker: one core instance at a time, the operations of the table it was
// started with dispatched by name. After each task the instance is let go if it failed (trap, abort)
// or grew past CORE_KEEP_BYTES; the next task gets a fresh one, and a collection gives the old one's
// memory back now. A worker entry module calls `serveOps(table)` (e.g. src/store/store-worker.ts).
import { parentPort, workerData, type Transferable } from "node:worker_threads";
import { CoreSlot, loadCoreSync, type CoreDrop } from "../core/wasm.js";
import { gcFunction } from "./reclaim.js";
import { sendable } from "./transfer.js";

/** What an operation returns: its result, and the buffers to transfer back with it (never copied back). */
export interface OpOut<R> {
  result: R;
  transfer?: Transferable[];
}

/**
 * An operation: the worker's core slot (`cores.get()` is the live instance: a fresh one after a task
 * made the last one fail) and plain, structured-clonable arguments. What it returns never refers to
 * Wasm memory: the worker may replace the instance after the task.
 */
export type Op = (cores: CoreSlot, args: never) => OpOut<unknown>;
export type OpTable = Record<string, Op>;

/** A worker let its core instance go after a task: it failed (`reason`), or it held `bytes`. */
export interface CoreDropped {
  dropped: CoreDrop;
  bytes: number;
  reason?: string;
}

/** The shape of a worker's answer; errors carry what is needed to rebuild a CoreError. */
export interface WorkerReply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: { message: string; name: string; code?: number; position?: number };
  /** Wasm memory of the worker's core after the task (0: let go, the next task makes a fresh one). */
  coreBytes?: number;
  core?: CoreDropped;
}

/** Serves `ops` to the pool that started this worker thread. */
export function serveOps(ops: OpTable): void {
  const cores = new CoreSlot(() => loadCoreSync(workerData.module as WebAssembly.Module));
  const port = parentPort!;
  let gc: ReturnType<typeof gcFunction> | null = null;

  port.on("message", (msg: { id: number; op: string; args: unknown }) => {
    let reply: WorkerReply;
    let transfer: Transferable[] = [];
    try {
      const impl = Object.hasOwn(ops, msg.op) ? ops[msg.op] as (c: CoreSlot, a: unknown) => OpOut<unknown> : undefined;
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
}
