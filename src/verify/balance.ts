// Which thread hashes the decompressed stream (diffID), so that neither waits for the other. The worker
// inflates (about 3× the cost of hashing a byte, measured with node:crypto's SHA-NI SHA-256 against the
// core's inflater); the main thread hashes the blob, every chunk, multi-chunk files once more, and walks
// the tar (about 15 µs an entry ≈ 22 KB of hashing). The diffID goes where it makes the slower side
// least slow. Without a TOC the main thread only hashes the blob, so it takes the diffID too.
import type { TocView } from "./toc-view.js";

const INFLATE_COST = 3; // per decompressed byte, in units of one byte hashed
const ENTRY_COST = 22 << 10; // per tar entry walked

export function diffIdOnMainThread(toc: TocView | undefined, blobSize: number): boolean {
  if (!toc) return true;
  let payload = 0, twice = 0, files = 0;
  for (let id = 0; id < toc.count; id++) {
    if (toc.isImplicit(id)) continue;
    files++;
    const n = toc.chunkCount(id);
    if (n === 0) continue;
    const size = toc.size(id);
    payload += size;
    if (n > 1) twice += size;
  }
  const decompressed = payload + files * 1024; // headers and padding, roughly
  const main = blobSize + payload + twice + files * ENTRY_COST;
  const worker = INFLATE_COST * decompressed;
  const inWorker = Math.max(main, worker + decompressed);
  const onMain = Math.max(main + decompressed, worker);
  return onMain < inWorker;
}
