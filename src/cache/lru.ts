// A memory LRU of chunk bytes bounded by their total size (not by entry count: chunk sizes differ by
// orders of magnitude between layers). A Map keeps insertion order; a hit re-inserts the key, so the
// first key is always the least recently used.
//
// Entries put on probation (background work nobody waits for yet) live in a second Map under the same
// bound: they are evicted before any other entry, a probation insert never evicts a regular one (it is
// not kept when only they could make room), and a hit promotes the entry. So a background fetch
// running through a layer cannot push out the chunks a reader is in the middle of.
export class ByteLru {
  private readonly map = new Map<string, Uint8Array>();
  private readonly probation = new Map<string, Uint8Array>();
  private total = 0;
  /** Bytes of the regular (non-probation) entries. */
  private mainBytes = 0;

  constructor(readonly maxBytes: number) {}

  /** Bytes held. */
  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.map.size + this.probation.size;
  }

  get(key: string): Uint8Array | undefined {
    let v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
    } else {
      v = this.probation.get(key);
      if (v === undefined) return undefined;
      this.probation.delete(key);
      this.mainBytes += v.byteLength;
    }
    this.map.set(key, v);
    return v;
  }

  has(key: string): boolean {
    return this.map.has(key) || this.probation.has(key);
  }

  /**
   * Keeps `value` unless it alone exceeds the bound; evicts probation entries first, then the least
   * recently used. With `probation`, only older probation entries make room (or `value` is dropped).
   */
  set(key: string, value: Uint8Array, probation = false): void {
    this.delete(key);
    if (value.byteLength > this.maxBytes - (probation ? this.mainBytes : 0)) return;
    (probation ? this.probation : this.map).set(key, value);
    this.total += value.byteLength;
    if (!probation) this.mainBytes += value.byteLength;
    this.evict(this.probation);
    if (!probation) this.evict(this.map);
  }

  private evict(from: Map<string, Uint8Array>): void {
    for (const [k, v] of from) {
      if (this.total <= this.maxBytes) break;
      from.delete(k);
      this.total -= v.byteLength;
      if (from === this.map) this.mainBytes -= v.byteLength;
    }
  }

  delete(key: string): void {
    const inMain = this.map.get(key);
    const v = inMain ?? this.probation.get(key);
    if (v === undefined) return;
    (inMain !== undefined ? this.map : this.probation).delete(key);
    this.total -= v.byteLength;
    if (inMain !== undefined) this.mainBytes -= v.byteLength;
  }

  clear(): void {
    this.map.clear();
    this.probation.clear();
    this.total = 0;
    this.mainBytes = 0;
  }
}
