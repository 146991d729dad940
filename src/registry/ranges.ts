// Copying response bytes into the caller's buffers: each byte at blob position p goes straight into
// every requested range that holds p, whatever shape the answer took (the exact range, a covering
// range, several multipart parts, or the whole blob from a registry that ignores Range).
import { RegistryError } from "./errors.js";

export interface RangeTarget {
  offset: number;
  length: number;
  /** Exactly `length` bytes, filled in place. */
  into: Uint8Array;
}

/** `bytes a-b/total` → {start, end (inclusive), total (undefined for *)}; undefined if malformed or invalid. */
export function parseContentRange(v: string | string[] | undefined): { start: number; end: number; total?: number } | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  const m = s ? /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(s) : null;
  if (!m) return undefined;
  const start = Number(m[1]), end = Number(m[2]);
  const total = m[3] === "*" ? undefined : Number(m[3]);
  // Invalid (RFC 9110 §14.4): last-pos before first-pos, or a complete-length not above last-pos. Digits
  // beyond 2^53 would round to a neighbouring offset: refused too.
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return undefined;
  if (total !== undefined && !(Number.isSafeInteger(total) && end < total)) return undefined;
  return { start, end, total };
}

/** The Range header value for these ranges, sorted, overlapping and adjacent ones merged. */
export function rangeHeader(ranges: { offset: number; length: number }[]): { header: string; spans: [number, number][] } {
  const sorted = ranges.filter((r) => r.length > 0).map((r) => [r.offset, r.offset + r.length] as [number, number]).sort((a, b) => a[0] - b[0]);
  const spans: [number, number][] = [];
  for (const s of sorted) {
    const last = spans[spans.length - 1];
    if (last && s[0] <= last[1]) last[1] = Math.max(last[1], s[1]);
    else spans.push([s[0], s[1]]);
  }
  return { header: "bytes=" + spans.map(([a, b]) => `${a}-${b - 1}`).join(","), spans };
}

export class RangeWriter {
  private readonly targets: RangeTarget[];
  private readonly filled: number[];
  private writtenTo = 0;
  /** One past the last byte any target needs. */
  readonly end: number;
  readonly start: number;

  constructor(targets: RangeTarget[]) {
    this.targets = [...targets].sort((a, b) => a.offset - b.offset);
    this.filled = this.targets.map(() => 0);
    this.start = Math.min(...this.targets.map((t) => t.offset));
    this.end = Math.max(...this.targets.map((t) => t.offset + t.length));
  }

  /** Forget what an earlier (failed) attempt wrote. */
  reset(): void {
    this.filled.fill(0);
    this.writtenTo = 0;
  }

  /** Bytes found at blob position `pos`. Parts must come in increasing, non-overlapping order. */
  write(pos: number, chunk: Uint8Array): void {
    if (pos < this.writtenTo) {
      throw new RegistryError("protocol", `response parts overlap or go backwards (byte ${pos} after ${this.writtenTo})`, { retriable: true });
    }
    const end = pos + chunk.length;
    this.writtenTo = end;
    for (let i = 0; i < this.targets.length; i++) {
      const t = this.targets[i];
      if (t.offset >= end) break;
      const s = Math.max(pos, t.offset);
      const e = Math.min(end, t.offset + t.length);
      if (s < e) {
        t.into.set(chunk.subarray(s - pos, e - pos), s - t.offset);
        this.filled[i] += e - s;
      }
    }
  }

  /** True once every target is full. */
  complete(): boolean {
    for (let i = 0; i < this.targets.length; i++) if (this.filled[i] !== this.targets[i].length) return false;
    return true;
  }

  /** "bytes a-b (got n)" for the first target not full, for error messages. */
  firstMissing(): string | undefined {
    for (let i = 0; i < this.targets.length; i++) {
      const t = this.targets[i];
      if (this.filled[i] !== t.length) return `bytes ${t.offset}-${t.offset + t.length - 1} (got ${this.filled[i]} of ${t.length})`;
    }
    return undefined;
  }
}

/**
 * A body that holds blob bytes [start, end) contiguously (a 206 single part, or a 200 whole blob with
 * start 0). Stops reading once the writer needs nothing more, but only when the body goes beyond
 * that point (an exact answer is read to its end so the connection stays reusable).
 */
export class ContiguousSink {
  private pos: number;
  constructor(private readonly writer: RangeWriter, private readonly start: number, private readonly stop: number, private readonly what: () => string) {
    this.pos = start;
  }
  data(chunk: Uint8Array): boolean {
    const room = this.stop - this.pos;
    const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
    if (piece.length) this.writer.write(this.pos, piece);
    this.pos += piece.length;
    return this.stop > this.writer.end && this.pos >= this.writer.end;
  }
  end(): void {
    if (this.pos !== this.stop) {
      throw new RegistryError("network", `body ended after ${this.pos - this.start} of ${this.stop - this.start} bytes (truncated) ${this.what()}`, { retriable: true });
    }
  }
}
