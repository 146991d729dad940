// The two benchmark layers (../shared/bench/make-layers.sh), cached under .bench-cache/ (gitignored).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const cacheDir = join(repoRoot, ".bench-cache");
const shared = process.env.ESGZ_SHARED ?? resolve(repoRoot, "..", "shared");

export function benchLayers(): string[] {
  const dir = join(cacheDir, "layers");
  const layers = ["layer1.tar", "layer2.tar"].map((n) => join(dir, n));
  if (!layers.every(existsSync)) {
    mkdirSync(dir, { recursive: true });
    const cmd = process.getuid?.() === 0 ? ["bash"] : ["sudo", "bash"];
    execFileSync(cmd[0], [...cmd.slice(1), join(shared, "bench", "make-layers.sh"), dir], { stdio: ["ignore", "ignore", "inherit"] }); // its listing of the result is not ours to print
  }
  return layers;
}

export const mb = (bytes: number) => bytes / 1e6;
export const fmt = (x: number, d = 1) => x.toFixed(d);
