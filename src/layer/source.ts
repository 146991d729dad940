// Where a layer's compressed bytes come from: the registry's blob reader in the store, any random-access
// source in tests.
import type { Priority } from "../util/priority.js";

/**
 * Random access to the compressed blob. The bytes returned belong to the caller (the reader may
 * transfer their buffer to a worker).
 */
export interface RangeSource {
  readonly size: number;
  /** `priority`: what the bytes are for (the store's metrics label fetches with it); "high" when omitted. */
  read(offset: number, length: number, priority?: Priority): Promise<Uint8Array>;
  /** Several ranges in one request where the server allows it; results in the order asked. */
  readRanges?(ranges: Array<{ offset: number; length: number }>, priority?: Priority): Promise<Uint8Array[]>;
}
