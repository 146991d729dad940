// One workload over an eStargz blob that runs unchanged in Node and in a browser page: the core
// API comes in as a parameter (the page imports it as `esgz-fast/core`, Node from src/core), so
// this module imports nothing at run time. Browser-safe: no `node:` imports.
import type * as CoreApi from "../../src/core/index.js";

export interface WorkloadResult {
  /** SHA-256 (hex) and CRC-32 of the blob as stored. */
  blobSha256: string;
  blobCrc32: number;
  /** The whole blob gunzipped in one stream (pieces of an odd size): its SHA-256 = the diff_id. */
  tarSha256: string;
  tarCrc32: number;
  tarSize: number;
  /** Gzip members seen by the streaming inflater: [compressed start, end, decompressed start, end]. */
  members: [number, number, number, number][];
  /** SHA-256 of each member's output, from the one-shot inflater, hashed four lanes at a time. */
  memberSha256: string[];
  /** SHA-256 of each compressed member, four lanes at a time over views of Wasm memory. */
  compressedMemberSha256: string[];
}

/** Feed size for the streaming inflater: a prime, so pieces straddle every kind of boundary. */
const PIECE = 7919;

export function coreWorkload(api: typeof CoreApi, core: CoreApi.Core, blob: Uint8Array): WorkloadResult {
  const blobSha256 = api.sha256Hex(core, blob);
  const blobCrc32 = api.crc32(core, blob);

  // Whole-blob gunzip, streaming; hash and checksum the output in place as it comes.
  const tarHash = new api.Sha256(core);
  const tarCrc = new api.Crc32(core);
  let tarSize = 0;
  const members: [number, number, number, number][] = [];
  const stream = new api.GzipStreamInflater(core, {
    onData: (bytes) => { tarHash.update(bytes); tarCrc.update(bytes); tarSize += bytes.length; },
    onMember: (m) => { members.push([m.compressedStart, m.compressedEnd, m.decompressedStart, m.decompressedEnd]); },
  });
  for (let off = 0; off < blob.length; off += PIECE) stream.push(blob.subarray(off, off + PIECE));
  stream.finish();
  stream.dispose();
  const tarSha256 = tarHash.digestHex();
  tarHash.free();

  // Every member again, one-shot into Wasm memory (sizes from the stream's boundaries), its
  // output copied into one block so all of them can be hashed four lanes at a time.
  const totalOut = members.reduce((s, m) => s + (m[3] - m[2]), 0);
  const out = core.exports.alloc(Math.max(totalOut, 1));
  const inflater = new api.Inflater(core);
  const regions: CoreApi.WasmRegion[] = [];
  let at = out;
  for (const [cs, ce, ds, de] of members) {
    const view = inflater.inflate(blob.subarray(cs, ce), de - ds);
    core.bytes.copyWithin(at, view.byteOffset, view.byteOffset + view.length);
    regions.push({ ptr: at, len: view.length });
    at += view.length;
  }
  inflater.dispose();
  const memberSha256 = api.sha256Regions(core, regions).map((d) => api.toHex(d));
  core.exports.free(out);

  // The compressed members, staged into Wasm memory once, hashed in place as views.
  const staged = core.exports.alloc(blob.length);
  core.bytes.set(blob, staged);
  const views = members.map(([cs, ce]) => core.slice(staged + cs, ce - cs));
  const compressedMemberSha256 = api.sha256x4(core, views).map((d) => api.toHex(d));
  core.exports.free(staged);

  return { blobSha256, blobCrc32, tarSha256, tarCrc32: tarCrc.value, tarSize, members, memberSha256, compressedMemberSha256 };
}
