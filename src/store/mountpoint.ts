// The store's FUSE mount, made first thing: `esgz-fast mount` mounts before it loads the registry
// client, the read path, the worker pool and the cache, so that the mountpoint is there (engines stat
// it at every command) as early as Node and fuse-native allow. Requests that arrive before the store
// is attached wait for it.
import { join } from "node:path";
import { mkdir } from "node:fs/promises";
import { AlsFs, type LayerSource } from "../fs/als.js";
import { detachStaleMount, mountFs, type MountedFs, type RequestObserver } from "../fs/fuse.js";
import type { LayerView } from "../layer/layer.js";
import type { Logger } from "../util/log.js";
import { RegistryError } from "../registry/errors.js";
import type { StoreConfig } from "./config.js";

export interface StoreMount {
  readonly mounted: MountedFs;
  /** Hands the tree its store; requests waiting for it go on. */
  attach(source: LayerSource): void;
  /** Tells `observer` of every request from now on (latency, errno). */
  observe(observer: RequestObserver): void;
}

/** A `LayerSource` whose calls wait until the store is attached, then go straight to it. */
class PendingSource implements LayerSource {
  private source: LayerSource | undefined;
  private attached!: (s: LayerSource) => void;
  private readonly ready = new Promise<LayerSource>((r) => { this.attached = r; });

  constructor(readonly poolDir: string) {}

  attach(source: LayerSource): void {
    this.source = source;
    this.attached(source);
  }

  resolveRef(ref: string): void | Promise<void> {
    return this.source ? this.source.resolveRef(ref) : this.ready.then((s) => s.resolveRef(ref));
  }

  layer(ref: string | null, digest: string): LayerView | Promise<LayerView> {
    return this.source ? this.source.layer(ref, digest) : this.ready.then((s) => s.layer(ref, digest));
  }

  // The engine signals only after a lookup, which waited for the store.
  use(ref: string | null, digest: string): void {
    this.source?.use(ref, digest);
  }

  release(ref: string | null, digest: string): void {
    this.source?.release(ref, digest);
  }
}

/** Mounts the Additional Layer Store tree at `cfg.mountpoint` (a stale mount there is detached first). */
export async function mountStore(cfg: StoreConfig, log: Logger): Promise<StoreMount> {
  await detachStaleMount(cfg.mountpoint); // before anything touches it: a dead mount answers ENOTCONN
  await mkdir(cfg.mountpoint, { recursive: true });
  const source = new PendingSource(join(cfg.root, "pool"));
  const fs = new AlsFs(source, {
    onReadError: (path, err) => {
      const timeout = timeoutSetting(err);
      if (timeout) log.warn("read timed out", { path, timeout, error: (err as Error).message });
      else log.warn("read failed", { path, error: (err as Error).message });
    },
  });
  let observer: RequestObserver | undefined;
  // A lookup may resolve an image and open a layer (several registry round trips, retries included):
  // FUSE must not give up before the registry client does.
  const opTimeoutMs = Math.max(cfg.blob.fetchingTimeoutSec, cfg.resolver.request_timeout_sec ?? 30) * 1000 + 30_000;
  const mounted = await mountFs(cfg.mountpoint, fs, {
    entryTimeout: cfg.fuse.entryTimeout,
    attrTimeout: cfg.fuse.attrTimeout,
    negativeTimeout: cfg.fuse.entryTimeout,
    opTimeoutMs,
    debug: cfg.debug,
    onError: (op, path, err) => log.error("FUSE handler failed", { op, path, error: (err as Error).message }),
    observer: { begin: () => observer?.begin(), end: (op, t0, errno) => observer?.end(op, t0, errno) },
  });
  return {
    mounted,
    attach: (s) => source.attach(s),
    observe: (o) => { observer = o; },
  };
}

/** The setting whose bound a failed read ran out of (its registry error, wherever in the cause chain), if it timed out. */
function timeoutSetting(err: unknown): string | undefined {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (e instanceof RegistryError && e.timeout) return e.timeout === "request" ? "[resolver] request_timeout_sec" : "[blob] fetching_timeout_sec";
  }
  return undefined;
}
