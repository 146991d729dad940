// The operational pieces of `esgz-fast mount` assembled from a loaded config, so the command only
// adds the store and the FUSE mount: the logger (with the start-up notices), the metrics and their
// endpoint, the chunk cache under <root>/cache, readiness and the orderly stop.
import { join } from "node:path";
import { ChunkCache, type FilesExist, type HashHex } from "../cache/index.js";
import { BufferReclaimer } from "../node/reclaim.js";
import { createLogger, type Logger, type LineSink } from "../util/log.js";
import { ConfigError, storeLogger, usageText, type StoreConfig } from "./config.js";
import { StoreMetrics, startMetrics, type MetricsServer } from "./metrics.js";
import { signalReady, signalStopping, type NotifyOptions } from "./ready.js";

/** A full collection of dropped chunk buffers after this many bytes of new ones (see reclaim.ts). */
const RECLAIM_EVERY_BYTES = 8 << 20;

export interface OpsRuntime {
  readonly config: StoreConfig;
  readonly log: Logger;
  readonly metrics: StoreMetrics;
  readonly cache: ChunkCache;
  /** Asks V8 for collections: after every 8 MiB of new chunk buffers, and when the store frees a lot at once. */
  readonly reclaimer: BufferReclaimer;
  readonly metricsServer?: MetricsServer;
  /** Call once the mount answers: log line + sd_notify READY=1. */
  ready(): Promise<void>;
  /** STOPPING=1, metrics endpoint closed, pending cache writes flushed. Idempotent. */
  close(): Promise<void>;
}

export interface OpsOptions {
  /** The chunk hash for disk reads (default node:crypto on this thread). */
  hash?: HashHex;
  /** The disk cache's batch existence check (the store: one worker round trip per fetch window). */
  filesExist?: FilesExist;
  /** Where log lines go (default stderr). */
  sink?: LineSink;
  /** The logger, when made before (`storeLogger`: the mount is made first). */
  log?: Logger;
  notify?: NotifyOptions;
}

/** Builds the runtime; throws if the cache directory cannot be made or the metrics port is taken. */
export async function startOps(config: StoreConfig, opts: OpsOptions = {}): Promise<OpsRuntime> {
  const log = opts.log ?? storeLogger(config, opts.sink);
  const cacheDir = config.diskCache ? join(config.root, "cache") : undefined;
  let cacheRef: ChunkCache | undefined;
  const metrics = new StoreMetrics({ cacheBytes: () => cacheRef?.memoryBytes ?? 0 });
  // Dropped chunk buffers are collected every 8 MiB of new ones (the memory LRU's default bound):
  // without, V8 let them pile up to tens of MiB (src/node/reclaim.ts).
  const reclaimer = new BufferReclaimer(RECLAIM_EVERY_BYTES);
  const cache = await ChunkCache.open({
    dir: cacheDir,
    memoryBytes: config.memoryCacheBytes,
    hash: opts.hash,
    filesExist: opts.filesExist,
    onNewBytes: (bytes) => reclaimer.note(bytes),
    log: log.child({ component: "cache" }),
    events: metrics.cacheEvents,
  });
  cacheRef = cache;
  log.info("chunk cache", cacheDir ? { dir: cacheDir, memory_bytes: config.memoryCacheBytes } : { dir: "none (memory only)", memory_bytes: config.memoryCacheBytes });
  const metricsServer = await startMetrics(config, metrics, log);
  let closed: Promise<void> | undefined;
  return {
    config, log, metrics, cache, metricsServer, reclaimer,
    async ready() {
      await signalReady(config.mountpoint, log, opts.notify);
    },
    close() {
      closed ??= (async () => {
        await signalStopping(log, opts.notify);
        await metricsServer?.close();
        await cache.close();
      })();
      return closed;
    },
  };
}

/**
 * Reports a start-up failure the way stargz-store does (a fatal JSON log line on stderr; the usage
 * text too for a command-line mistake) and returns the exit code.
 */
export function reportStartupError(err: unknown, sink: LineSink = process.stderr): number {
  const log = createLogger({ level: "info", sink });
  if (err instanceof ConfigError) {
    log.fatal(err.message);
    if (err.exitCode === 2) sink.write(usageText());
    return err.exitCode;
  }
  log.fatal("failed to start", { error: err instanceof Error ? err.message : String(err) });
  return 1;
}
