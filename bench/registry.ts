// npm run bench:registry — range reads from a loopback docker-registry holding a 64 MiB random blob:
// the registry client (its range-GET sockets, into caller buffers) beside one curl process fetching the same ranges
// over one kept-alive connection (`--next`, per-request `-r`, `-w %{time_total}`), in the same run;
// and, as the floor under any Node client, undici's own Pool.request for the same small ranges; and
// the client with its range-GET fast path off (`rangeSockets: false`, all on undici) beside it.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { performance } from "node:perf_hooks";
import { startRegistry } from "../test/helpers/registry.js";
import { Pool } from "undici";
import { RegistryClient, type BlobReader } from "../src/registry/index.js";

const run = promisify(execFile);
const MiB = 1024 * 1024;
const BLOB = 64 * MiB;

interface Range { offset: number; length: number }

function ranges(n: number, length: number, seed: number): Range[] {
  // Deterministic spread over the blob (a multiplicative walk), so both sides read the same places.
  const out: Range[] = [];
  const slots = Math.floor(BLOB / length);
  for (let i = 0; i < n; i++) out.push({ offset: ((i * 2654435761 + seed) % slots) * length, length });
  return out;
}

const pct = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

const cpu = { ours: 0, curl: 0, onUndici: 0 }; // CPU ms (user + system) spent by each side in the measured runs

/** "0m1.250s" → ms */
const bashTime = (s: string) => { const m = /(\d+)m([\d.]+)s/.exec(s); return m ? (Number(m[1]) * 60 + Number(m[2])) * 1000 : NaN; };

/** One curl process, one connection, one transfer per range; per-transfer time_total in ms. */
async function curlTimes(url: string, rs: (Range | Range[])[]): Promise<number[]> {
  const args: string[] = [];
  rs.forEach((r, i) => {
    if (i) args.push("--next");
    const spec = (Array.isArray(r) ? r : [r]).map((x) => `${x.offset}-${x.offset + x.length - 1}`).join(",");
    args.push("-s", "-f", "-o", "/dev/null", "-r", spec, "-w", "%{time_total}\\n", url);
  });
  // Through bash so that `times` reports curl's CPU (children's user and system time).
  const { stdout, stderr } = await run("bash", ["-c", 'curl "$@"; s=$?; times >&2; exit $s', "bash", ...args], { maxBuffer: 1 << 24 });
  const children = stderr.trim().split("\n").pop()!.split(/\s+/).map(bashTime);
  cpu.curl += children[0] + children[1];
  const times = stdout.trim().split("\n").map((s) => Number(s) * 1000);
  if (times.length !== rs.length || times.some((t) => !Number.isFinite(t))) throw new Error(`curl output unexpected: ${stdout.slice(0, 200)}`);
  return times;
}

// The caller's buffers, allocated once (per call, 16 × 4 MiB of fresh memory each round made GC work
// that fell on the timed requests).
let buffers: Uint8Array[] = [];
function callerBuffers(length: number): Uint8Array[] {
  if (!buffers.length || buffers[0].length < length) buffers = Array.from({ length: 16 }, () => new Uint8Array(length));
  return buffers;
}

/** The floor under any Node client: undici's own Pool.request on one kept-alive connection, body read into a buffer. */
async function undiciTimes(pool: Pool, path: string, rs: Range[]): Promise<number[]> {
  const times: number[] = [];
  const into = callerBuffers(Math.max(...rs.map((r) => r.length)))[0];
  for (const r of rs) {
    const t0 = performance.now();
    const res = await pool.request({ path, method: "GET", headers: { range: `bytes=${r.offset}-${r.offset + r.length - 1}` } });
    let at = 0;
    for await (const chunk of res.body) { into.set(chunk.subarray(0, Math.max(0, r.length - at)), at); at += chunk.length; }
    if (res.statusCode !== 206 || at !== r.length) throw new Error(`undici floor: HTTP ${res.statusCode}, ${at} bytes`);
    times.push(performance.now() - t0);
  }
  return times;
}

