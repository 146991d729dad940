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
    return this.reader.read(offset, length);
  }
  async *stream(start: number, end: number): AsyncIterable<Uint8Array> {
    if (start !== 0 || end !== this.size) throw new RangeError("registry blobs are streamed whole");
    // verify: false — the digest is one of verify's own checks, reported, not thrown
    yield* this.reader.stream({ verify: false });
  }
  async close(): Promise<void> {}
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

export async function registryTargets(ref: string, opts: { platform?: Platform; hostsConfig?: string }): Promise<LayerTarget[]> {
  const client = new RegistryClient({ resolver: await resolverConfig(opts.hostsConfig) });
  let img;
  try {
    img = await client.resolveImage(ref, opts.platform ? { platform: opts.platform } : {});
  } catch (err) {
    // a manifest or config that does not match its digest is a verification failure; the rest is I/O
    if (err instanceof RegistryError && err.code === "digest") throw new TrustError(`${ref}: ${err.message}`);
    throw new UsageError(`${ref}: ${(err as Error).message}`);
  }
  const what = `${ref} manifest ${img.manifestDigest}`;
  return imageTargets({ config: img.manifest.config as LooseDescriptor, layers: img.layers as LooseDescriptor[] }, img.config as ImageConfig, what, async (d) => {
    try {
      return new RegistryBlob(await client.openBlob(img.ref, d.digest, d.size));
    } catch (err) {
      throw new UsageError(`layer ${d.digest}: ${(err as Error).message}`);
    }
  });
}
