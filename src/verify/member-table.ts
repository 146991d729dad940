// Every gzip member of a blob, in blob order, in typed arrays (32 bytes a member, no object each):
// a blob of millions of tiny members must not cost gigabytes. Lookup by compressed start offset is a
// binary search (members arrive sorted).
import type { MemberBoundary } from "./members.js";

/** More members than this and the blob is refused: no real layer comes near it (one member per file or chunk). */
export const MAX_MEMBERS = 8 << 20;

export class MemberTable {
  private cols = new Float64Array(4 * 1024);
  count = 0;

  push(m: MemberBoundary): boolean {
    if (this.count >= MAX_MEMBERS) return false;
    if ((this.count + 1) * 4 > this.cols.length) {
      const next = new Float64Array(this.cols.length * 2);
      next.set(this.cols);
      this.cols = next;
    }
    const o = this.count * 4;
    this.cols[o] = m.cStart;
    this.cols[o + 1] = m.cEnd;
    this.cols[o + 2] = m.dStart;
    this.cols[o + 3] = m.dEnd;
    this.count++;
    return true;
  }

  get(i: number): MemberBoundary {
    const o = i * 4, c = this.cols;
    return { cStart: c[o], cEnd: c[o + 1], dStart: c[o + 2], dEnd: c[o + 3] };
  }

  last(): MemberBoundary | undefined {
    return this.count ? this.get(this.count - 1) : undefined;
  }

  /** The member starting exactly at blob offset `cStart`, if there is one. */
  startingAt(cStart: number): MemberBoundary | undefined {
    let lo = 0, hi = this.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.cols[mid * 4];
      if (v === cStart) return this.get(mid);
      if (v < cStart) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }
}
