// The raw blob of a layer, served only once the whole of it hashed to the layer digest: the first
// open fetches it (ranges in parallel, hashed in order) into a local file, which then answers reads.
import { createHash } from "node:crypto";
import { open, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { RangeSource } from "./source.js";

/** The whole blob is fetched in ranges of this size, this many at once. */
const BLOB_WINDOW = 4 << 20;
const BLOB_WINDOWS_IN_FLIGHT = 4;
/** The blob is hashed in pieces of this size (each a slice of the event loop's time). */
const BLOB_HASH_PIECE = 1 << 20;

/** The whole blob, verified, in a local file. */
export interface VerifiedBlob {
  read(into: Uint8Array, offset: number, length: number): Promise<number>;
  remove(): Promise<void>;
}

export class BlobDigestMismatch extends Error {
  constructor(readonly expected: string, readonly actual: string) {
    super(`blob of layer ${expected} hashes to ${actual}: the registry served different bytes`);
  }
}

// Fetches the blob in BLOB_WINDOW ranges, BLOB_WINDOWS_IN_FLIGHT at a time, writes each where it
// belongs and hashes them in order; the file is used only once the digest matched.
export async function fetchVerifiedBlob(source: RangeSource, facts: { digest: string; size: number }, dir: string): Promise<VerifiedBlob> {
  const path = join(dir, `${facts.digest.replace(":", "-")}.${process.pid}.${Math.random().toString(36).slice(2)}`);
  const fh: FileHandle = await open(path, "wx+", 0o600);
  const remove = async () => { await fh.close().catch(() => {}); await unlink(path).catch(() => {}); };
  try {
    const hash = createHash("sha256");
    const size = facts.size;
    const windows: Array<Promise<Uint8Array>> = [];
    let asked = 0;
    const ask = () => {
      if (asked >= size) return;
      const len = Math.min(BLOB_WINDOW, size - asked);
      const at = asked;
      const p = source.read(at, len).then(async (bytes) => {
        if (bytes.length !== len) throw new Error(`blob range ${at}+${len}: got ${bytes.length} bytes`);
        await fh.write(bytes, 0, len, at);
        return bytes;
      });
      p.catch(() => {});
      windows.push(p);
      asked += len;
    };
    while (windows.length < BLOB_WINDOWS_IN_FLIGHT && asked < size) ask();
    while (windows.length) {
      const bytes = await windows.shift()!;
      ask();
      for (let o = 0; o < bytes.length; o += BLOB_HASH_PIECE) {
        hash.update(bytes.subarray(o, o + BLOB_HASH_PIECE));
        if (o + BLOB_HASH_PIECE < bytes.length) await new Promise<void>((r) => setImmediate(r));
      }
    }
    const actual = `sha256:${hash.digest("hex")}`;
    if (actual !== facts.digest) throw new BlobDigestMismatch(facts.digest, actual);
  } catch (e) {
    await remove();
    throw e;
  }
  return {
    read: async (into, offset, length) => {
      if (offset >= facts.size || length <= 0) return 0;
      const n = Math.min(length, facts.size - offset);
      let done = 0;
      while (done < n) {
        const { bytesRead } = await fh.read(into, done, n - done, offset + done);
        if (bytesRead === 0) throw new Error(`verified blob copy of ${facts.digest} ended at ${offset + done}`);
        done += bytesRead;
      }
      return n;
    },
    remove,
  };
}

