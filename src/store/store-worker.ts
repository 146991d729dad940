// Entry of the store's worker threads (CorePool in src/store/workers.ts starts them).
import { serveOps } from "../node/pool-worker.js";
import { storeOps } from "./worker-ops.js";

serveOps(storeOps);
