// A minimal Prometheus registry: counters, gauges read at scrape time, and histograms, rendered in the
// text exposition format 0.0.4. Written here rather than taken from prom-client because prom-client
// (with tdigest, bintrees and its default collectors) adds ~9 MiB of resident memory to a store whose
// whole budget is 65 MiB (measured: node + node:http +2.3 MiB, + prom-client +11.5 MiB); what the
// store needs — monotonic counters, fixed-bucket histograms, a handful of label sets — is small.

export type Labels = Record<string, string>;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

abstract class Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    if (!NAME.test(name)) throw new Error(`invalid metric name ${name}`);
    for (const l of labelNames) if (!LABEL.test(l) || l === "le") throw new Error(`invalid label name ${l} on ${name}`);
  }

  abstract readonly type: string;
  abstract render(out: string[]): void;

  protected key(labels: Labels | undefined): string {
    if (this.labelNames.length === 0) return "";
    let k = "";
    for (const n of this.labelNames) {
      const v = labels?.[n];
      if (v === undefined) throw new Error(`${this.name}: label ${n} missing`);
      k += (k ? "\u0000" : "") + v;
    }
    return k;
  }

  protected labelText(key: string, extra?: string): string {
    const parts: string[] = [];
    if (this.labelNames.length) {
      const values = key.split("\u0000");
      this.labelNames.forEach((n, i) => parts.push(`${n}="${escapeLabel(values[i])}"`));
    }
    if (extra) parts.push(extra);
    return parts.length ? `{${parts.join(",")}}` : "";
  }

  header(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`);
  }
}

export class Counter extends Metric {
  readonly type = "counter";
  private readonly values = new Map<string, number>();

  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, labelNames);
    if (labelNames.length === 0) this.values.set("", 0);
  }

  inc(labels?: Labels, n = 1): void {
    if (!(n >= 0)) throw new Error(`${this.name}: a counter only goes up (got ${n})`);
    const k = this.key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + n);
  }

  get(labels?: Labels): number {
    return this.values.get(this.key(labels)) ?? 0;
  }

  render(out: string[]): void {
    this.header(out);
    for (const [k, v] of this.values) out.push(`${this.name}${this.labelText(k)} ${formatValue(v)}`);
  }
}

/** A gauge whose value is read when scraped (resident memory, cache bytes...). */
export class CallbackGauge extends Metric {
  readonly type = "gauge";
  constructor(name: string, help: string, private readonly read: () => number) {
    super(name, help, []);
  }

  render(out: string[]): void {
    this.header(out);
    out.push(`${this.name} ${formatValue(this.read())}`);
  }
}

/** Latency buckets in seconds, 100 µs to 60 s: FUSE answers from memory up to slow registry fetches. */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class Histogram extends Metric {
  readonly type = "histogram";
  private readonly series = new Map<string, { counts: Float64Array; sum: number; count: number }>();

  constructor(name: string, help: string, labelNames: readonly string[] = [], readonly buckets: readonly number[] = LATENCY_BUCKETS) {
    super(name, help, labelNames);
    for (let i = 1; i < buckets.length; i++) if (!(buckets[i] > buckets[i - 1])) throw new Error(`${name}: buckets must increase`);
  }

  observe(labels: Labels | undefined, value: number): void {
    const k = this.key(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { counts: new Float64Array(this.buckets.length), sum: 0, count: 0 }));
    // Counts per bucket (not cumulative) here; made cumulative when rendered.
    let i = 0;
    while (i < this.buckets.length && value > this.buckets[i]) i++;
    if (i < this.buckets.length) s.counts[i]++;
    s.sum += value;
    s.count++;
  }

  count(labels?: Labels): number {
    return this.series.get(this.key(labels))?.count ?? 0;
  }

  render(out: string[]): void {
    this.header(out);
    for (const [k, s] of this.series) {
      let cum = 0;
      this.buckets.forEach((b, i) => {
        cum += s.counts[i];
        out.push(`${this.name}_bucket${this.labelText(k, `le="${formatValue(b)}"`)} ${cum}`);
      });
      out.push(`${this.name}_bucket${this.labelText(k, 'le="+Inf"')} ${s.count}`);
      out.push(`${this.name}_sum${this.labelText(k)} ${formatValue(s.sum)}`);
      out.push(`${this.name}_count${this.labelText(k)} ${s.count}`);
    }
  }
}

export class Registry {
  private readonly metrics = new Map<string, Metric>();

  register<M extends Metric>(m: M): M {
    if (this.metrics.has(m.name)) throw new Error(`metric ${m.name} registered twice`);
    this.metrics.set(m.name, m);
    return m;
  }

  /** The text exposition (format 0.0.4). */
  render(): string {
    const out: string[] = [];
    for (const m of this.metrics.values()) m.render(out);
    return out.join("\n") + "\n";
  }
}

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
