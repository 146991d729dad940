import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { StoreMetrics, serveMetrics, startMetrics, type MetricsServer } from "../../src/store/metrics.js";
import { Counter, Histogram, Registry } from "../../src/util/prom.js";
import { ChunkCache } from "../../src/cache/index.js";

interface Sample { name: string; labels: Record<string, string>; value: number }

/** An independent reader of the text format: HELP/TYPE lines and samples. */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string>; helps: Map<string, string> } {
  const samples: Sample[] = [], types = new Map<string, string>(), helps = new Map<string, string>();
  assert.ok(text.endsWith("\n"), "ends with a newline");
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (m) { (m[1] === "HELP" ? helps : types).set(m[2], m[3]); continue; }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (m![2]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
      let lm: RegExpExecArray | null;
      let end = 0;
      while ((lm = re.exec(m![2]))) {
        labels[lm[1]] = lm[2].replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
        end = re.lastIndex;
      }
      assert.is(end, m![2].length, `labels of ${line}`);
    }
    samples.push({ name: m![1], labels, value: m![3] === "+Inf" ? Infinity : Number(m![3]) });
  }
  return { samples, types, helps };
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const s = samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v) && Object.keys(x.labels).length === Object.keys(labels).length);
  return s?.value;
}

let server: MetricsServer | undefined;
test.after(async () => { await server?.close(); });

test("the endpoint serves the store's metrics over HTTP in the text format, with the values recorded", async () => {
  const cache = await ChunkCache.open({ memoryBytes: 1 << 20, events: undefined });
  const m = new StoreMetrics({ cacheBytes: () => cache.memoryBytes });
  const cached = await ChunkCache.open({ memoryBytes: 1 << 20, events: m.cacheEvents });
  server = await serveMetrics(m, { host: "127.0.0.1", port: 0 });
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);

  const data = new Uint8Array(randomBytes(1000));
  const hex = createHash("sha256").update(data).digest("hex");
  await cached.get(hex, data.length); // memory miss
  await cached.put(hex, data);
  await cached.get(hex, data.length); // memory hit
  await cache.put(hex, data);

  const t = process.hrtime.bigint();
  m.fetchDone("high", t, 50_000);
  m.fetchDone("high", t, 70_000);
  m.fetchDone("low", t, 0, true);
  m.verifyDone(t, true);
  m.verifyDone(t, false);
  m.verificationFailed("toc");
  m.fuseDone("read", t);
  m.fuseDone("read", t);
  m.fuseDone("lookup", t, "ENOENT");

  const res = await fetch(server.url);
  assert.is(res.status, 200);
  assert.is(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const { samples, types, helps } = parseExposition(await res.text());

  assert.is(value(samples, "esgz_fetch_requests_total", { priority: "high" }), 2);
  assert.is(value(samples, "esgz_fetch_requests_total", { priority: "low" }), 1);
  assert.is(value(samples, "esgz_fetch_errors_total"), 1);
  assert.is(value(samples, "esgz_fetch_bytes_total"), 120_000);
  assert.is(value(samples, "esgz_cache_hits_total", { cache: "memory" }), 1);
  assert.is(value(samples, "esgz_cache_misses_total", { cache: "memory" }), 1);
  assert.is(value(samples, "esgz_verification_failures_total", { kind: "chunk" }), 1);
  assert.is(value(samples, "esgz_verification_failures_total", { kind: "toc" }), 1);
  assert.is(value(samples, "esgz_fuse_operations_total", { op: "read" }), 2);
  assert.is(value(samples, "esgz_fuse_operations_total", { op: "lookup" }), 1);
  assert.is(value(samples, "esgz_fuse_errors_total", { op: "lookup", errno: "ENOENT" }), 1);
  assert.is(value(samples, "esgz_fuse_errors_total", { op: "read", errno: "ENOENT" }), undefined);
  assert.is(value(samples, "esgz_fuse_operation_duration_seconds_count", { op: "read" }), 2);
  assert.is(value(samples, "esgz_fuse_operation_duration_seconds_bucket", { op: "read", le: "+Inf" }), 2);
  assert.is(value(samples, "esgz_chunk_verify_duration_seconds_count"), 2);
  assert.is(value(samples, "esgz_fetch_duration_seconds_count", { priority: "high" }), 2);
  assert.is(value(samples, "esgz_cache_memory_bytes"), 1000);
  const rss = value(samples, "process_resident_memory_bytes")!;
  assert.ok(rss > 10 << 20 && rss < 4 * 2 ** 30, `rss ${rss}`);

  for (const [name, type] of [["esgz_fetch_requests_total", "counter"], ["esgz_fetch_duration_seconds", "histogram"], ["process_resident_memory_bytes", "gauge"]]) {
    assert.is(types.get(name), type);
    assert.ok(helps.get(name)!.length > 10);
  }
  // Histogram buckets are cumulative, increasing in le, and end at the count.
  const buckets = samples.filter((s) => s.name === "esgz_fuse_operation_duration_seconds_bucket" && s.labels.op === "read");
  const les = buckets.map((b) => (b.labels.le === "+Inf" ? Infinity : Number(b.labels.le)));
  for (let i = 1; i < buckets.length; i++) {
    assert.ok(les[i] > les[i - 1] && buckets[i].value >= buckets[i - 1].value);
  }
  const sum = value(samples, "esgz_fuse_operation_duration_seconds_sum", { op: "read" })!;
  assert.ok(sum > 0 && sum < 60);

  assert.is((await fetch(server.url.replace("/metrics", "/"))).status, 404);
  assert.is((await fetch(server.url, { method: "POST" })).status, 405);
});

