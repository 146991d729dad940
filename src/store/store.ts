// The layer store behind the mount: resolves references (cached for `resolve_result_entry_ttl_sec`),
// opens layers on lookup (TOC verified against the manifest annotation), counts the engine's
// references, and drops idle layers after a grace period; a dropped layer opens again transparently
// on its next lookup. Anything that cannot be served answers ENOENT so the engine downloads normally.
import type { LayerSource, LayerView } from "../fs/als.js";
import { FsError } from "../fs/errno.js";
import { Layer, type FetchSettings, type LayerIndex, type LayerLog } from "./layer.js";
import type { ChunkStore, RangeSource, VerifyBatch } from "./fetcher.js";

export const TOC_DIGEST_ANNOTATION = "containerd.io/snapshot/stargz/toc.digest";
export const UNCOMPRESSED_SIZE_ANNOTATION = "io.containers.estargz.uncompressed-size";
const GZIP_LAYER_TYPES = new Set([
  "application/vnd.oci.image.layer.v1.tar+gzip",
  "application/vnd.docker.image.rootfs.diff.tar.gzip",
]);

/** A layer descriptor of a resolved image, with its diffID from the config. */
export interface ImageLayer {
  digest: string;
  size: number;
  mediaType: string;
  annotations?: Record<string, string>;
  diffId: string;
}

/** What the store needs from the registry, the eStargz reader, the worker pool and the cache. */
export interface StoreDeps {
  /** Manifest (for this platform) and config of `ref`; digests verified by the registry client. */
  resolve(ref: string): Promise<ImageLayer[]>;
  /** Random access to a layer blob of `ref`. */
  blobSource(ref: string, layer: ImageLayer): Promise<RangeSource>;
  /** Footer, TOC member, TOC digest check (when `tocDigest` is given), index. */
  openToc(source: RangeSource, tocDigest: string | undefined, name: string): Promise<{ index: LayerIndex; tocOffset: number }>;
  verify: VerifyBatch;
  cache: ChunkStore;
  log: LayerLog & { info(msg: string, fields?: Record<string, unknown>): void };
}

export interface StoreSettings extends FetchSettings {
  poolDir: string;
  maxConcurrency: number;
  allowNoVerification: boolean;
  resolveTtlMs: number;
  /** An unreferenced layer without open files is dropped after this long unused. */
  idleDropMs: number;
}

interface Resolved {
  layers: ImageLayer[];
  expires: number;
}

interface Opening {
  layer?: Layer;
  promise: Promise<Layer>;
  /** Keys of `ready` that point at this layer (removed when it is dropped). */
  keys: Set<string>;
}

/** A counting semaphore: at most `n` holders. */
class Semaphore {
  private waiting: Array<() => void> = [];
  constructor(private free: number) {}
  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((r) => this.waiting.push(r));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
}

