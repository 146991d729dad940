// The registry client: one object per process holding the pools, auth state and caches; every
// method takes an image reference (string or parsed) and names the registry, repository and
// object in its errors.
import { RegistryError } from "./errors.js";
import { checkDigest, digestAlgorithm, digestOf } from "./digest.js";
import { blobSize, BlobReader, fetchBlobBytes, readBlobRanges, type BlobReadOptions, type ByteRange } from "./blob.js";
import { fileCredentialProvider, type CredentialProvider } from "./credentials.js";
import type { ResolverConfig } from "./hosts.js";
import { hostPlatform, MANIFEST_ACCEPT, parseManifest, parsePlatform, selectManifest, type Descriptor, type ImageManifest, type ParsedManifest, type Platform } from "./manifest.js";
import { blobExists, putManifest, uploadBlob, type UploadOptions, type UploadResult } from "./push.js";
import { isDigest, manifestReference, toReference, type Reference } from "./reference.js";
import { DEFAULT_RETRY, type RetryPolicy } from "./retry.js";
import { Session } from "./session.js";
import { BufferSink, type ProxyConfig } from "./http.js";
import { TlsTrust } from "./tls.js";
import { Transport, type RangeSocketStats } from "./transport.js";

/** stargz-store's `[blob]` keys that concern the network. */
export interface BlobConfig {
  max_retries?: number;
  min_wait_msec?: number;
  max_wait_msec?: number;
  fetching_timeout_sec?: number;
  force_single_range_mode?: boolean;
}

export interface RegistryClientOptions {
  /** stargz-store's `[resolver]` section: mirrors, insecure hosts, headers, timeouts. */
  resolver?: ResolverConfig;
  blob?: BlobConfig;
  /** Default: the container tools' auth files, read on demand. */
  credentials?: CredentialProvider;
  /** Connections per origin (default 8). */
  connections?: number;
  userAgent?: string;
  /** Platform chosen from indexes (default: this host's). */
  platform?: Platform | string;
  maxManifestBytes?: number;
  maxConfigBytes?: number;
  /** How long a failing mirror is skipped (default 30 s). */
  mirrorCooldownMs?: number;
  /** Forward proxy; default HTTP_PROXY / HTTPS_PROXY / NO_PROXY from the environment, `false` for none. */
  proxy?: ProxyConfig | false;
  /** GETs on the client's own kept-alive sockets (default true; false: all on undici). */
  rangeSockets?: boolean;
}

export interface FetchedManifest {
  /** Digest of the bytes as served. */
  digest: string;
  mediaType: string;
  bytes: Uint8Array;
  parsed: ParsedManifest;
}

export interface ResolvedImage {
  ref: Reference;
  /** Digest of the index or manifest list the reference pointed at, when it was one. */
  indexDigest?: string;
  /** Digest of the image manifest (for the chosen platform). */
  manifestDigest: string;
  mediaType: string;
  manifest: ImageManifest;
  manifestBytes: Uint8Array;
  configDigest: string;
  configBytes: Uint8Array;
  config: Record<string, unknown>;
  /** The manifest's layer descriptors, annotations included, in order. */
  layers: Descriptor[];
  platform?: Platform;
}

export class RegistryClient {
  readonly session: Session;
  private readonly transport: Transport;
  private readonly platform: Platform;
  private readonly maxManifestBytes: number;
  private readonly maxConfigBytes: number;
  private readonly singleRange: boolean;

  constructor(opts: RegistryClientOptions = {}) {
    const b = opts.blob ?? {};
    const retry: RetryPolicy = {
      maxRetries: b.max_retries ?? DEFAULT_RETRY.maxRetries,
      minWaitMs: b.min_wait_msec ?? DEFAULT_RETRY.minWaitMs,
      maxWaitMs: b.max_wait_msec ?? DEFAULT_RETRY.maxWaitMs,
      budgetMs: (b.fetching_timeout_sec ?? DEFAULT_RETRY.budgetMs / 1000) * 1000,
    };
    this.transport = new Transport({
      connections: opts.connections, userAgent: opts.userAgent, proxy: opts.proxy, rangeSockets: opts.rangeSockets,
      tls: new TlsTrust({ certsDirs: opts.resolver?.certs_dirs }),
    });
    this.session = new Session({
      resolver: opts.resolver ?? {},
      retry,
      credentials: opts.credentials ?? fileCredentialProvider(),
      transport: this.transport,
      mirrorCooldownMs: opts.mirrorCooldownMs ?? 30_000,
    });
    this.platform = typeof opts.platform === "string" ? parsePlatform(opts.platform) : opts.platform ?? hostPlatform();
    this.maxManifestBytes = opts.maxManifestBytes ?? 4 << 20;
    this.maxConfigBytes = opts.maxConfigBytes ?? 8 << 20;
    this.singleRange = b.force_single_range_mode === true;
  }

