// What OCI layouts and registries have in common: from a manifest and its config to one target per
// layer (descriptor annotations + the config's diff_ids), and `--layer` selection.
import {
  UsageError, checkDigest, expectationsFromDescriptor,
  type LooseDescriptor, type LayerBlob, type LayerTarget,
} from "../target.js";

export interface Manifest {
  schemaVersion?: number;
  mediaType?: string;
  config: LooseDescriptor;
  layers: LooseDescriptor[];
}

export interface ImageConfig {
  rootfs?: { type?: string; diff_ids?: string[] };
}

/** Platform as written on the command line: os/arch[/variant]. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export function parsePlatform(s: string): Platform {
  const [os, architecture, variant, extra] = s.split("/");
  if (!os || !architecture || extra !== undefined) throw new UsageError(`--platform ${JSON.stringify(s)} is not os/arch[/variant]`);
  return { os, architecture, variant };
}

export function platformMatches(d: LooseDescriptor, p: Platform): boolean {
  const q = d.platform;
  return !!q && q.os === p.os && q.architecture === p.architecture && (p.variant === undefined || q.variant === p.variant);
}

export function formatPlatform(d: LooseDescriptor): string {
  const q = d.platform;
  return q ? [q.os, q.architecture, q.variant].filter(Boolean).join("/") : "(no platform)";
}

/** A manifest's layers as targets; `openLayer` opens a blob by its descriptor. */
export function imageTargets(
  manifest: Manifest,
  config: ImageConfig,
  what: string,
  openLayer: (d: LooseDescriptor) => Promise<LayerBlob>,
): LayerTarget[] {
  if (!Array.isArray(manifest.layers)) throw new UsageError(`${what}: manifest has no "layers" array`);
  const diffIds = config.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.length !== manifest.layers.length) {
    throw new UsageError(
      `${what}: the config lists ${Array.isArray(diffIds) ? diffIds.length : "no"} diff_ids for ${manifest.layers.length} layers`,
    );
  }
  return manifest.layers.map((d, i) => {
    const expect = expectationsFromDescriptor(d, `${what} layer ${i}`);
    expect.diffId = checkDigest(diffIds[i], `${what}: config rootfs.diff_ids[${i}]`);
    return { label: `layer ${i}`, index: i, expect, open: () => openLayer(d) };
  });
}

/** `--layer N` (0-based index) or `--layer sha256:…` (a layer digest) picks one; absent keeps all. */
export function selectLayers(targets: LayerTarget[], layer: string | number | undefined): LayerTarget[] {
  if (layer === undefined) return targets;
  const s = String(layer);
  if (/^\d+$/.test(s)) {
    const t = targets[Number(s)];
    if (!t) throw new UsageError(`--layer ${s}: the image has ${targets.length} layers (0 to ${targets.length - 1})`);
    return [t];
  }
  const hits = targets.filter((t) => t.expect.digest === s || t.expect.digest?.replace(/^sha256:/, "").startsWith(s.replace(/^sha256:/, "")));
  if (hits.length === 0) throw new UsageError(`--layer ${s}: no layer of the image has that digest`);
  if (new Set(hits.map((h) => h.expect.digest)).size > 1) ambiguous(s);
  return [hits[0]];
}

function ambiguous(s: string): never {
  throw new UsageError(`--layer ${s}: matches more than one layer; give more digits`);
}