export class LayerStore implements LayerSource {
  private readonly refs = new Map<string, Resolved>();
  private readonly resolving = new Map<string, Promise<Resolved>>();
  /** Layers by compressed digest. */
  private readonly layers = new Map<string, Opening>();
  /** Fast path: `ref \n digest` → the view, for layers already open. */
  private readonly ready = new Map<string, { view: LayerView; layer: Layer }>();
  /** Every digest (compressed or TOC) seen in a resolved image → where to find it, for `:ref`-less lookups. */
  private readonly known = new Map<string, { ref: string; layer: ImageLayer }>();
  private readonly opens: Semaphore;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly deps: StoreDeps, private readonly settings: StoreSettings) {
    this.opens = new Semaphore(Math.max(1, settings.maxConcurrency));
    this.sweeper = setInterval(() => this.sweep(), Math.max(1000, Math.min(settings.idleDropMs, 30_000)));
    this.sweeper.unref();
  }

  get poolDir(): string {
    return this.settings.poolDir;
  }

  resolveRef(ref: string): void | Promise<void> {
    const r = this.refs.get(ref);
    if (r && r.expires > Date.now()) return;
    return this.resolveLayers(ref).then(() => undefined);
  }

  private resolveLayers(ref: string): Promise<ImageLayer[]> {
    const r = this.refs.get(ref);
    if (r && r.expires > Date.now()) return Promise.resolve(r.layers);
    let p = this.resolving.get(ref);
    if (!p) {
      p = this.deps.resolve(ref).then((layers) => {
        const entry = { layers, expires: Date.now() + this.settings.resolveTtlMs };
        this.refs.set(ref, entry);
        for (const l of layers) {
          this.known.set(l.digest, { ref, layer: l });
          const toc = l.annotations?.[TOC_DIGEST_ANNOTATION];
          if (toc) this.known.set(toc, { ref, layer: l });
        }
        this.deps.log.info("resolved image", { ref, layers: layers.length });
        return entry;
      }).finally(() => this.resolving.delete(ref));
      this.resolving.set(ref, p);
    }
    return p.then((e) => e.layers, (err: Error) => {
      this.deps.log.warn("cannot resolve image; answering ENOENT", { ref, error: err.message });
      throw new FsError("ENOENT", err.message);
    });
  }

  layer(ref: string | null, digest: string): LayerView | Promise<LayerView> {
    const key = `${ref ?? ""}\n${digest}`;
    const hit = this.ready.get(key);
    if (hit) {
      hit.layer.lastUse = Date.now();
      return hit.view;
    }
    return this.lookup(ref, digest).then(({ layer, byToc }) => {
      const view = layer.view(byToc);
      this.ready.set(key, { view, layer });
      this.layers.get(layer.facts.digest)?.keys.add(key);
      return view;
    });
  }

  private async lookup(ref: string | null, digest: string): Promise<{ layer: Layer; byToc: boolean }> {
    let desc: ImageLayer | undefined;
    let srcRef: string;
    if (ref !== null) {
      const layers = await this.resolveLayers(ref);
      desc = layers.find((l) => l.digest === digest || l.annotations?.[TOC_DIGEST_ANNOTATION] === digest);
      srcRef = ref;
    } else {
      const k = this.known.get(digest);
      desc = k?.layer;
      srcRef = k?.ref ?? "";
    }
    if (!desc) throw new FsError("ENOENT");
    const byToc = desc.digest !== digest;
    const layer = await this.open(srcRef, desc);
    layer.lastUse = Date.now();
    return { layer, byToc };
  }

  // Opens a layer once (concurrent lookups share the opening); a failure answers ENOENT and is not kept.
  private open(ref: string, desc: ImageLayer): Promise<Layer> {
    const existing = this.layers.get(desc.digest);
    if (existing) return existing.promise;
    const tocDigest = desc.annotations?.[TOC_DIGEST_ANNOTATION];
    const refuse = (why: string): Promise<Layer> => {
      this.deps.log.info("layer not served; the engine downloads it", { ref, layer: desc.digest, reason: why });
      return Promise.reject(new FsError("ENOENT", why));
    };
    if (!GZIP_LAYER_TYPES.has(desc.mediaType)) return refuse(`media type ${desc.mediaType} is not gzip`);
    if (!tocDigest && !this.settings.allowNoVerification) return refuse(`no ${TOC_DIGEST_ANNOTATION} annotation`);
    const entry: Opening = { promise: undefined as unknown as Promise<Layer>, keys: new Set() };
    entry.promise = (async () => {
      const release = await this.opens.acquire();
      try {
        const source = await this.deps.blobSource(ref, desc);
        const { index, tocOffset } = await this.deps.openToc(source, tocDigest, desc.digest);
        const sizeNote = desc.annotations?.[UNCOMPRESSED_SIZE_ANNOTATION];
        const uncompressedSize = sizeNote !== undefined && /^\d+$/.test(sizeNote) ? Number(sizeNote) : undefined;
        const layer = new Layer(
          { digest: desc.digest, size: desc.size, tocDigest, diffId: desc.diffId, uncompressedSize },
          index, tocOffset, source, this.deps.verify, this.deps.cache, this.settings, this.deps.log,
        );
        entry.layer = layer;
        this.deps.log.info("layer opened", { ref, layer: desc.digest, entries: index.count, chunks: layer.map.count });
        // Prefetch runs under the same permit: at most max_concurrency layers resolve or prefetch at once.
        await layer.start();
        return layer;
      } finally {
        release();
      }
    })();
    entry.promise.catch((err: Error) => {
      if (this.layers.get(desc.digest) === entry) this.layers.delete(desc.digest);
      if (!(err instanceof FsError)) this.deps.log.warn("cannot open layer; answering ENOENT", { ref, layer: desc.digest, error: err.message });
    });
    this.layers.set(desc.digest, entry);
    return entry.promise.catch((err: Error) => {
      throw err instanceof FsError ? err : new FsError("ENOENT", err.message);
    });
  }

  private layerFor(ref: string | null, digest: string): Layer | undefined {
    const hit = this.ready.get(`${ref ?? ""}\n${digest}`);
    if (hit) return hit.layer;
    const k = this.known.get(digest);
    return k ? this.layers.get(k.layer.digest)?.layer : undefined;
  }

  use(ref: string | null, digest: string): void {
    const l = this.layerFor(ref, digest);
    if (l) { l.refs++; l.lastUse = Date.now(); }
  }

  release(ref: string | null, digest: string): void {
    const l = this.layerFor(ref, digest);
    if (l && l.refs > 0) { l.refs--; l.lastUse = Date.now(); }
  }

  /** Drops layers nobody references, with no open file, unused for the grace period. */
  sweep(now = Date.now()): void {
    for (const [digest, entry] of this.layers) {
      const l = entry.layer;
      if (!l || l.refs > 0 || l.openHandles > 0 || now - l.lastUse < this.settings.idleDropMs) continue;
      this.layers.delete(digest);
      for (const key of entry.keys) this.ready.delete(key);
      l.dispose();
      this.deps.log.debug("idle layer dropped", { layer: digest });
    }
  }

  /** Stops background work and frees every layer. */
  close(): void {
    clearInterval(this.sweeper);
    for (const entry of this.layers.values()) entry.layer?.dispose();
    this.layers.clear();
    this.ready.clear();
  }

  /** Per open layer: engine references, blob size, and what was fetched (requests, bytes, chunks). */
  stats(): Record<string, { refs: number; size: number; requests: number; bytes: number; chunksVerified: number; cacheHits: number }> {
    const out: ReturnType<LayerStore["stats"]> = {};
    for (const [d, e] of this.layers) if (e.layer) out[d] = { refs: e.layer.refs, size: e.layer.facts.size, ...e.layer.fetcher.stats };
    return out;
  }
}
