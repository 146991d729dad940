// Node's ChunkVerifier: the core's pipeline with node:crypto's SHA-256 (CPU SHA instructions)
// available as the host hash, run over a zero-copy view of Wasm memory.
import { createHash } from "node:crypto";
import { ChunkVerifier, type ChunkVerifierOptions, type HostHash } from "../core/chunk.js";
import type { Core } from "../core/wasm.js";
import { nodeCore } from "./core.js";

/** node:crypto SHA-256 of a byte view (no copy of the input). */
export const nodeSha256: HostHash = (bytes) => createHash("sha256").update(bytes).digest();

/** A ChunkVerifier on `core` (this thread's core by default) with node:crypto as the host hash. */
export function createNodeChunkVerifier(core: Core = nodeCore(), opts: Omit<ChunkVerifierOptions, "hostHash"> = {}): ChunkVerifier {
  return new ChunkVerifier(core, { ...opts, hostHash: nodeSha256 });
}
