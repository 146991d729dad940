// Inflate throughput (MB/s of output) on eStargz-like members: the Wasm core beside node:zlib and
// fflate, in one process, medians of several passes. Inputs come from JavaScript buffers (the Wasm
// side copies each member in; its output stays in Wasm memory, as the chunk reader uses it).
import zlib from "node:zlib";
import * as fflate from "fflate";
import { GzipStreamInflater, Inflater, WasmBuffer } from "../../src/core/index.js";
import { newNodeCore } from "../../src/node/core.js";
import { cpuMs, median, rates, workloads } from "./members.js";

const PASSES = 7;
const col = (s: string | number, w = 9) => String(typeof s === "number" ? s.toFixed(0) : s).padStart(w);

export async function run(): Promise<void> {
  const core = newNodeCore();
  const inf = new Inflater(core);
  console.log(`\nInflate, MB/s of output per CPU second (median of ${PASSES} interleaved passes; level-9 members of /usr/lib/python3.11 files)`);
  console.log(
    `${"workload".padEnd(24)}${col("wasm")}${col("wasm-crc")}${col("zlib-raw")}${col("gunzip")}${col("fflate")}` +
    `${col("wasm/raw", 10)}${col("crc/gunzip", 11)}`,
  );
  for (const w of workloads()) {
    // Same work for each: every member of the workload, decompressed in full.
    const bodies = w.members.map((m) => m.gz.subarray(10, m.gz.length - 8));
    const r = rates(w.bytes, PASSES, {
      wasm: () => { for (const m of w.members) inf.inflate(m.gz, m.raw.length, { checkCrc: false }); },
      wasmCrc: () => { for (const m of w.members) inf.inflate(m.gz, m.raw.length); },
      zraw: () => { for (const b of bodies) zlib.inflateRawSync(b); },
      gunzip: () => { for (const m of w.members) zlib.gunzipSync(m.gz); },
      ff: () => { for (const m of w.members) fflate.gunzipSync(m.gz, { out: new Uint8Array(m.raw.length) }); },
    });
    const { wasm, wasmCrc, zraw, gunzip, ff } = r;
    console.log(
      `${w.name.padEnd(24)}${col(wasm)}${col(wasmCrc)}${col(zraw)}${col(gunzip)}${col(ff)}` +
      `${col((wasm / zraw).toFixed(2), 10)}${col((wasmCrc / gunzip).toFixed(2), 11)}`,
    );
  }

  // Streaming a whole blob of members (what `verify` does): GzipStreamInflater fed 64 KiB pieces
  // vs one gunzipSync of the blob (zlib, also through its member boundaries).
  const files = workloads()[3];
  const blob = Buffer.concat(files.members.map((m) => m.gz));
  const pieces: Buffer[] = [];
  for (let off = 0; off < blob.length; off += 65536) pieces.push(blob.subarray(off, off + 65536));
  let sink = 0;
  const streamer = new GzipStreamInflater(core, { onData: (v) => { sink += v.length; } });
  const streamerNoCrc = new GzipStreamInflater(core, { checkCrc: false, onData: (v) => { sink += v.length; } });
  const s = rates(files.bytes, PASSES, {
    wasm: () => { streamerNoCrc.reset(); for (const p of pieces) streamerNoCrc.push(p); streamerNoCrc.finish(); },
    wasmCrc: () => { streamer.reset(); for (const p of pieces) streamer.push(p); streamer.finish(); },
    gunzip: () => { zlib.gunzipSync(blob); },
  });
  console.log(`${"stream: blob of members".padEnd(24)}${col(s.wasm)}${col(s.wasmCrc)}${col("")}${col(s.gunzip)}${col("")}` +
    `${col("", 10)}${col((s.wasmCrc / s.gunzip).toFixed(2), 11)}`);
  streamer.dispose();
  streamerNoCrc.dispose();
  if (sink === 0) throw new Error("no output");

  // Per-call cost on a tiny member (64 bytes out), input and output already placed in Wasm memory:
  // with a fixed-code block, and with a dynamic block (whose tables are built on each call).
  const tiny = Buffer.from("eStargz chunk: a tiny member to measure the cost of one call....");
  const inBuf = new WasmBuffer(core);
  const outBuf = new WasmBuffer(core, tiny.length);
  const N = 20000;
  const perCall = (fn: () => void) => {
    const r: number[] = [];
    for (let p = 0; p < PASSES; p++) {
      const t = cpuMs();
      for (let i = 0; i < N; i++) fn();
      r.push(((cpuMs() - t) * 1000) / N);
    }
    return median(r);
  };
  for (const [kind, strategy] of [["fixed", zlib.constants.Z_FIXED], ["dynamic", zlib.constants.Z_DEFAULT_STRATEGY]] as const) {
    const gz = zlib.gzipSync(tiny, { strategy });
    const inPtr = inBuf.write(gz);
    const wasmCall = perCall(() => inf.inflateRegion(inPtr, gz.length, outBuf.ptr, tiny.length));
    const zlibCall = perCall(() => zlib.gunzipSync(gz));
    const ffCall = perCall(() => fflate.gunzipSync(gz));
    console.log(`per call, ${tiny.length}-byte member, ${kind} block: wasm ${wasmCall.toFixed(2)} µs, node:zlib ${zlibCall.toFixed(2)} µs, fflate ${ffCall.toFixed(2)} µs`);
  }
  inBuf.dispose();
  outBuf.dispose();
  inf.dispose();
}
