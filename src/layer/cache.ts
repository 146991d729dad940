// The chunk cache as the read path uses it (src/cache implements it): verified, decompressed chunks
// by digest and size.
import type { Priority } from "../util/priority.js";

/**
 * Verified chunks by digest (64 hex digits) and size: a chunk is what hashes to its digest AND has
 * the size the TOC gives it; an entry of another size is a miss. Only verified bytes go in.
 */
export interface ChunkStore {
  /** The memory part, synchronously; a hit is counted. */
  getMemory(digestHex: string, size: number): Uint8Array | undefined;
  /** Whether memory holds it, without counting a hit or touching its recency. */
  hasMemory(digestHex: string): boolean;
  /** Whether `readInto` serves the chunk (the disk holds it, checked already). */
  readable(digestHex: string, size: number): boolean;
  /**
   * Bytes [offset, offset + length) of the chunk straight from the disk into `into` (no copy in
   * memory); undefined at once when `readable` is false, or later when the read failed: then `get` it.
   */
  readInto(digestHex: string, size: number, into: Uint8Array, offset: number, length: number): Promise<number | undefined> | undefined;
  /** Memory, then disk (what is read from disk is checked before it is returned). */
  get(digestHex: string, size: number, priority: Priority): Promise<Uint8Array | undefined>;
  /**
   * Keeps verified bytes; the promise settles once they are on disk. Low priority = nobody waits for
   * them yet (kept in memory only while they displace nothing else).
   */
  put(digestHex: string, data: Uint8Array, priority: Priority): Promise<void>;
  /** Keeps verified bytes in memory as regular entries (a reader took them from a low-priority fetch). */
  remember(digestHex: string, data: Uint8Array): void;
  /** Which of the chunks the cache holds (memory, pending write or disk), without reading them. */
  hasMany(digestHexes: string[]): Promise<boolean[]>;
}
