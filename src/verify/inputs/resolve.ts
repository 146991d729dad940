// Which kind of input the user named: a blob file, an OCI layout directory, or a registry reference.
import { stat } from "node:fs/promises";
import { UsageError, type LayerTarget } from "../target.js";
import { blobTarget, type BlobFlags } from "./blob.js";
import { parsePlatform, selectLayers } from "./image.js";
import { isOciLayout, layoutTargets } from "./layout.js";

export interface InputOptions extends BlobFlags {
  layer?: string | number;
  platform?: string;
  refName?: string;
  /** Registry hosts configuration (stargz-store's [resolver] TOML) for registry references. */
  hostsConfig?: string;
  /** Registry references: seconds each request (headers and body) may take; the hosts configuration's, else 30. */
  timeout?: string | number;
}

const BLOB_FLAGS = ["digest", "tocDigest", "diffId", "uncompressedSize", "size", "descriptor"] as const;

export async function resolveInput(input: string, opts: InputOptions): Promise<LayerTarget[]> {
  const st = await stat(input).catch(() => undefined);
  const platform = opts.platform !== undefined ? parsePlatform(String(opts.platform)) : undefined;
  if (st?.isFile()) {
    if (opts.layer !== undefined || opts.platform !== undefined) throw new UsageError("--layer and --platform apply to images, not to a blob file");
    return [await blobTarget(input, opts)];
  }
  const blobFlag = BLOB_FLAGS.find((f) => opts[f] !== undefined);
  if (blobFlag) throw new UsageError(`--${blobFlag.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())} applies to a blob file; an image's layers are checked against its manifest and config`);
  if (st?.isDirectory()) {
    if (!(await isOciLayout(input))) throw new UsageError(`${input} is a directory but not an OCI image layout (no oci-layout file)`);
    return selectLayers(await layoutTargets(input, { platform, refName: opts.refName }), opts.layer);
  }
  if (input.startsWith("/") || input.startsWith("./") || input.startsWith("../")) throw new UsageError(`${input}: no such file or directory`);
  const { registryTargets } = await import("./registry.js"); // the registry client loads only when needed
  return selectLayers(await registryTargets(input, { platform, hostsConfig: opts.hostsConfig, timeout: opts.timeout }), opts.layer);
}
