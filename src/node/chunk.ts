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

const verifiers = new WeakMap<Core, ChunkVerifier>();
// The hash "auto" chose on this thread: the verifier of a replaced core starts from it instead of
// measuring both again on its first chunks.
let chosen: "wasm" | "host" | undefined;

/** The verifier of `core` (node:crypto as host hash), made on first use and dropped with the core. */
export function chunkVerifierOf(core: Core): ChunkVerifier {
  let v = verifiers.get(core);
  if (!v) verifiers.set(core, (v = createNodeChunkVerifier(core, { hash: chosen ?? "auto" })));
  else if (!chosen && v.hashInUse !== "calibrating") chosen = v.hashInUse;
  return v;
}
