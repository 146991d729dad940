// The layer store behind the mount: resolves references (cached for `resolve_result_entry_ttl_sec`),
// binds each lookup to the manifest it was found in (bindings.ts), opens layers (TOC verified against
// the manifest's annotation), counts the engine's references, and drops idle layers after a grace
// period; a dropped layer opens again transparently on its next lookup. Anything that cannot be
// served answers ENOENT so the engine downloads normally.
//
// What identifies a layer: the repository its bytes come from, its digest and its TOC digest. Two
// images that name the same layer digest with different sources or TOCs get different layers; only
// verified chunks are shared between layers (the chunk cache is content-addressed).
import type { LayerSource } from "../fs/als.js";
import type { TocIndex } from "../core/toc.js";
import { FsError } from "../util/errno.js";
import { TOC_DIGEST_ANNOTATION } from "../estargz/annotations.js";
import { Layer, type FetchSettings, type LayerLog, type LayerView } from "../layer/layer.js";
import type { ChunkStore } from "../layer/cache.js";
import type { RangeSource } from "../layer/source.js";
import type { VerifyBatch } from "../layer/verify.js";
import { bindingKey, type Binding, type BindingTable } from "./bindings.js";
import { findLayer, layerInfo, tocDigestOf, type ImageLayer, type ResolvedImage } from "./image.js";

const GZIP_LAYER_TYPES = new Set([
  "application/vnd.oci.image.layer.v1.tar+gzip",
  "application/vnd.docker.image.rootfs.diff.tar.gzip",
]);

/** What the store needs from the registry, the eStargz reader, the worker pool and the cache. */
export interface StoreDeps {
  /** Manifest (for this platform) and config of `ref`; digests verified by the registry client. */
  resolve(ref: string): Promise<ResolvedImage>;
  /** Random access to a layer blob of `image` (a pinned `ResolvedImage.image`). */
  blobSource(image: string, layer: ImageLayer): Promise<RangeSource>;
  /** Footer, TOC member, TOC digest check (when `tocDigest` is given), index; the TOC's actual digest. */
  openToc(source: RangeSource, tocDigest: string | undefined, name: string): Promise<{ index: TocIndex; tocOffset: number; tocDigest: string }>;
  verify: VerifyBatch;
  cache: ChunkStore;
  bindings: BindingTable;
  /** Called after idle layers were dropped (their index memories can be collected now). */
  layerDropped?(): void;
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

/** A layer being opened or open, under its source key. */
interface Opening {
  layer?: Layer;
  promise: Promise<Layer>;
  /** Binding keys served from this layer (their `Served` entries go when it is dropped). */
  keys: Set<string>;
}

/** What a lookup is answered with, until the binding is checked again. */
interface Served {
  view: LayerView;
  layer: Layer;
  binding: Binding;
  /** The image the binding named when this answer was made. */
  image: string;
  /** When the binding was last checked against the reference's resolution. */
  checked: number;
}

/** A layer some resolved image lists under a digest: a candidate for `:ref`-less lookups of it. */
interface Candidate {
  image: string;
  layer: ImageLayer;
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

const repositoryOf = (image: string): string => image.slice(0, image.lastIndexOf("@"));

export class LayerStore implements LayerSource {
  private readonly images = new Map<string, { image: ResolvedImage; expires: number }>();
  private readonly resolving = new Map<string, Promise<ResolvedImage>>();
  /** Layers by source key (repository, layer digest, TOC digest). */
  private readonly layers = new Map<string, Opening>();
  /** Answers by binding key, for lookups already made. */
  private readonly served = new Map<string, Served>();
  /** Digest (layer or TOC) → the distinct layers resolved images list under it, for `:ref`-less lookups. */
  private readonly candidates = new Map<string, Map<string, Candidate>>();
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
    const r = this.images.get(ref);
    if (r && r.expires > Date.now()) return;
    return this.resolveImage(ref).then(() => undefined, (err: Error) => {
      this.deps.log.warn("cannot resolve image; answering ENOENT", { ref, error: err.message });
      throw new FsError("ENOENT", err.message);
    });
  }

  private resolveImage(ref: string): Promise<ResolvedImage> {
    const r = this.images.get(ref);
    if (r && r.expires > Date.now()) return Promise.resolve(r.image);
    let p = this.resolving.get(ref);
    if (!p) {
      p = this.deps.resolve(ref).then((image) => {
        const entry = { image, expires: Date.now() + this.settings.resolveTtlMs };
        this.images.set(ref, entry);
        if (!this.images.has(image.image)) this.images.set(image.image, entry); // the pinned form resolves the same
        for (const l of image.layers) {
          for (const d of [l.digest, tocDigestOf(l)]) {
            if (!d) continue;
            let c = this.candidates.get(d);
            if (!c) this.candidates.set(d, (c = new Map()));
            c.set(`${this.sourceKey(image.image, l)}\n${l.diffId}`, { image: image.image, layer: l });
          }
        }
        this.deps.log.info("resolved image", { ref, image: image.image, layers: image.layers.length });
        return image;
      }).finally(() => this.resolving.delete(ref));
      this.resolving.set(ref, p);
    }
    return p;
  }