  /**
   * GETs a manifest or index by tag or digest (default: the reference's). Fetched by digest, the
   * bytes must match it; by tag, the digest is computed and must agree with Docker-Content-Digest.
   */
  async fetchManifest(refIn: Reference | string, reference?: string, expect?: { size?: number }): Promise<FetchedManifest> {
    const ref = toReference(refIn);
    const want = reference ?? manifestReference(ref);
    const byDigest = isDigest(want);
    const object = `manifest ${want}`;
    const ctx = { registry: ref.registry, repository: ref.repository, object };
    let sink!: BufferSink;
    const limit = this.maxManifestBytes;
    const head = await this.session.perform({ ref, object }, {
      method: "GET", path: `/v2/${ref.repository}/manifests/${want}`, headers: { accept: MANIFEST_ACCEPT }, accept: (s) => s === 200, followRedirects: true,
    }, (h) => {
      const len = Number(h.headers["content-length"]);
      if (len > limit) throw new RegistryError("too-large", `manifest of ${len} bytes is over the limit of ${limit}`);
      sink = new BufferSink(limit, (l) => new RegistryError("too-large", `manifest body over the limit of ${l} bytes`), false, len);
      return sink;
    });
    const bytes = sink.bytes();
    if (expect?.size !== undefined && bytes.length !== expect.size) {
      throw new RegistryError("digest", `manifest is ${bytes.length} bytes, its descriptor says ${expect.size}`, ctx);
    }
    let digest: string;
    if (byDigest) {
      checkDigest(bytes, want, ctx);
      digest = want;
    } else {
      const served = head.headers["docker-content-digest"];
      const s = Array.isArray(served) ? served[0] : served;
      digest = digestOf(bytes, s && isDigest(s) ? digestAlgorithm(s) : "sha256");
      if (s && isDigest(s) && s !== digest) throw new RegistryError("digest", `Docker-Content-Digest ${s} does not match the bytes served (${digest})`, ctx);
    }
    const ct = head.headers["content-type"];
    const parsed = parseManifest(bytes, Array.isArray(ct) ? ct[0] : ct, ctx);
    return { digest, mediaType: parsed.mediaType, bytes, parsed };
  }

  /** Reference → image manifest (platform chosen from an index), verified config, layer descriptors. */
  async resolveImage(refIn: Reference | string, opts: { platform?: Platform | string } = {}): Promise<ResolvedImage> {
    const ref = toReference(refIn);
    const platform = typeof opts.platform === "string" ? parsePlatform(opts.platform) : opts.platform ?? this.platform;
    let top = await this.fetchManifest(ref);
    let indexDigest: string | undefined;
    let chosen: Platform | undefined;
    for (let depth = 0; top.parsed.kind === "index"; depth++) {
      if (depth >= 2) throw new RegistryError("protocol", "index nested too deeply", { registry: ref.registry, repository: ref.repository });
      indexDigest ??= top.digest;
      const desc = selectManifest(top.parsed.index, platform, { registry: ref.registry, repository: ref.repository, object: `index ${top.digest}` });
      chosen = desc.platform;
      top = await this.fetchManifest(ref, desc.digest, { size: desc.size });
    }
    const manifest = (top.parsed as { manifest: ImageManifest }).manifest;
    const configBytes = await fetchBlobBytes(this.session, ref, manifest.config.digest, this.maxConfigBytes, manifest.config.size);
    let config: Record<string, unknown>;
    try {
      config = JSON.parse(new TextDecoder().decode(configBytes));
    } catch (err) {
      throw new RegistryError("protocol", `image config is not valid JSON (${(err as Error).message})`, { registry: ref.registry, repository: ref.repository, object: `blob ${manifest.config.digest}` });
    }
    return {
      ref, indexDigest, manifestDigest: top.digest, mediaType: top.mediaType, manifest, manifestBytes: top.bytes,
      configDigest: manifest.config.digest, configBytes, config, layers: manifest.layers, platform: chosen,
    };
  }

  /** Size of a blob (HEAD; ranged GET when HEAD says nothing). */
  blobSize(ref: Reference | string, digest: string): Promise<number> {
    return blobSize(this.session, toReference(ref), digest);
  }

  /** Byte ranges of a blob, each into its own buffer (given or allocated), in as few requests as possible. */
  readBlob(ref: Reference | string, digest: string, ranges: ByteRange[], opts: BlobReadOptions = {}): Promise<Uint8Array[]> {
    return readBlobRanges(this.session, toReference(ref), digest, ranges, { singleRange: this.singleRange, ...opts });
  }

  /** A whole blob in memory, checked against its digest (for configs and small blobs). */
  fetchBlob(ref: Reference | string, digest: string, opts: { maxBytes?: number; size?: number } = {}): Promise<Uint8Array> {
    return fetchBlobBytes(this.session, toReference(ref), digest, opts.maxBytes ?? this.maxConfigBytes, opts.size);
  }

  /** A random-access reader over a blob; pass the size from the manifest to skip the HEAD. */
  async openBlob(refIn: Reference | string, digest: string, size?: number): Promise<BlobReader> {
    const ref = toReference(refIn);
    digestAlgorithm(digest);
    const s = size ?? (await blobSize(this.session, ref, digest));
    return new BlobReader(this.session, ref, digest, s, { singleRange: this.singleRange });
  }

  blobExists(ref: Reference | string, digest: string): Promise<boolean> {
    return blobExists(this.session, toReference(ref), digest);
  }

  uploadBlob(ref: Reference | string, data: Uint8Array | AsyncIterable<Uint8Array>, opts?: UploadOptions): Promise<UploadResult> {
    return uploadBlob(this.session, toReference(ref), data, opts);
  }

  /** PUTs a manifest or index under `reference` (default: the reference's tag or digest); returns its digest. */
  putManifest(refIn: Reference | string, bytes: Uint8Array, mediaType: string, reference?: string): Promise<string> {
    const ref = toReference(refIn);
    return putManifest(this.session, ref, reference ?? manifestReference(ref), bytes, mediaType);
  }

  /** The credentials for `registry` changed (engine-given): lookups and tokens cached for it are dropped. */
  forgetCredentials(registry: string): void {
    this.session.forgetCredentials(registry);
  }

  /** Requests, connections, fallbacks of the GET fast path so far (undefined when it is off). */
  get rangeSocketStats(): Readonly<RangeSocketStats> | undefined {
    return this.transport.rangeSocketStats;
  }

  /** Closes every pooled connection. */
  close(): Promise<void> {
    return this.transport.close();
  }
}
