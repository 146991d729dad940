// The store's worker threads: inflate + hash (and the TOC's inflate) run there, each worker with its
// own Wasm core, a batch of chunks per round trip; reads a process waits on go first, background work
// never takes the last of several workers.
import { availableParallelism } from "node:os";
import { CorePool } from "../node/pool.js";
import type { StoreOps } from "./worker-ops.js";

/** The store's pool: its workers run `StoreOps` (worker-ops.ts). */
export type StorePool = CorePool<StoreOps>;

/**
 * The pool, with one worker booting at once (a Node thread's start-up takes tens of ms: begun first
 * thing in `mount`, it overlaps loading the store's modules and the kernel mount, and the first
 * lookup's TOC finds it up). One worker per core but the FUSE thread's (1–3; `ESGZ_WORKERS`
 * overrides): the FUSE thread is busy too while chunks are fetched (HTTP, copies, FUSE replies), and
 * each worker costs ~10 MiB RSS. On 2 cores, 1 worker against 2: peak RSS 154 against 170 MiB, cold
 * reads as fast or faster (bench:store). The core's module must be compiled before (`compileCoreModule`).
 */
export function storeWorkerPool(opts: { size?: number; warm?: boolean } = {}): StorePool {
  const workers = opts.size ?? Number(process.env.ESGZ_WORKERS ?? Math.max(1, Math.min(3, availableParallelism() - 1)));
  // "./store-worker.js" beside this module: dist/src/store/ unbundled, dist/bundle/ bundled.
  const pool = new CorePool<StoreOps>({ entry: new URL("./store-worker.js", import.meta.url), size: workers });
  if (opts.warm !== false) pool.warm(1);
  return pool;
}
