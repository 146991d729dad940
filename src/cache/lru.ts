// A memory LRU of chunk bytes bounded by their total size (not by entry count: chunk sizes differ by
// orders of magnitude between layers). A Map keeps insertion order; a hit re-inserts the key, so the
// first key is always the least recently used.
export class ByteLru {
  private readonly map = new Map<string, Uint8Array>();
  private total = 0;

  constructor(readonly maxBytes: number) {}

  /** Bytes held. */
  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.map.size;
  }

  get(key: string): Uint8Array | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  /** Keeps `value` unless it alone exceeds the bound; evicts the least recently used to make room. */
  set(key: string, value: Uint8Array): void {
    this.delete(key);
    if (value.byteLength > this.maxBytes) return;
    this.map.set(key, value);
    this.total += value.byteLength;
    for (const [k, v] of this.map) {
      if (this.total <= this.maxBytes) break;
      this.map.delete(k);
      this.total -= v.byteLength;
    }
  }

  delete(key: string): void {
    const v = this.map.get(key);
    if (v === undefined) return;
    this.map.delete(key);
    this.total -= v.byteLength;
  }

  clear(): void {
    this.map.clear();
    this.total = 0;
  }
}