async function oursTimes(reader: BlobReader, rs: (Range | Range[])[], side: "ours" | "onUndici" = "ours"): Promise<number[]> {
  const times: number[] = [];
  const bufs = callerBuffers(Math.max(...rs.flatMap((r) => (Array.isArray(r) ? r : [r]).map((x) => x.length))));
  const c0 = process.cpuUsage();
  for (const r of rs) {
    const list = Array.isArray(r) ? r : [r];
    const req = list.map((x, i) => ({ ...x, into: bufs[i].subarray(0, x.length) }));
    const t0 = performance.now();
    await reader.readRanges(req);
    times.push(performance.now() - t0);
  }
  const c1 = process.cpuUsage(c0);
  cpu[side] += (c1.user + c1.system) / 1000;
  return times;
}

const reg = await startRegistry();
const client = new RegistryClient({ connections: 1 });
const clientOnUndici = new RegistryClient({ connections: 1, rangeSockets: false });
let pool!: Pool;
try {
  const blob = randomBytes(BLOB);
  const ref = `${reg.host}/bench/blob:v1`;
  const { digest } = await client.uploadBlob(ref, blob);
  const path = `/v2/bench/blob/blobs/${digest}`;
  const url = `${reg.url}${path}`;
  pool = new Pool(reg.url, { connections: 1, pipelining: 1 });
  const reader = await client.openBlob(ref, digest, BLOB); // as the store reads: a BlobReader, caller buffers
  const readerOnUndici = await clientOnUndici.openBlob(ref, digest, BLOB);

  const small = ranges(400, 64 * 1024, 7);
  const large = ranges(48, 4 * MiB, 3);
  const multi = Array.from({ length: 100 }, (_, i) => ranges(8, 64 * 1024, 1000 + i * 13).sort((a, b) => a.offset - b.offset)
    .filter((r, j, a) => j === 0 || r.offset >= a[j - 1].offset + a[j - 1].length));

  // Warm both paths and the page cache.
  await oursTimes(reader, ranges(20, 64 * 1024, 99));
  await curlTimes(url, ranges(20, 64 * 1024, 99));
  await undiciTimes(pool, path, ranges(20, 64 * 1024, 99));
  await oursTimes(readerOnUndici, ranges(20, 64 * 1024, 99), "onUndici");
  // Large reads run other code paths (body pieces by the hundred): warm those too, on both Node sides.
  await oursTimes(reader, ranges(8, 4 * MiB, 5));
  await undiciTimes(pool, path, ranges(8, 4 * MiB, 5));
  await oursTimes(readerOnUndici, ranges(8, 4 * MiB, 5), "onUndici");

  // Alternate the two sides in rounds so that load from other processes on the machine falls on both.
  const both = async (rs: (Range | Range[])[], rounds = 4, withFloor = false) => {
    cpu.ours = cpu.curl = cpu.onUndici = 0;
    const o: number[] = [], c: number[] = [], u: number[] = [], ou: number[] = [];
    const per = Math.ceil(rs.length / rounds);
    for (let i = 0; i < rs.length; i += per) {
      const part = rs.slice(i, i + per);
      o.push(...(await oursTimes(reader, part)));
      c.push(...(await curlTimes(url, part)));
      if (withFloor) {
        u.push(...(await undiciTimes(pool, path, part as Range[])));
        ou.push(...(await oursTimes(readerOnUndici, part, "onUndici")));
      }
    }
    return [o, c, (cpu.ours * 1000) / rs.length, (cpu.curl * 1000) / rs.length, u, ou, (cpu.onUndici * 1000) / rs.length] as const;
  };

  const rows: [string, string, string, string][] = [];
  const fmt = (x: number, unit: string) => `${x.toFixed(unit === "ms" ? 3 : 0)} ${unit}`;

  const [oSmall, cSmall, oSmallCpu, cSmallCpu, uSmall, ouSmall, ouSmallCpu] = await both(small, 4, true);
  for (const q of [0.5, 0.99]) {
    const o = pct(oSmall, q), c = pct(cSmall, q);
    rows.push([`64 KiB ranges, p${q * 100} latency`, fmt(o, "ms"), fmt(c, "ms"), `${(o / c).toFixed(2)}× (target ≤ 1.20×)`]);
  }
  for (const q of [0.5, 0.99]) {
    const u = pct(uSmall, q), c = pct(cSmall, q);
    rows.push([`  floor: undici Pool.request alone, p${q * 100}`, fmt(u, "ms"), fmt(c, "ms"), `${(u / c).toFixed(2)}×`]);
  }
  for (const q of [0.5, 0.99]) {
    const u = pct(ouSmall, q), c = pct(cSmall, q);
    rows.push([`  esgz-fast on undici (rangeSockets: false), p${q * 100}`, fmt(u, "ms"), fmt(c, "ms"), `${(u / c).toFixed(2)}×`]);
  }
  rows.push([`64 KiB ranges, CPU per request`, fmt(oSmallCpu, "µs"), fmt(cSmallCpu, "µs"), `${(oSmallCpu / cSmallCpu).toFixed(2)}×`]);
  rows.push([`  esgz-fast on undici, CPU per request`, fmt(ouSmallCpu, "µs"), fmt(cSmallCpu, "µs"), `${(ouSmallCpu / cSmallCpu).toFixed(2)}×`]);
  const [oMulti, cMulti] = await both(multi);
  rows.push([`8×64 KiB, one multipart request, p50`, fmt(pct(oMulti, 0.5), "ms"), fmt(pct(cMulti, 0.5), "ms"), `${(pct(oMulti, 0.5) / pct(cMulti, 0.5)).toFixed(2)}×`]);

  const [oLarge, cLarge, oLargeCpu, cLargeCpu, uLarge, ouLarge, ouLargeCpu] = await both(large, 4, true);
  const bytes = sum(large.map((r) => r.length));
  const tp = (times: number[]) => bytes / 1e6 / (sum(times) / 1000);
  const oTp = tp(oLarge), cTp = tp(cLarge), uTp = tp(uLarge), ouTp = tp(ouLarge);
  rows.push([`4 MiB ranges, throughput`, fmt(oTp, "MB/s"), fmt(cTp, "MB/s"), `${((oTp / cTp) * 100).toFixed(0)} % (target ≥ 90 %)`]);
  rows.push([`  floor: undici Pool.request alone`, fmt(uTp, "MB/s"), fmt(cTp, "MB/s"), `${((uTp / cTp) * 100).toFixed(0)} %`]);
  rows.push([`  esgz-fast on undici (rangeSockets: false)`, fmt(ouTp, "MB/s"), fmt(cTp, "MB/s"), `${((ouTp / cTp) * 100).toFixed(0)} %`]);
  rows.push([`4 MiB ranges, CPU per request`, fmt(oLargeCpu, "µs"), fmt(cLargeCpu, "µs"), `${(oLargeCpu / cLargeCpu).toFixed(2)}×`]);
  rows.push([`  esgz-fast on undici, CPU per request`, fmt(ouLargeCpu, "µs"), fmt(cLargeCpu, "µs"), `${(ouLargeCpu / cLargeCpu).toFixed(2)}×`]);
  rows.push([`4 MiB ranges, p50 latency`, fmt(pct(oLarge, 0.5), "ms"), fmt(pct(cLarge, 0.5), "ms"), `${(pct(oLarge, 0.5) / pct(cLarge, 0.5)).toFixed(2)}×`]);

  const load = (await import("node:os")).loadavg()[0];
  console.log(`\nregistry range reads — loopback docker-registry, ${BLOB / MiB} MiB random blob; ${small.length} small, ${multi.length} multi, ${large.length} large requests, sequential, one connection each side; load average ${load.toFixed(1)} on ${(await import("node:os")).cpus().length} cores`);
  const w = [52, 16, 16, 0];
  console.log(["", "esgz-fast", "curl", "ratio"].map((s, i) => s.padEnd(w[i])).join(""));
  for (const r of rows) console.log(r.map((s, i) => s.padEnd(w[i])).join(""));
} finally {
  await client.close();
  await clientOnUndici.close();
  await pool?.close();
  await reg.stop();
}
