// A pool worker for tests: the store's operations plus `sha256` (an operation only tests need: the
// generic pool's tests run it).
import { createHash } from "node:crypto";
import type { CoreSlot } from "../../src/core/wasm.js";
import { CorePool } from "../../src/node/pool.js";
import { serveOps, type OpOut } from "../../src/node/pool-worker.js";
import { storeOps } from "../../src/store/worker-ops.js";
import { isMainThread } from "node:worker_threads";

export const testOps = {
  ...storeOps,
  /** sha256 of `data`, hex. */
  sha256(_cores: CoreSlot, args: { data: Uint8Array }): OpOut<string> {
    return { result: createHash("sha256").update(args.data).digest("hex") };
  },
};

/** A pool whose workers run `testOps`. */
export const testPool = (size: number): CorePool<typeof testOps> => new CorePool({ entry: new URL(import.meta.url), size });

if (!isMainThread) serveOps(testOps);
