// Inflate + verify of chunks (MB/s of verified output per CPU second): the Wasm pipeline with its
// own SHA-256, with node:crypto over a view of Wasm memory, and with the measured choice, beside
// node:zlib gunzip + node:crypto doing the same work. Members come from JavaScript buffers.
import zlib from "node:zlib";
import { createHash } from "node:crypto";
import { ChunkVerifier } from "../../src/core/index.js";
import { newNodeCore } from "../../src/node/core.js";
import { createNodeChunkVerifier } from "../../src/node/chunk.js";
import { rates, workloads } from "./members.js";

const PASSES = 7;
const col = (s: string | number, w = 10) => String(typeof s === "number" ? s.toFixed(0) : s).padStart(w);

export async function run(): Promise<void> {
  const core = newNodeCore();
  const wasmHash = new ChunkVerifier(core, { hash: "wasm" });
  const hostHash = createNodeChunkVerifier(core, { hash: "host" });
  const auto = createNodeChunkVerifier(core);
  console.log(`\nInflate + SHA-256 verify of chunks, MB/s per CPU second (median of ${PASSES} interleaved passes)`);
  console.log(`${"workload".padEnd(24)}${col("wasm+wasm")}${col("wasm+host")}${col("auto")}${col("zlib+crypto", 12)}${col("best/zlib")}  auto chose`);
  for (const w of workloads()) {
    const digests = w.members.map((m) => createHash("sha256").update(m.raw).digest());
    const r = rates(w.bytes, PASSES, {
      wasm: () => { w.members.forEach((m, i) => wasmHash.verify(m.gz, 0, m.raw.length, digests[i])); },
      host: () => { w.members.forEach((m, i) => hostHash.verify(m.gz, 0, m.raw.length, digests[i])); },
      auto: () => { w.members.forEach((m, i) => auto.verify(m.gz, 0, m.raw.length, digests[i])); },
      zlib: () => {
        w.members.forEach((m, i) => {
          const out = zlib.gunzipSync(m.gz);
          const d = createHash("sha256").update(out).digest();
          if (!d.equals(digests[i])) throw new Error("digest mismatch");
        });
      },
    });
    const best = Math.max(r.wasm, r.host);
    console.log(`${w.name.padEnd(24)}${col(r.wasm)}${col(r.host)}${col(r.auto)}${col(r.zlib, 12)}${col((best / r.zlib).toFixed(2))}  ${auto.hashInUse}`);
  }
  wasmHash.dispose();
  hostHash.dispose();
  auto.dispose();
}
