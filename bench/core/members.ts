// eStargz-like gzip members for the inflate and chunk benches: real files (the python standard
// library under /usr/lib/python3.11) cut into 4 KiB, 64 KiB and 4 MiB chunks, and one member per
// file, each compressed at level 9 as the Go writer does by default here. Built once per process.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import zlib from "node:zlib";

export interface Member {
  gz: Buffer;
  raw: Uint8Array;
}

export interface Workload {
  name: string;
  members: Member[];
  bytes: number;
}

const TREE = "/usr/lib/python3.11";
const TREE_LIMIT = 12 << 20;

function treeFiles(): Buffer[] {
  const out: Buffer[] = [];
  let total = 0;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (total >= TREE_LIMIT) return;
      const p = join(dir, name);
      const st = statSync(p, { throwIfNoEntry: false });
      if (st?.isDirectory() && name !== "__pycache__") walk(p);
      else if (st?.isFile() && name.endsWith(".py") && st.size > 0) {
        const b = readFileSync(p);
        out.push(b);
        total += b.length;
      }
    }
  };
  walk(TREE);
  return out;
}

let cache: Workload[] | undefined;

export function workloads(): Workload[] {
  if (cache) return cache;
  const files = treeFiles();
  const all = Buffer.concat(files);
  const make = (name: string, raws: Uint8Array[]): Workload => {
    const members = raws.map((raw) => ({ raw, gz: zlib.gzipSync(raw, { level: 9 }) }));
    return { name, members, bytes: raws.reduce((s, r) => s + r.length, 0) };
  };
  const cut = (size: number, total: number) => {
    const raws: Uint8Array[] = [];
    for (let off = 0; off + size <= Math.min(all.length, total); off += size) raws.push(all.subarray(off, off + size));
    return raws;
  };
  cache = [
    make("4 KiB chunks", cut(4 << 10, 4 << 20)),
    make("64 KiB chunks", cut(64 << 10, 8 << 20)),
    make("4 MiB chunks", cut(4 << 20, 8 << 20)),
    make(`file members (${files.length})`, files),
  ];
  return cache;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** CPU time of the process in ms (user + system): steadier than wall time on a shared machine. */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * MB/s (10^6 bytes per CPU second) of each variant producing `bytes` per call: one warm-up, then
 * `passes` rounds running every variant once, in rotating order, so load changes on the machine
 * hit all of them alike; medians per variant.
 */
export function rates(bytes: number, passes: number, variants: Record<string, () => void>): Record<string, number> {
  const names = Object.keys(variants);
  for (const n of names) variants[n]();
  const r: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let p = 0; p < passes; p++) {
    for (let k = 0; k < names.length; k++) {
      const n = names[(p + k) % names.length];
      const t = cpuMs();
      variants[n]();
      r[n].push(bytes / 1e3 / Math.max(cpuMs() - t, 0.001));
    }
  }
  return Object.fromEntries(names.map((n) => [n, median(r[n])]));
}
