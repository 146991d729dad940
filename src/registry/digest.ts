// Content digests: "sha256:<hex>" (and sha512) of bytes, incrementally or at once.
import { createHash, type Hash } from "node:crypto";
import { RegistryError, type RegistryErrorContext } from "./errors.js";

export function digestAlgorithm(digest: string): "sha256" | "sha512" {
  const alg = digest.slice(0, digest.indexOf(":"));
  if (alg !== "sha256" && alg !== "sha512") throw new RegistryError("reference", `unsupported digest algorithm in ${digest}`);
  return alg;
}

export function digestOf(data: Uint8Array, algorithm: "sha256" | "sha512" = "sha256"): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest("hex")}`;
}

/** An incremental hasher for the algorithm of `expected`. */
export function hasherFor(expected: string): { hash: Hash; finish(): string } {
  const alg = digestAlgorithm(expected);
  const hash = createHash(alg);
  return { hash, finish: () => `${alg}:${hash.digest("hex")}` };
}

/** Throws a "digest" error unless `data` has digest `expected`. */
export function checkDigest(data: Uint8Array, expected: string, ctx: RegistryErrorContext): void {
  const actual = digestOf(data, digestAlgorithm(expected));
  if (actual !== expected) throw new RegistryError("digest", `content digest mismatch: expected ${expected}, got ${actual} (${data.length} bytes)`, ctx);
}
