// Input: an image in a registry, through the registry client: manifest (platform chosen from an
// index) and config verified against their digests by the client, then each layer streamed once.
import { readFile } from "node:fs/promises";
import { parse as parseToml } from "smol-toml";
import { RegistryClient, RegistryError, type BlobReader, type ResolverConfig } from "../../registry/index.js";
import { TrustError, UsageError, type LooseDescriptor, type LayerBlob, type LayerTarget } from "../target.js";
import { imageTargets, type ImageConfig, type Platform } from "./image.js";

/** A registry blob as a LayerBlob: random reads for the tail, the client's windowed stream for the pass. */
class RegistryBlob implements LayerBlob {
  constructor(private readonly reader: BlobReader) {}
  get size(): number {
    return this.reader.size;
  }
  get name(): string {
    return this.reader.name;
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.reader.read(offset, length).catch((err) => { throw withHint(err); });
  }
  async *stream(start: number, end: number): AsyncIterable<Uint8Array> {
    if (start !== 0 || end !== this.size) throw new RangeError("registry blobs are streamed whole");
    // verify: false — the digest is one of verify's own checks, reported, not thrown
    try {
      yield* this.reader.stream({ verify: false });
    } catch (err) {
      throw withHint(err);
    }
  }
  async close(): Promise<void> {}
}

/** A request timeout says which flag sets it. */
function withHint(err: unknown): unknown {
  if (!(err instanceof RegistryError) || err.timeout !== "request") return err;
  return new Error(`${err.message} (--timeout sets the request timeout)`, { cause: err });
}

/** `--timeout`: a positive number of seconds, or undefined when not given. */
function timeoutFlag(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  const sec = Number(value);
  if (!(sec > 0) || !Number.isFinite(sec)) throw new UsageError(`--timeout ${JSON.stringify(String(value))} is not a positive number of seconds`);
  return sec;
}

async function resolverConfig(path: string | undefined): Promise<ResolverConfig | undefined> {
  if (!path) return undefined;
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(await readFile(path, "utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`--hosts-config ${path}: ${(err as Error).message}`);
  }
  return (doc.resolver ?? doc) as ResolverConfig;
}

export async function registryTargets(ref: string, opts: { platform?: Platform; hostsConfig?: string; timeout?: string | number }): Promise<LayerTarget[]> {
  const timeout = timeoutFlag(opts.timeout);
  const resolver = await resolverConfig(opts.hostsConfig);
  // --timeout is the [resolver] default: a host or mirror with its own request_timeout_sec keeps it.
  const client = new RegistryClient({ resolver: timeout === undefined ? resolver : { ...resolver, request_timeout_sec: timeout } });
  let img;
  try {
    img = await client.resolveImage(ref, opts.platform ? { platform: opts.platform } : {});
  } catch (err) {
    // a manifest or config that does not match its digest is a verification failure; the rest is I/O
    if (err instanceof RegistryError && err.code === "digest") throw new TrustError(`${ref}: ${err.message}`);
    throw new UsageError(`${ref}: ${(withHint(err) as Error).message}`);
  }
  const what = `${ref} manifest ${img.manifestDigest}`;
  return imageTargets({ config: img.manifest.config as LooseDescriptor, layers: img.layers as LooseDescriptor[] }, img.config as ImageConfig, what, async (d) => {
    try {
      return new RegistryBlob(await client.openBlob(img.ref, d.digest, d.size));
    } catch (err) {
      throw new UsageError(`layer ${d.digest}: ${(withHint(err) as Error).message}`);
    }
  });
}
