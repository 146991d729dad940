// An image as the store resolves it (its layers with their diffIDs), and the `info` file a layer of it
// is served with (spec/als.md).
import { TOC_DIGEST_ANNOTATION, UNCOMPRESSED_SIZE_ANNOTATION } from "../estargz/annotations.js";

/** A layer descriptor of a resolved image, with its diffID from the config. */
export interface ImageLayer {
  digest: string;
  size: number;
  mediaType: string;
  annotations?: Record<string, string>;
  diffId: string;
}

/** An image as resolved for this host's platform, pinned to its manifest. */
export interface ResolvedImage {
  /** `registry/repository@<manifest digest>`: resolving it again gives the same manifest. */
  image: string;
  layers: ImageLayer[];
}

export const tocDigestOf = (l: ImageLayer): string | undefined => l.annotations?.[TOC_DIGEST_ANNOTATION];
/** A layer named by `digest` in an image: its layer digest, or its TOC digest. */
export const findLayer = (layers: ImageLayer[], digest: string): ImageLayer | undefined =>
  layers.find((l) => l.digest === digest) ?? layers.find((l) => tocDigestOf(l) === digest);

/**
 * The `info` file. A layer-digest lookup (podman ≤ 5.0) gets the manifest's and config's digests and
 * sizes: `compression: 2` (gzip) is required for export; `diff-size` comes from the uncompressed-size
 * annotation or is -1. A TOC-digest lookup (containers/storage ≥ 5.1) is identified by its TOC digest
 * alone: exactly upstream's fields, the config's diffID only as the hint `expected-layer-diffid`, and
 * no digest or size the store has not verified (the engine indexes a layer under every digest `info`
 * claims).
 */
export function layerInfo(desc: ImageLayer, byToc: boolean): Uint8Array {
  const info: Record<string, unknown> = byToc
    ? { "diff-size": -1, compression: 2, "toc-digest": desc.annotations![TOC_DIGEST_ANNOTATION], flags: { "expected-layer-diffid": desc.diffId } }
    : {
      "compressed-diff-digest": desc.digest,
      "compressed-size": desc.size,
      "diff-digest": desc.diffId,
      "diff-size": uncompressedSize(desc) ?? -1,
      compression: 2,
    };
  return new TextEncoder().encode(JSON.stringify(info));
}

function uncompressedSize(desc: ImageLayer): number | undefined {
  const note = desc.annotations?.[UNCOMPRESSED_SIZE_ANNOTATION];
  return note !== undefined && /^\d+$/.test(note) ? Number(note) : undefined;
}

