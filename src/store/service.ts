// Puts the store together from a `StoreConfig`: registry client, chunk cache under `<root>/cache`,
// TOC reader, verification off the main thread, the layer store, the ALS file system and its mount.
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { MountedFs } from "../fs/fuse.js";
import { EStargzReader, readTocMember, type ReaderDeps } from "../estargz/reader.js";
import { EStargzError } from "../estargz/errors.js";
import type { Source } from "../estargz/source.js";
import { TocIndex } from "../core/toc.js";
import { chainCredentialProviders, EngineCredentials, fileCredentialProvider, RegistryClient } from "../registry/index.js";
import { compileCoreModule, newNodeCore, nodeCore, settleNodeCore } from "../node/core.js";
import { holdWasmTierUp } from "../node/tiering.js";
import type { OpsRuntime } from "./ops.js";
import { LayerStore } from "./store.js";
import type { ImageLayer, ResolvedImage } from "./image.js";
import { BindingTable } from "./bindings.js";
import type { StorePool } from "./workers.js";
import type { StoreMount } from "./mountpoint.js";
import type { Priority } from "../util/priority.js";
import type { RangeSource } from "../layer/source.js";
import type { VerifyBatch } from "../layer/verify.js";

/** The background fetch of a newly opened layer starts after this long without a FUSE request… */
const BACKGROUND_QUIET_MS = 20;
/** …or this long after the open, whichever comes first. */
const BACKGROUND_MAX_WAIT_MS = 250;

export interface RunningStore {
  store: LayerStore;
  mount: MountedFs;
  /**
   * Credentials from the engine (an AddCredential request's data, see credential-socket.ts): kept in
   * memory, before the auth files. Throws, without quoting the data, when it is malformed.
   */
  addCredentials(data: Uint8Array): void;
  /** Unmounts, stops background work, closes connections. */
  close(): Promise<void>;
}

/** TOC members up to this size are inflated and hashed on the FUSE thread (~1 ms), bigger ones in a worker. */
const INLINE_TOC_MEMBER_BYTES = 64 << 10;

/**
 * A TOC JSON of this size or more is indexed in a scratch core and the index moved into one sized
 * to it (the JSON and the build's slack then go with the scratch core: a Wasm memory never shrinks).
 */
const MOVED_INDEX_JSON_BYTES = 4 << 20;

/** Chunks smaller than this of a background batch are written to the disk cache by the worker. */
const WORKER_WRITE_MAX = 256 << 10;

/**
 * Builds the store behind `given.mount` (mountpoint.ts: mounted already), using the operational
 * runtime's log, metrics and chunk cache, and `given.pool` (from `storeWorkerPool`), which it owns
 * from then on.
 */
