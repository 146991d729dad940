// The store's metrics and the HTTP endpoint that exposes them (`--metrics-address`, off with
// `no_prometheus`). Recording is a few Map updates per event, so the FUSE and fetch paths call it
// unconditionally; label values come from small fixed sets (operation names, errno names, cache
// kinds), never from digests or paths, so the number of series stays bounded.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { CallbackGauge, Counter, CONTENT_TYPE, Histogram, Registry } from "../util/prom.js";
import type { CacheEvents } from "../cache/index.js";
import type { Priority } from "../util/priority.js";

/** What a failed verification was about. */
export type VerificationKind = "chunk" | "toc" | "blob" | "cache";

const seconds = (startNs: bigint) => Number(process.hrtime.bigint() - startNs) / 1e9;

export class StoreMetrics {
  readonly registry = new Registry();
  readonly fetches = this.registry.register(new Counter("esgz_fetch_requests_total", "Range requests sent to registries, by priority (high = a reader waits, low = prefetch/background).", ["priority"]));
  readonly fetchErrors = this.registry.register(new Counter("esgz_fetch_errors_total", "Range requests that failed after their retries."));
  readonly fetchedBytes = this.registry.register(new Counter("esgz_fetch_bytes_total", "Blob bytes received from registries."));
  readonly fetchLatency = this.registry.register(new Histogram("esgz_fetch_duration_seconds", "Time from sending a range request to having its last byte.", ["priority"]));
  readonly cacheHits = this.registry.register(new Counter("esgz_cache_hits_total", "Chunk lookups answered by the cache, by cache (memory, disk).", ["cache"]));
  readonly cacheMisses = this.registry.register(new Counter("esgz_cache_misses_total", "Chunk lookups the cache could not answer, by cache (memory, disk).", ["cache"]));
  readonly verificationFailures = this.registry.register(new Counter("esgz_verification_failures_total", "Content that failed verification and was not served: chunk, toc, blob (whole-blob digest), cache (a corrupt disk cache file).", ["kind"]));
  readonly verifyLatency = this.registry.register(new Histogram("esgz_chunk_verify_duration_seconds", "Time to inflate and hash one chunk (worker pool, queueing included)."));
  readonly fuseOps = this.registry.register(new Counter("esgz_fuse_operations_total", "FUSE operations answered, by operation.", ["op"]));
  readonly fuseErrors = this.registry.register(new Counter("esgz_fuse_errors_total", "FUSE operations answered with an error (ENOENT on lookups included), by operation and errno name.", ["op", "errno"]));
  readonly fuseLatency = this.registry.register(new Histogram("esgz_fuse_operation_duration_seconds", "Time from a FUSE request to its answer, by operation.", ["op"]));
  readonly coreDrops = this.registry.register(new Counter("esgz_worker_core_replacements_total", "Worker core instances replaced after a task, by reason: failed (a trap or abort; that task failed) or memory (grown past 32 MiB by a big chunk).", ["reason"]));

  private workerCoreBytes: () => number = () => 0;

  constructor(extra: { cacheBytes?: () => number } = {}) {
    this.registry.register(new CallbackGauge("process_resident_memory_bytes", "Resident memory size in bytes.", () => process.memoryUsage.rss()));
    // Where the store's memory is, for an operator watching it grow: the JS heap, and the buffers
    // outside it (chunk bytes) that this thread holds.
    this.registry.register(new CallbackGauge("nodejs_heap_size_used_bytes", "V8 heap in use on the FUSE thread, in bytes.", () => process.memoryUsage().heapUsed));
    this.registry.register(new CallbackGauge("nodejs_external_memory_bytes", "Memory held by the FUSE thread outside the V8 heap (ArrayBuffers included), in bytes.", () => process.memoryUsage().external));
    const start = Math.floor(Date.now() / 1000 - process.uptime());
    this.registry.register(new CallbackGauge("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds.", () => start));
    if (extra.cacheBytes) this.registry.register(new CallbackGauge("esgz_cache_memory_bytes", "Bytes held by the in-memory chunk cache.", extra.cacheBytes));
    this.registry.register(new CallbackGauge("esgz_worker_core_memory_bytes", "Wasm memory held by the worker threads' core instances, as of their last tasks, in bytes.", () => this.workerCoreBytes()));
  }

  /** Where `esgz_worker_core_memory_bytes` reads the worker pool's Wasm memory at each scrape. */
  watchWorkerCores(bytes: () => number): void {
    this.workerCoreBytes = bytes;
  }

  /** One range request finished; `startNs` from `process.hrtime.bigint()`. */
  fetchDone(priority: Priority, startNs: bigint, bytes: number, failed = false): void {
    this.fetches.inc({ priority });
    if (failed) this.fetchErrors.inc();
    if (bytes > 0) this.fetchedBytes.inc(undefined, bytes);
    this.fetchLatency.observe({ priority }, seconds(startNs));
  }

  /** One chunk verification finished (successfully or not). */
  verifyDone(startNs: bigint, ok: boolean): void {
    this.verifyLatency.observe(undefined, seconds(startNs));
    if (!ok) this.verificationFailures.inc({ kind: "chunk" });
  }

  verificationFailed(kind: VerificationKind): void {
    this.verificationFailures.inc({ kind });
  }

  /** One FUSE operation answered; `errno` is the error's name ("ENOENT") or undefined on success. */
  fuseDone(op: string, startNs: bigint, errno?: string): void {
    this.fuseOps.inc({ op });
    if (errno) this.fuseErrors.inc({ op, errno });
    this.fuseLatency.observe({ op }, seconds(startNs));
  }

  /** The hooks to give the chunk cache (`ChunkCache.open({ events })`). */
  readonly cacheEvents: CacheEvents = {
    hit: (cache) => this.cacheHits.inc({ cache }),
    miss: (cache) => this.cacheMisses.inc({ cache }),
    corrupt: () => this.verificationFailures.inc({ kind: "cache" }),
  };
}

export interface MetricsServer {
  /** "http://host:port/metrics" */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Serves `GET /metrics` on `host:port` (port 0 = any free port). */
export function serveMetrics(metrics: StoreMetrics, address: { host: string; port: number }): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found; metrics are at /metrics\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    const body = metrics.registry.render();
    res.writeHead(200, { "content-type": CONTENT_TYPE, "content-length": Buffer.byteLength(body) });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(address.port, address.host, () => {
      server.off("error", reject);
      const port = (server.address() as AddressInfo).port;
      const host = address.host.includes(":") ? `[${address.host}]` : address.host;
      resolve({
        url: `http://${host}:${port}/metrics`,
        port,
        close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }),
      });
    });
  });
}

/**
 * Starts the endpoint as the config asks: none without `--metrics-address`, none with `no_prometheus`
 * (said in the log), else served and its URL logged.
 */
export async function startMetrics(
  cfg: { metricsAddress?: { host: string; port: number }; noPrometheus: boolean },
  metrics: StoreMetrics,
  log: { info(msg: string, fields?: Record<string, unknown>): void },
): Promise<MetricsServer | undefined> {
  if (!cfg.metricsAddress) return undefined;
  if (cfg.noPrometheus) {
    log.info("metrics endpoint not started: no_prometheus is set", { address: `${cfg.metricsAddress.host}:${cfg.metricsAddress.port}` });
    return undefined;
  }
  const server = await serveMetrics(metrics, cfg.metricsAddress);
  log.info("serving Prometheus metrics", { url: server.url });
  return server;
}
