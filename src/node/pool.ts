// A pool of worker threads, each with its own instance of the Wasm core, so that inflate and hash work
// never runs on the thread that answers FUSE requests. Tasks are named operations of the table the worker entry serves (pool-worker.ts)
// with transferable inputs and outputs: a buffer crosses the thread boundary by transfer, not by copy.
// A worker replaces its instance after a task that made it fail or grow past CORE_KEEP_BYTES
// (pool-worker.ts): that task alone fails.
//
// Two priorities: "high" for reads a process is waiting on, "low" for prefetch and background fetch.
// A low task never starts while a high one is queued, and at least one worker is always left for high
// tasks when the pool has more than one worker (see `lowLimit`).
import { Worker, type Transferable } from "node:worker_threads";
import { availableParallelism } from "node:os";
import { coreModule } from "./core.js";
import type { CoreDropped, OpTable, WorkerReply } from "./pool-worker.js";
import { CoreError } from "../core/wasm.js";
import { sendable } from "./transfer.js";
import type { Priority } from "../util/priority.js";


interface Task {
  id: number;
  op: string;
  args: unknown;
  transfer: Transferable[];
  resolve(v: unknown): void;
  reject(e: Error): void;
}

interface Slot {
  worker: Worker;
  task?: Task;
  lowPriority: boolean;
  /** Wasm memory of the worker's core after its last task. */
  coreBytes: number;
}

/** What `onCoreDropped` listeners get: the drop and the operation of the task. */
export type CoreDropEvent = CoreDropped & { op: string };

/** The arguments and the result of operation `K` of a table. */
export type OpArgs<Ops extends OpTable, K extends keyof Ops> = Parameters<Ops[K]>[1];
export type OpResult<Ops extends OpTable, K extends keyof Ops> = ReturnType<Ops[K]>["result"];

export interface PoolOptions {
  /** The worker entry module: it calls `serveOps(table)` with the operations `Ops` (pool-worker.ts). */
  entry: URL;
  /** Number of worker threads; default: the machine's parallelism, at least 1. */
  size?: number;
  /** At most this many workers run low-priority tasks at once; default size - 1 (min 1). */
  lowLimit?: number;
}

/** A pool of worker threads, each with its own core instance, running the operations `Ops` of its entry. */
export class CorePool<Ops extends OpTable> {
  readonly size: number;
  private readonly lowLimit: number;
  private readonly slots: Slot[] = [];
  private readonly high: Task[] = [];
  private readonly low: Task[] = [];
  private nextId = 1;
  private closed = false;
  private dropListener: ((e: CoreDropEvent) => void) | undefined;

  private readonly entry: URL;

  constructor(opts: PoolOptions) {
    this.entry = opts.entry;
    this.size = Math.max(1, opts.size ?? availableParallelism());
    this.lowLimit = Math.max(1, Math.min(this.size, opts.lowLimit ?? this.size - 1));
  }

  /**
   * Runs `op` in a worker. Buffers listed in `transfer` are moved (detached here). `promotable` gets,
   * at once, a function that moves this task to the high queue if it is still waiting as a low one
   * (someone now waits on work that was started in the background).
   */
  run<K extends keyof Ops & string>(op: K, args: OpArgs<Ops, K>, opts: { priority?: Priority; transfer?: Transferable[]; promotable?: (promote: () => void) => void } = {}): Promise<OpResult<Ops, K>> {
    if (this.closed) return Promise.reject(new Error("CorePool: closed"));
    return new Promise<OpResult<Ops, K>>((resolve, reject) => {
      const task: Task = {
        id: this.nextId++, op, args, transfer: opts.transfer ?? [],
        resolve: resolve as (v: unknown) => void, reject,
      };
      (opts.priority === "low" ? this.low : this.high).push(task);
      opts.promotable?.(() => {
        const i = this.low.indexOf(task);
        if (i < 0) return;
        this.low.splice(i, 1);
        this.high.push(task);
        this.dispatch();
      });
      this.dispatch();
    });
  }