export async function startStore(ops: Pick<OpsRuntime, "config" | "log" | "metrics" | "cache" | "reclaimer">, given: { pool: StorePool; mount: StoreMount }): Promise<RunningStore> {
  const { config: cfg, log, metrics } = ops;
  // The core is compiled first (read and compiled off the event loop; a few ms): a module compiled
  // while tier-up is held would never tier up. Then held until the first registry answer has been
  // parsed: see src/node/tiering.ts (undici's parser).
  await compileCoreModule();
  const releaseTierUp = holdWasmTierUp();
  await mkdir(cfg.root, { recursive: true });
  const poolDir = join(cfg.root, "pool");
  await mkdir(poolDir, { recursive: true });
  // Verified blob copies live while their layer is open; a killed store's leftovers go.
  const blobDir = join(cfg.root, "blobs");
  await rm(blobDir, { recursive: true, force: true });
  await mkdir(blobDir, { recursive: true, mode: 0o700 });
  const bindings = await BindingTable.open(join(cfg.root, "bindings.json"), log);
  const b = cfg.blob;
  // Engine-given credentials first, then the auth files (and the credential helpers they name), then anonymous.
  const engineCredentials = new EngineCredentials();
  const registry = new RegistryClient({
    resolver: cfg.resolver,
    credentials: chainCredentialProviders(engineCredentials.provider, fileCredentialProvider({ log: log.child({ component: "credentials" }) })),
    blob: {
      max_retries: b.maxRetries, min_wait_msec: b.minWaitMsec, max_wait_msec: b.maxWaitMsec,
      fetching_timeout_sec: b.fetchingTimeoutSec, force_single_range_mode: b.forceSingleRangeMode,
    },
  });
  // ops.cache (ChunkCache) is the store's ChunkStore (memory, pending writes, disk).
  const cache = ops.cache;
  // Inflate + hash run in worker threads (src/store/workers.ts).
  const pool = given.pool;
  // A worker replaces its core after a task that made it fail (that task alone fails) or grew it
  // past CORE_KEEP_BYTES (a big chunk): src/node/pool-worker.ts.
  metrics.watchWorkerCores(() => pool.coreMemoryBytes);
  pool.onCoreDropped((e) => {
    metrics.coreDrops.inc({ reason: e.dropped });
    if (e.dropped === "failed") log.warn("worker core failed during a task and was replaced; only that task failed", { op: e.op, error: e.reason });
    else log.debug("worker core replaced after a task grew it", { op: e.op, bytes: e.bytes });
  });
  const cacheDir = cache.dir;
  const verify: VerifyBatch = (body, chunks, priority, promotable) => {
    const t0 = process.hrtime.bigint();
    // Background batches' small chunks are written to the disk cache by the worker itself (nobody
    // waits for them; hundreds of small files cost the FUSE thread an async round trip per file
    // operation). Big chunks are written by the cache on libuv's threads: the worker (one on two
    // cores) is what a cold reader of a big file waits for.
    const write = priority === "low" && cacheDir ? chunks.map((c) => c.size < WORKER_WRITE_MAX) : undefined;
    return pool.run("verifyChunks", { body, chunks, cacheDir: write && cacheDir, write }, { priority, transfer: [body.buffer as ArrayBuffer], promotable })
      .then((out) => {
        for (const r of out.results) metrics.verifyDone(t0, typeof r !== "string");
        return out;
      });
  };
  // The TOC member is inflated, taken out of its tar header and checked against the TOC digest (here
  // when small, else in a worker: `readToc`); the index is built on this thread (every FUSE lookup
  // reads it), each layer's in a core instance of its own: a failure while building one never
  // reaches another's, and a dropped layer's memory goes with it (a Wasm memory never shrinks). A big
  // TOC is indexed in a scratch instance (the TOC JSON, the build's slack) and moved into one sized to
  // the index; collections follow that build and each drop (`layerDropped`), so that V8 unmaps those
  // memories (and the TOC JSON's buffer, once the open that holds it has returned: hence the
  // setImmediate) now.
  const reclaimer = ops.reclaimer;
  const layerIndex = (json: Uint8Array, tocOffset: number): TocIndex => {
    // A small TOC's build leaves little behind: its index is built where it stays.
    if (json.length < MOVED_INDEX_JSON_BYTES) return TocIndex.build(newNodeCore(), json, { tocOffset });
    const index = TocIndex.build(newNodeCore(), json, { tocOffset }).moveTo(newNodeCore());
    setImmediate(() => reclaimer.collect(2));
    return index;
  };
  const tocDeps: ReaderDeps<TocIndex> = {
    // A small TOC member (most layers': ~50 bytes an entry) is read here, in well under a millisecond:
    // the first lookup then does not wait for a worker thread to boot. Bigger ones go to a worker.
    readToc: async (member, tocOffset, maxToc, expected, name) => member.length <= INLINE_TOC_MEMBER_BYTES
      ? readTocHere(member, tocOffset, maxToc, expected, name)
      : pool.run("readToc", { member, tocOffset, maxToc, expected, name }, { priority: "high", transfer: [member.buffer as ArrayBuffer] }),
    buildIndex: layerIndex,
    // The store reads files through src/layer, not the eStargz reader; this keeps the reader whole.
    verifyChunk: async (member, innerOffset, size, digest, use) => {
      const own = Uint8Array.prototype.slice.call(member); // transferred: a copy (a Buffer's slice() is a view)
      const { results: [r] } = await verify(own, [{ start: 0, end: own.length, innerOffset, size, digest }], "high");
      if (typeof r === "string") throw new EStargzError("chunk", r);
      use(r);
    },
  };

  // A lookup that opens a layer is followed at once by its listing (readdir, stat and getxattr of
  // every entry): the layer's background fetch (cache checks of every chunk, range requests,
  // verification round trips) waits until FUSE has been quiet for a moment, so they do not compete.
  const activity = new FuseActivity();
  const store = new LayerStore({
    async resolve(ref: string): Promise<ResolvedImage> {
      const img = await registry.resolveImage(ref).finally(releaseTierUp);
      const rootfs = img.config.rootfs as { diff_ids?: unknown } | undefined;
      const diffIds = Array.isArray(rootfs?.diff_ids) ? rootfs.diff_ids as string[] : [];
      if (diffIds.length !== img.layers.length) {
        throw new Error(`config of ${ref} lists ${diffIds.length} diff_ids for ${img.layers.length} layers`);
      }
      return {
        image: `${img.ref.registry}/${img.ref.repository}@${img.manifestDigest}`,
        layers: img.layers.map((l, i) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType, annotations: l.annotations, diffId: diffIds[i] })),
      };
    },
    async blobSource(image: string, layer: ImageLayer): Promise<RangeSource> {
      const reader = await registry.openBlob(image, layer.digest, layer.size);
      if (!metrics) return reader;
      // Count range requests and their bytes for the metrics.
      const timed = <T extends Uint8Array | Uint8Array[]>(p: Promise<T>, t0: bigint, priority: Priority): Promise<T> => p.then(
        (r) => { metrics.fetchDone(priority, t0, Array.isArray(r) ? r.reduce((s, x) => s + x.length, 0) : r.length); return r; },
        (e: Error) => { metrics.fetchDone(priority, t0, 0, true); throw e; },
      );
      return {
        size: reader.size,
        read: (offset, length, priority = "high") => timed(reader.read(offset, length), process.hrtime.bigint(), priority),
        readRanges: (ranges, priority = "high") => timed(reader.readRanges(ranges), process.hrtime.bigint(), priority),
      };
    },
    async openToc(source: RangeSource, tocDigest: string | undefined, name: string) {
      const src: Source = { size: source.size, read: (o, l) => source.read(o, l), name };
      releaseTierUp(); // a no-op: the resolve before released it (here for a layer ever opened without one)
      const reader = await EStargzReader.open(src, tocDeps, { tocDigest, allowUnverifiedToc: cfg.allowNoVerification });
      return { index: reader.index, tocOffset: reader.footer.tocOffset, tocDigest: reader.tocDigest };
    },
    verify,
    cache,
    bindings,
    log,
    layerDropped: () => reclaimer.collect(2),
  }, {
    poolDir,
    blobDir,
    chunkSize: cfg.blob.chunkSize,
    prefetchSize: cfg.prefetchSize,
    prefetchTimeoutMs: cfg.prefetchTimeoutSec * 1000,
    noPrefetch: cfg.noprefetch,
    noBackgroundFetch: cfg.noBackgroundFetch,
    prefetchAsyncSize: cfg.prefetchAsyncSize,
    maxConcurrency: cfg.maxConcurrency,
    allowNoVerification: cfg.allowNoVerification,
    resolveTtlMs: cfg.resolveResultEntryTtlSec * 1000,
    idleDropMs: Number(process.env.ESGZ_IDLE_DROP_MS ?? 5 * 60_000),
    beforeBackground: () => activity.quiet(BACKGROUND_QUIET_MS, BACKGROUND_MAX_WAIT_MS),
    maxChunkSize: cfg.blob.maxChunkSize,
  });

  // Every request's latency and errno go to the metrics, and FUSE's activity decides when the
  // background fetch may start.
  given.mount.observe({ begin: () => activity.begin(), end: (op, t0, errno) => { activity.end(); metrics.fuseDone(op, t0, errno); } });
  given.mount.attach(store);
  const mount = given.mount.mounted;
  return {
    store, mount,
    addCredentials(data) {
      let added;
      try {
        added = engineCredentials.add(data);
      } catch (err) {
        log.warn("credentials from the engine refused", { error: (err as Error).message });
        throw err;
      }
      for (const r of added.changed) registry.forgetCredentials(r);
      // Which repositories, never what: credentials are not logged.
      log.info("credentials received from the engine", { repositories: added.repositories, changed: added.changed.length > 0 });
    },
    async close() {
      await mount.unmount().catch((e: Error) => log.warn("unmount failed", { error: e.message }));
      await store.close();
      await pool.close();
      await registry.close().catch(() => {});
    },
  };
}

/** A TOC member read on this thread's core (let go after it if that failed or grew it: node/core.ts). */
function readTocHere(member: Uint8Array, tocOffset: number, maxToc: number, expected: string | undefined, name: string | undefined) {
  try {
    return readTocMember(nodeCore(), member, tocOffset, maxToc, expected, name);
  } finally {
    settleNodeCore();
  }
}

/** FUSE requests in flight and when the last one ended. */
class FuseActivity {
  private inFlight = 0;
  private lastEnd = 0;
  begin(): void { this.inFlight++; }
  end(): void { this.inFlight--; this.lastEnd = performance.now(); }
  /** Resolves once no request has been in flight for `quietMs` (at least `quietMs` from now), or after `maxMs`. */
  async quiet(quietMs: number, maxMs: number): Promise<void> {
    const deadline = performance.now() + maxMs;
    let wait = quietMs;
    for (;;) {
      await new Promise<void>((r) => setTimeout(r, Math.max(1, Math.min(wait, deadline - performance.now()))).unref());
      const now = performance.now();
      if (now >= deadline) return;
      const idle = this.inFlight === 0 ? now - this.lastEnd : 0;
      if (idle >= quietMs) return;
      wait = quietMs - idle;
    }
  }
}
