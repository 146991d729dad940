// Input: an OCI image layout directory (oci-layout, index.json, blobs/sha256/…). The manifest and config
// are checked against their digests before anything they say is believed.
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { FileBlob } from "../file-blob.js";
import { TrustError, UsageError, checkDigest, type LooseDescriptor, type LayerTarget } from "../target.js";
import { formatPlatform, imageTargets, platformMatches, type ImageConfig, type Manifest, type Platform } from "./image.js";

const INDEX_TYPES = new Set(["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"]);
const REF_NAME = "org.opencontainers.image.ref.name";

export async function isOciLayout(path: string): Promise<boolean> {
  try {
    return (await stat(join(path, "oci-layout"))).isFile();
  } catch {
    return false;
  }
}

function blobPath(dir: string, digest: string, what: string): string {
  checkDigest(digest, what);
  return join(dir, "blobs", "sha256", digest.slice("sha256:".length));
}

/** Reads a small blob (index, manifest, config) and checks its digest and size. */
async function readVerified(dir: string, d: LooseDescriptor, what: string): Promise<unknown> {
  let bytes: Buffer;
  try {
    bytes = await readFile(blobPath(dir, d.digest, what));
  } catch (err) {
    throw new UsageError(`${what} ${d.digest}: ${(err as Error).message}`);
  }
  const actual = "sha256:" + createHash("sha256").update(bytes).digest("hex");
  if (actual !== d.digest) throw new TrustError(`${what}: blob ${d.digest} hashes to ${actual}`);
  if (typeof d.size === "number" && d.size !== bytes.length) throw new TrustError(`${what} ${d.digest}: size ${bytes.length}, descriptor says ${d.size}`);
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw new TrustError(`${what} ${d.digest}: not JSON: ${(err as Error).message}`);
  }
}

export interface LayoutOptions {
  platform?: Platform;
  /** The `org.opencontainers.image.ref.name` of the image in index.json. */
  refName?: string;
}

/** The layers of the selected image of the layout at `dir`. */
export async function layoutTargets(dir: string, opts: LayoutOptions = {}): Promise<LayerTarget[]> {
  let index: { manifests?: LooseDescriptor[] };
  try {
    index = JSON.parse(await readFile(join(dir, "index.json"), "utf8"));
  } catch (err) {
    throw new UsageError(`${dir}: cannot read index.json: ${(err as Error).message}`);
  }
  let candidates = index.manifests ?? [];
  if (opts.refName !== undefined) {
    candidates = candidates.filter((d) => d.annotations?.[REF_NAME] === opts.refName);
    if (candidates.length === 0) throw new UsageError(`${dir}: no image named ${JSON.stringify(opts.refName)} in index.json`);
  }
  const manifestDesc = await pickManifest(dir, candidates, opts.platform, `${dir}/index.json`);
  const manifest = (await readVerified(dir, manifestDesc, "manifest")) as Manifest;
  if (!manifest || typeof manifest !== "object" || !manifest.config) throw new TrustError(`manifest ${manifestDesc.digest}: no config descriptor`);
  const config = (await readVerified(dir, manifest.config, "config")) as ImageConfig;
  return imageTargets(manifest, config, `${dir} manifest ${manifestDesc.digest}`, async (d) => {
    const path = blobPath(dir, d.digest, "layer");
    try {
      return await FileBlob.open(path);
    } catch (err) {
      throw new UsageError(`layer ${d.digest}: ${(err as Error).message}`);
    }
  });
}

/** Walks nested indexes down to one image manifest, choosing by platform where there is a choice. */
async function pickManifest(dir: string, list: LooseDescriptor[], platform: Platform | undefined, what: string): Promise<LooseDescriptor> {
  if (list.length === 0) throw new UsageError(`${what}: lists no manifests`);
  let chosen: LooseDescriptor;
  if (list.length === 1 && !(platform && list[0].platform && !platformMatches(list[0], platform))) {
    chosen = list[0];
  } else if (platform) {
    const hit = list.find((d) => platformMatches(d, platform));
    if (!hit) throw new UsageError(`${what}: no manifest for ${platform.os}/${platform.architecture}; it has ${list.map(formatPlatform).join(", ")}`);
    chosen = hit;
  } else {
    throw new UsageError(`${what}: ${list.length} manifests (${list.map(formatPlatform).join(", ")}); choose one with --platform`);
  }
  if (chosen.mediaType && INDEX_TYPES.has(chosen.mediaType)) {
    const nested = (await readVerified(dir, chosen, "index")) as { manifests?: LooseDescriptor[] };
    return pickManifest(dir, nested.manifests ?? [], platform, `index ${chosen.digest}`);
  }
  return chosen;
}