  /**
   * Starts workers now (up to `n`, never more than `size`) instead of on the first task: a worker
   * takes tens of milliseconds to boot, which then overlap with whatever the caller does meanwhile.
   */
  warm(n = 1): void {
    if (this.closed) return;
    while (this.slots.length < Math.min(n, this.size)) this.spawn();
  }

  /** Tasks waiting for a worker. */
  get queued(): number {
    return this.high.length + this.low.length;
  }

  /** Wasm memory held by the workers' core instances, as of their last tasks. */
  get coreMemoryBytes(): number {
    return this.slots.reduce((sum, s) => sum + s.coreBytes, 0);
  }

  /** Called whenever a worker let its core instance go after a task (failed, or grown too large). */
  onCoreDropped(listener: (e: CoreDropEvent) => void): void {
    this.dropListener = listener;
  }

  /** Terminates the workers; queued and running tasks are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new Error("CorePool: closed");
    for (const t of [...this.high.splice(0), ...this.low.splice(0)]) t.reject(err);
    await Promise.all(this.slots.map(async (s) => {
      s.task?.reject(err);
      s.task = undefined;
      s.worker.ref(); // an unref'd worker would let the process exit before termination completes
      await s.worker.terminate();
    }));
    this.slots.length = 0;
  }

  private dispatch(): void {
    while (this.high.length || this.low.length) {
      const slot = this.idleSlot();
      if (!slot) return;
      let task = this.high.shift();
      if (!task) {
        const busyLow = this.slots.filter((s) => s.task && s.lowPriority).length;
        if (busyLow >= this.lowLimit) return;
        task = this.low.shift()!;
        slot.lowPriority = true;
      } else {
        slot.lowPriority = false;
      }
      try {
        slot.worker.postMessage({ id: task.id, op: task.op, args: task.args }, sendable(task.transfer));
      } catch (e) {
        // Arguments that cannot be sent (a detached buffer, say) fail this task, not the slot.
        task.reject(e instanceof Error ? e : new Error(String(e)));
        continue;
      }
      slot.task = task;
      slot.worker.ref();
    }
  }

  private idleSlot(): Slot | undefined {
    const idle = this.slots.find((s) => !s.task);
    if (idle) return idle;
    if (this.slots.length < this.size) return this.spawn();
    return undefined;
  }

  private spawn(): Slot {
    const worker = new Worker(this.entry, { workerData: { module: coreModule() } });
    const slot: Slot = { worker, lowPriority: false, coreBytes: 0 };
    worker.on("message", (reply: WorkerReply) => this.settle(slot, reply));
    worker.on("error", (err) => this.lose(slot, err));
    worker.on("exit", (code) => {
      if (!this.closed) this.lose(slot, new Error(`CorePool: worker exited with code ${code}`));
    });
    worker.unref();
    this.slots.push(slot);
    return slot;
  }

  private settle(slot: Slot, reply: WorkerReply): void {
    const task = slot.task;
    slot.task = undefined;
    slot.worker.unref(); // an idle pool must not keep the process alive
    if (reply.coreBytes !== undefined) slot.coreBytes = reply.coreBytes;
    if (reply.core && task) this.dropListener?.({ ...reply.core, op: task.op });
    if (task && task.id === reply.id) {
      if (reply.ok) task.resolve(reply.result);
      else task.reject(rebuildError(reply.error!));
    }
    this.dispatch();
  }

  // A worker that died (its thread, not its core: a core that fails is replaced inside the worker)
  // is replaced; its task fails.
  private lose(slot: Slot, err: Error): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    this.slots.splice(i, 1);
    slot.task?.reject(new Error(`CorePool: worker failed: ${err.message}`));
    slot.task = undefined;
    void slot.worker.terminate();
    this.dispatch();
  }
}

function rebuildError(e: NonNullable<WorkerReply["error"]>): Error {
  if (e.name === "CoreError") return new CoreError(e.message, e.code ?? -1, e.position ?? -1);
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}