test("histogram buckets count each observation in the first bucket whose bound holds it", () => {
  const r = new Registry();
  const h = r.register(new Histogram("h_seconds", "x", [], [0.1, 1]));
  for (const v of [0.05, 0.1, 0.5, 2]) h.observe(undefined, v);
  const { samples } = parseExposition(r.render());
  assert.equal(samples.map((s) => [s.name, s.labels.le, s.value]), [
    ["h_seconds_bucket", "0.1", 2], ["h_seconds_bucket", "1", 3], ["h_seconds_bucket", "+Inf", 4], ["h_seconds_sum", undefined, 2.65], ["h_seconds_count", undefined, 4],
  ]);
});

test("label values and help text are escaped; bad names, missing labels and decrements are refused", () => {
  const r = new Registry();
  const c = r.register(new Counter("c_total", "line1\nline2 \\ end", ["path"]));
  c.inc({ path: 'a"b\\c\nd' }, 2);
  const text = r.render();
  assert.ok(text.includes("# HELP c_total line1\\nline2 \\\\ end\n"));
  const { samples } = parseExposition(text);
  assert.equal(samples[0].labels, { path: 'a"b\\c\nd' });
  assert.is(samples[0].value, 2);
  assert.throws(() => new Counter("bad-name", "x"), /invalid metric name/);
  assert.throws(() => new Histogram("h", "x", ["le"]), /invalid label name le/);
  assert.throws(() => c.inc({}), /label path missing/);
  assert.throws(() => c.inc({ path: "x" }, -1), /only goes up/);
  assert.throws(() => r.register(new Counter("c_total", "again")), /registered twice/);
});

test("the port is refused cleanly when taken", async () => {
  const m = new StoreMetrics();
  const a = await serveMetrics(m, { host: "127.0.0.1", port: 0 });
  try {
    await serveMetrics(m, { host: "127.0.0.1", port: a.port }).then(() => assert.unreachable("second listen"), (err) => assert.match(String(err), /EADDRINUSE/));
  } finally {
    await a.close();
  }
});

test("startMetrics follows the config: off without an address, off with no_prometheus (logged), else served", async () => {
  const m = new StoreMetrics();
  const logged: Array<[string, Record<string, unknown> | undefined]> = [];
  const log = { info: (msg: string, f?: Record<string, unknown>) => logged.push([msg, f]) };
  assert.is(await startMetrics({ noPrometheus: false }, m, log), undefined);
  assert.is(await startMetrics({ noPrometheus: true, metricsAddress: { host: "127.0.0.1", port: 0 } }, m, log), undefined);
  assert.match(logged[0][0], /no_prometheus/);
  const s = await startMetrics({ noPrometheus: false, metricsAddress: { host: "127.0.0.1", port: 0 } }, m, log);
  try {
    assert.ok(s);
    assert.is(logged[1][1]?.url, s!.url);
    assert.is((await fetch(s!.url)).status, 200);
  } finally {
    await s?.close();
  }
});

test.run();
