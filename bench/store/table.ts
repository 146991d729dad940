// bench:store's results: one sample per run for each figure and column, printed as a Markdown table
// (median and min–max over the runs), the ratio esgz-fast / Go taken per run and then summarised
// the same way.
export type Column = "go" | "esgz" | "floor" | "reference";

export interface Figure {
  /** What the row says (Markdown). */
  label: string;
  unit: "ms" | "MiB";
  /** The target for the ratio esgz-fast / Go, e.g. "≤ 1.0×"; "" if none. */
  target: string;
  /** Added to the floor before comparing it with the target (what the floor lacks that any store needs). */
  floorExtra?: number;
}

export class Results {
  private readonly samples = new Map<string, Map<Column, number[]>>();
  private readonly ratios = new Map<string, number[]>();

  constructor(private readonly figures: ReadonlyArray<readonly [string, Figure]>) {}

  add(key: string, column: Column, value: number): void {
    if (!this.figures.some(([k]) => k === key)) throw new Error(`unknown figure ${key}`);
    let row = this.samples.get(key);
    if (!row) this.samples.set(key, (row = new Map()));
    let xs = row.get(column);
    if (!xs) row.set(column, (xs = []));
    xs.push(value);
  }

  /** Adds one run's pair and its ratio. */
  addPair(key: string, go: number, esgz: number): void {
    this.add(key, "go", go);
    this.add(key, "esgz", esgz);
    let rs = this.ratios.get(key);
    if (!rs) this.ratios.set(key, (rs = []));
    rs.push(esgz / go);
  }

  table(): string {
    const lines = [
      "| figure | Go stargz-store | esgz-fast | esgz-fast / Go | target | floor | reference |",
      "|---|---|---|---|---|---|---|",
    ];
    // Rows without either store (the floor's, when their section did not run) only when nothing else ran.
    const storeRows = [...this.samples.values()].some((r) => r.has("go") || r.has("esgz"));
    for (const [key, f] of this.figures) {
      const row = this.samples.get(key);
      if (!row || (storeRows && !(row.has("go") || row.has("esgz")))) continue;
      const cell = (c: Column) => { const xs = row.get(c); return xs ? spread(xs, f.unit) : "–"; };
      const rs = this.ratios.get(key);
      const ratio = rs ? spread(rs, "×") : "–";
      lines.push(`| ${f.label} | ${cell("go")} | ${cell("esgz")} | ${ratio} | ${target(f, row)} | ${cell("floor")} | ${cell("reference")} |`);
    }
    return lines.join("\n");
  }
}

/** The target, marked when the floor (plus what it lacks) already lies above what it allows. */
function target(f: Figure, row: Map<Column, number[]>): string {
  const m = /^≤ ([\d.]+)×$/.exec(f.target);
  const go = row.get("go");
  const floor = row.get("floor");
  if (!m || !go || !floor) return f.target || "–";
  const limit = Number(m[1]) * median(go);
  return median(floor) + (f.floorExtra ?? 0) > limit ? `${f.target} (${num(limit, f.unit)} ${f.unit}: under the floor)` : f.target;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function num(x: number, unit: string): string {
  if (unit === "×") return x.toFixed(2);
  // three significant digits at most, decided on the rounded value (99.96 is "100", not "100.0")
  return x >= 99.95 ? x.toFixed(0) : x >= 9.995 ? x.toFixed(1) : x >= 0.9995 ? x.toFixed(2) : x.toPrecision(2);
}

/** "median unit (min–max)", or "value unit" for one sample. */
export function spread(xs: number[], unit: string): string {
  const u = unit === "×" ? "×" : ` ${unit}`;
  if (xs.length === 1) return `${num(xs[0], unit)}${u}`;
  return `${num(median(xs), unit)}${u} (${num(Math.min(...xs), unit)}–${num(Math.max(...xs), unit)})`;
}