  layer(ref: string | null, digest: string): LayerView | Promise<LayerView> {
    const hit = this.served.get(bindingKey(ref, digest));
    if (hit) {
      const now = Date.now();
      if (now - hit.checked < this.settings.resolveTtlMs || this.inUse(hit.binding)) {
        hit.layer.lastUse = now;
        return hit.view;
      }
    }
    return this.lookup(ref, digest).then((s) => s.view);
  }

  /** Whether the engine holds a reference on the binding, or a file of its layer is open. */
  private inUse(b: Binding): boolean {
    return b.refs > 0 || (this.served.get(bindingKey(b.ref, b.digest))?.layer.openHandles ?? 0) > 0;
  }

  // A binding in use is served as it is; otherwise the lookup is (re)bound to what the reference
  // resolves to now, or, when that no longer lists the digest, served from the manifest it was
  // bound to (an engine's image still uses the layer: the tag moved on).
  private async lookup(ref: string | null, digest: string): Promise<Served> {
    const bound = this.deps.bindings.get(ref, digest);
    if (bound && this.inUse(bound)) return this.serve(bound);
    const found = ref !== null ? await this.findByRef(ref, digest, bound !== undefined) : this.findRefless(digest);
    if (found) return this.serve(this.deps.bindings.bind(ref, digest, found.image), found.layer);
    if (bound && ref !== null) return this.serve(bound);
    throw new FsError("ENOENT");
  }

  private async findByRef(ref: string, digest: string, bound: boolean): Promise<Candidate | undefined> {
    let image: ResolvedImage;
    try {
      image = await this.resolveImage(ref);
    } catch (err) {
      this.deps.log.warn(bound ? "cannot resolve image; serving the layer from the manifest it was found in" : "cannot resolve image; answering ENOENT",
        { ref, error: (err as Error).message });
      if (bound) return undefined;
      throw new FsError("ENOENT", (err as Error).message);
    }
    const layer = findLayer(image.layers, digest);
    return layer && { image: image.image, layer };
  }

  // A `:ref`-less lookup is served only when the digest names one layer among the resolved images.
  private findRefless(digest: string): Candidate | undefined {
    const c = this.candidates.get(digest);
    if (!c || c.size === 0) return undefined;
    if (c.size > 1) {
      this.deps.log.warn("digest is ambiguous without a reference (several images list it with different sources); answering ENOENT",
        { digest, images: [...new Set([...c.values()].map((x) => x.image))] });
      return undefined;
    }
    return c.values().next().value;
  }

  private async serve(binding: Binding, known?: ImageLayer): Promise<Served> {
    let desc = known;
    if (!desc) {
      const image = await this.resolveImage(binding.image).catch((err: Error) => {
        this.deps.log.warn("cannot resolve the manifest a layer was found in; answering ENOENT", { image: binding.image, error: err.message });
        throw new FsError("ENOENT", err.message);
      });
      desc = findLayer(image.layers, binding.digest);
      if (!desc) throw new FsError("ENOENT", `${binding.image} does not list ${binding.digest}`);
    }
    const byToc = desc.digest !== binding.digest;
    const layer = await this.open(binding.image, desc);
    // Served under a TOC digest only when the TOC fetched from the blob hashes to it.
    if (byToc && layer.facts.tocDigest !== binding.digest) throw new FsError("ENOENT", `the TOC of ${desc.digest} is not ${binding.digest}`);
    layer.lastUse = Date.now();
    const key = bindingKey(binding.ref, binding.digest);
    const prev = this.served.get(key);
    // The same answer as before keeps its view (the file system keys its per-layer state by it).
    const view = prev && prev.layer === layer && prev.image === binding.image ? prev.view : layer.view(layerInfo(desc, byToc));
    const served: Served = { view, layer, binding, image: binding.image, checked: Date.now() };
    this.served.set(key, served);
    this.layers.get(this.sourceKey(binding.image, desc))?.keys.add(key);
    return served;
  }

  private sourceKey(image: string, desc: ImageLayer): string {
    return `${repositoryOf(image)}\n${desc.digest}\n${tocDigestOf(desc) ?? ""}`;
  }

