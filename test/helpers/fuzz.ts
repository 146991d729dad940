// The fuzz suite's harness (test/fuzz/): fast-check properties with a fixed number of cases in
// `npm test` (seconds in all), and many more under `npm run fuzz` (scripts/fuzz.mjs sets
// ESGZ_FUZZ_SCALE, the multiplier of every property's cases, and ESGZ_FUZZ_SECONDS, each property's
// time budget). Each property prints `fuzz <name>: <n> cases …` (the fuzz script sums these).
//
// A deadline per case, two ways: an async case that has not settled in time fails like any other
// counterexample (fast-check shrinks it); a case that blocks the thread (a loop in Wasm or in a
// parser) cannot be interrupted from inside, so a watchdog thread prints the case (seed and path, for
// ESGZ_FUZZ_SEED / ESGZ_FUZZ_PATH) and kills the process once it is 2× past the deadline.
import fc from "fast-check";
import { Worker } from "node:worker_threads";

export { fc };

const env = process.env;
/** How many times the npm-test number of cases `npm run fuzz` runs (1 in npm test). */
export const FUZZ_SCALE = Math.max(1, Number(env.ESGZ_FUZZ_SCALE ?? 1) || 1);
/** Per-property time budget in long runs (none in npm test: the case counts bound it there). */
const BUDGET_MS = env.ESGZ_FUZZ_SECONDS ? Number(env.ESGZ_FUZZ_SECONDS) * 1000 : undefined;
const SEED = env.ESGZ_FUZZ_SEED ? Number(env.ESGZ_FUZZ_SEED) : undefined;
const PATH = env.ESGZ_FUZZ_PATH || undefined;

// The watchdog: [0] = start of the running case in ms since the process started (0: none),
// [1] = its deadline in ms, [2] = the seed, [3] = the case's index (fast-check's path for it).
const shared = new SharedArrayBuffer(8 * 4 + 256);
const words = new Float64Array(shared, 0, 4);
const label = new Uint8Array(shared, 32, 256);
let watchdog: Worker | undefined;

function startWatchdog(): void {
  if (watchdog) return;
  watchdog = new Worker(
    `const { workerData } = require("node:worker_threads");
     const { writeSync } = require("node:fs");
     const words = new Float64Array(workerData, 0, 4), label = new Uint8Array(workerData, 32, 256);
     setInterval(() => {
       const start = words[0];
       if (start === 0 || performance.timeOrigin + performance.now() - start < 2 * words[1]) return;
       const name = Buffer.from(label.subarray(0, label.indexOf(0) < 0 ? 256 : label.indexOf(0))).toString();
       writeSync(2, "fuzz " + name + ": case " + words[3] + " still running " + Math.round(2 * words[1]) + " ms after it began (deadline " +
         words[1] + " ms): a hang. Replay it alone: ESGZ_FUZZ_SEED=" + words[2] + " ESGZ_FUZZ_PATH=" + words[3] + "\\n");
       process.kill(process.pid, "SIGKILL");
     }, 250);`,
    { eval: true, workerData: shared },
  );
  watchdog.unref();
}

function arm(name: string, deadlineMs: number, seed: number, index: number): void {
  label.fill(0);
  label.set(Buffer.from(name).subarray(0, 255));
  words[1] = deadlineMs;
  words[2] = seed;
  words[3] = index;
  words[0] = performance.timeOrigin + performance.now();
}

function disarm(): void {
  words[0] = 0;
}

export interface FuzzOptions {
  /** Cases in `npm test`; `npm run fuzz` runs FUZZ_SCALE times as many (within its time budget). */
  runs: number;
  /** Longest a single case may take (default 5 s). */
  deadlineMs?: number;
}

/**
 * Runs `predicate` on values of `arbs` (throw or return false to fail). Resolves to the number of cases
 * run; rejects with fast-check's report (seed, path, shrunk counterexample) on a failure.
 */
