// The `info` file of a layer directory: what the engine indexes the layer by (spec/als.md).
import { TOC_DIGEST_ANNOTATION, UNCOMPRESSED_SIZE_ANNOTATION } from "../estargz/annotations.js";
import type { ImageLayer } from "./store.js";

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

