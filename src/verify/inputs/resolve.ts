// Which kind of input the user named: a blob file, an OCI layout directory, or a registry reference.
import { lstat, readlink, stat } from "node:fs/promises";
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

/**
 * Why `input` names no local file: `undefined` when nothing is there at all (it may then be a
 * registry reference), else what stands in the way (a symlink loop, a dangling symlink, no access).
 */
async function localPathProblem(input: string, err: NodeJS.ErrnoException): Promise<string | undefined> {
  if (err.code === "ELOOP") return "symlink loop (too many levels of symbolic links)";
  if (err.code !== "ENOENT") return `${err.code ?? "error"}: ${err.message}`;
  const link = await lstat(input).catch(() => undefined);
  if (link?.isSymbolicLink()) return `dangling symlink (to ${await readlink(input).catch(() => "?")}): no such file or directory`;
  return undefined;
}

export async function resolveInput(input: string, opts: InputOptions): Promise<LayerTarget[]> {
  let statErr: NodeJS.ErrnoException | undefined;
  const st = await stat(input).catch((err) => void (statErr = err));
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
  const problem = statErr ? await localPathProblem(input, statErr) : undefined;
  if (problem) throw new UsageError(`${input}: ${problem}`);
  const missing = `${input}: no such file or directory`;
  if (input.startsWith("/") || input.startsWith("./") || input.startsWith("../")) throw new UsageError(missing);
  // Nothing at that path: a registry reference, if it is one. A failure says both, so that a
  // mistyped file name is not reported only as a registry (or DNS) error.
  const [{ registryTargets }, { parseReference, formatReference }] = await Promise.all([
    import("./registry.js"), import("../../registry/reference.js"), // the registry client loads only when needed
  ]);
  let ref: string;
  try {
    ref = formatReference(parseReference(input));
  } catch (err) {
    throw new UsageError(`${missing} (nor an image reference: ${(err as Error).message})`);
  }
  let targets: LayerTarget[];
  try {
    targets = await registryTargets(input, { platform, hostsConfig: opts.hostsConfig, timeout: opts.timeout });
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const why = err.message.startsWith(`${input}: `) ? err.message.slice(input.length + 2) : err.message;
    throw new UsageError(`${missing}; tried as the registry reference ${ref}: ${why}`);
  }
  return selectLayers(targets, opts.layer);
}