export async function fuzz<Ts extends [unknown, ...unknown[]]>(
  name: string,
  arbs: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> },
  predicate: (...args: Ts) => unknown,
  opts: FuzzOptions,
): Promise<number> {
  startWatchdog();
  const deadlineMs = opts.deadlineMs ?? 5000;
  const seed = SEED ?? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
  let index = 0;
  const prop = fc.asyncProperty<Ts>(...([...arbs, async (...args: Ts) => {
    arm(name, deadlineMs, seed, index++);
    let timer: NodeJS.Timeout | undefined;
    try {
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`case ran past its ${deadlineMs} ms deadline`)), deadlineMs);
      });
      const r = await Promise.race([Promise.resolve().then(() => predicate(...args)), late]);
      return r === false ? false : undefined;
    } finally {
      clearTimeout(timer);
      disarm();
    }
  }] as unknown as Parameters<typeof fc.asyncProperty<Ts>>));
  const t0 = performance.now();
  const details = await fc.check(prop, {
    numRuns: opts.runs * FUZZ_SCALE,
    seed,
    ...(PATH ? { path: PATH } : {}),
    ...(BUDGET_MS ? { plugins: [fc.interruptAfterTimeLimit(BUDGET_MS)] } : {}),
  });
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`fuzz ${name}: ${details.numRuns} cases in ${secs} s (seed ${details.seed})${details.interrupted ? " (time budget reached)" : ""}`);
  if (details.failed) {
    const why = details.errorInstance instanceof Error ? details.errorInstance.stack ?? details.errorInstance.message : String(details.errorInstance);
    throw new Error(`fuzz ${name} failed:\n${fc.defaultReportMessage(details)}\nThe counterexample's failure: ${why}`);
  }
  return details.numRuns;
}

/** Random edits of a valid input: bit flips, byte changes, truncation, insertion, deletion, duplication. */
export type Mutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "set"; at: number; value: number }
  | { kind: "truncate"; at: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "delete"; at: number; length: number }
  | { kind: "repeat"; at: number; length: number };

/**
 * A fraction in [0, 1), uniform: fast-check's numbers lean towards their bounds and small values, which
 * would put most mutations at the start of an input.
 */
export const fractionArb = (): fc.Arbitrary<number> => fc.noBias(fc.integer({ min: 0, max: 2 ** 32 - 1 })).map((x) => x / 2 ** 32);

/** Positions are fractions of the input's length (so one arbitrary fits inputs of any size). */
export function mutationArb(): fc.Arbitrary<Mutation[]> {
  const at = fractionArb();
  const one: fc.Arbitrary<Mutation> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant("flip" as const), at, bit: fc.integer({ min: 0, max: 7 }) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant("set" as const), at, value: fc.constantFrom(0, 0xff, 0x7f, 0x80, 0x30, 0x2e, 0x2f, 0x22) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("truncate" as const), at }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("insert" as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("delete" as const), at, length: fc.integer({ min: 1, max: 64 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("repeat" as const), at, length: fc.integer({ min: 1, max: 64 }) }) },
  );
  return fc.array(one, { minLength: 1, maxLength: 4 });
}

/** `input` with `mutations` applied in order (a new array; the input is not changed). */
export function mutate(input: Uint8Array, mutations: Mutation[]): Uint8Array {
  let b: Uint8Array<ArrayBuffer> = Uint8Array.from(input);
  for (const m of mutations) {
    const at = Math.floor(m.at * b.length);
    switch (m.kind) {
      case "flip": if (b.length) b[at] ^= 1 << m.bit; break;
      case "set": if (b.length) b[at] = m.value; break;
      case "truncate": b = b.slice(0, at); break;
      case "insert": b = concat(b.subarray(0, at), m.bytes, b.subarray(at)); break;
      case "delete": b = concat(b.subarray(0, at), b.subarray(at + m.length)); break;
      case "repeat": b = concat(b.subarray(0, at + m.length), b.subarray(at)); break;
    }
  }
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** True when `a` and `b` hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}
