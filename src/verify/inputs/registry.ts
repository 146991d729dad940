// Input: an image in a registry. Waits for src/registry (resolveImage, blob streaming).
import { UsageError, type LayerTarget } from "../target.js";
import type { Platform } from "./image.js";

export async function registryTargets(ref: string, _opts: { platform?: Platform; hostsConfig?: string }): Promise<LayerTarget[]> {
  throw new UsageError(`${ref}: not a file or directory, and registry references are not supported yet`);
}
