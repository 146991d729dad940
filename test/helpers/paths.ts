// Where the tests find the repository and ../shared (fixtures, specs, bench layer recipe).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (tests run from dist/test/<folder>/). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/** ../shared beside the checkout, or $ESGZ_SHARED. */
export const sharedDir = process.env.ESGZ_SHARED ?? resolve(repoRoot, "..", "shared");

export const fixturesDir = join(sharedDir, "fixtures", "go-reference");

if (!existsSync(fixturesDir)) {
  throw new Error(`fixtures not found at ${fixturesDir}: put shared/ beside the checkout or set ESGZ_SHARED`);
}

/** The four Go-reference blobs and their expected facts from EXPECTED.tsv. */
export interface FixtureFacts {
  blob: string;
  path: string;
  blobDigest: string;
  size: number;
  tocDigest: string;
  diffId: string;
  uncompressedSize: number;
}


export function fixtures(): FixtureFacts[] {
  const lines = readFileSync(join(fixturesDir, "EXPECTED.tsv"), "utf8").trim().split("\n").slice(1);
  return lines.map((line) => {
    const [blob, blobDigest, size, tocDigest, diffId, uncompressedSize] = line.split("\t");
    return {
      blob, path: join(fixturesDir, blob), blobDigest, size: Number(size), tocDigest, diffId,
      uncompressedSize: Number(uncompressedSize),
    };
  });
}