  // Opens a layer once (concurrent lookups share the opening); a failure answers ENOENT and is not kept.
  private open(image: string, desc: ImageLayer): Promise<Layer> {
    const key = this.sourceKey(image, desc);
    const existing = this.layers.get(key);
    if (existing) return existing.promise;
    const tocDigest = tocDigestOf(desc);
    const repository = repositoryOf(image);
    const refuse = (why: string): Promise<Layer> => {
      this.deps.log.info("layer not served; the engine downloads it", { image, layer: desc.digest, reason: why });
      return Promise.reject(new FsError("ENOENT", why));
    };
    if (!GZIP_LAYER_TYPES.has(desc.mediaType)) return refuse(`media type ${desc.mediaType} is not gzip`);
    if (!tocDigest && !this.settings.allowNoVerification) return refuse(`no ${TOC_DIGEST_ANNOTATION} annotation`);
    const entry: Opening = { promise: undefined as unknown as Promise<Layer>, keys: new Set() };
    entry.promise = (async () => {
      const release = await this.opens.acquire();
      try {
        const source = await this.deps.blobSource(image, desc);
        const toc = await this.deps.openToc(source, tocDigest, desc.digest);
        const layer = new Layer(
          { repository, digest: desc.digest, size: desc.size, tocDigest: toc.tocDigest },
          toc.index, toc.tocOffset, source, this.deps.verify, this.deps.cache, this.settings, this.deps.log,
        );
        entry.layer = layer;
        this.deps.log.info("layer opened", { repository, layer: desc.digest, entries: toc.index.count, chunks: layer.map.count });
        // Prefetch runs under the same permit: at most max_concurrency layers resolve or prefetch at once.
        await layer.start();
        return layer;
      } finally {
        release();
      }
    })();
    entry.promise.catch((err: Error) => {
      if (this.layers.get(key) === entry) this.layers.delete(key);
      if (!(err instanceof FsError)) this.deps.log.warn("cannot open layer; answering ENOENT", { image, layer: desc.digest, error: err.message });
    });
    this.layers.set(key, entry);
    return entry.promise.catch((err: Error) => {
      throw err instanceof FsError ? err : new FsError("ENOENT", err.message);
    });
  }

  /** The binding of a lookup already answered (the engine signals after its lookup). */
  private bindingOf(ref: string | null, digest: string): Binding | undefined {
    return this.served.get(bindingKey(ref, digest))?.binding ?? this.deps.bindings.get(ref, digest);
  }

  use(ref: string | null, digest: string): void {
    const b = this.bindingOf(ref, digest);
    if (!b) return;
    b.refs++;
    this.deps.bindings.changed();
    const s = this.served.get(bindingKey(ref, digest));
    if (s) s.layer.lastUse = Date.now();
  }

  release(ref: string | null, digest: string): void {
    const b = this.bindingOf(ref, digest);
    if (!b || b.refs === 0) return;
    b.refs--;
    this.deps.bindings.changed();
    const s = this.served.get(bindingKey(ref, digest));
    if (s) s.layer.lastUse = Date.now();
  }

  /** Drops layers nobody references, with no open file, unused for the grace period. */
  sweep(now = Date.now()): void {
    let dropped = false;
    for (const [key, entry] of this.layers) {
      const l = entry.layer;
      if (!l || l.openHandles > 0 || now - l.lastUse < this.settings.idleDropMs) continue;
      const bindings = [...entry.keys].map((k) => this.served.get(k)?.binding).filter((b): b is Binding => b !== undefined);
      if (bindings.some((b) => b.refs > 0)) continue;
      this.layers.delete(key);
      for (const k of entry.keys) this.served.delete(k);
      // Nobody holds these bindings: the next lookup binds to what its reference resolves to then.
      for (const b of bindings) this.deps.bindings.delete(b);
      l.dispose();
      dropped = true;
      this.deps.log.debug("idle layer dropped", { repository: l.facts.repository, layer: l.facts.digest });
    }
    if (dropped) this.deps.layerDropped?.();
  }

  /** Stops background work, frees every layer, writes the bindings. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const entry of this.layers.values()) entry.layer?.dispose();
    this.layers.clear();
    this.served.clear();
    await this.deps.bindings.flush();
  }

  /** Per open layer (by layer digest): engine references, blob size, and what was fetched. */
  stats(): Record<string, { refs: number; size: number; requests: number; bytes: number; chunksVerified: number; cacheHits: number }> {
    const out: ReturnType<LayerStore["stats"]> = {};
    for (const e of this.layers.values()) {
      if (!e.layer) continue;
      const refs = [...e.keys].reduce((n, k) => n + (this.served.get(k)?.binding.refs ?? 0), 0);
      out[e.layer.facts.digest] = { refs, size: e.layer.facts.size, ...e.layer.reader.stats };
    }
    return out;
  }
}
