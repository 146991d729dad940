// Keeps V8 from re-compiling undici's HTTP parser with its optimising compiler.
//
// undici parses HTTP with llhttp compiled to WebAssembly, whose state machine is one 33 KB function.
// V8 starts every Wasm function in its baseline compiler (Liftoff) and re-compiles the ones that used
// up a "tiering budget" with TurboFan. For that function TurboFan takes 0.5–1.4 s of CPU on a
// background thread and ~30 MiB of compiler memory (measured: the store's peak RSS went from ~73 to
// ~110 MiB during its first lookup, on a 2-core machine busy answering it), for a parser that only
// reads a few header lines per response: Liftoff code is fast enough there.
//
// So the budget is raised from before the first request until its response has been parsed, then
// set back. Measured on Node 20 (V8 11.3) with --trace-wasm-compilation-times: a module compiled
// while the budget is raised never tiers up (llhttp: compiled and first run at the first connect);
// one compiled before tiers up normally, even where it is instantiated (worker threads) or first
// run meanwhile. Hence: compile the core's module before holding, and never compile Wasm while
// held. The flag is process-wide: a helper the store alone calls, around its first registry request.
import { setFlagsFromString } from "node:v8";

/** V8's default `--wasm-tiering-budget` (V8 11–13), unless given on the command line. */
const DEFAULT_BUDGET = budgetFromArgs(process.execArgv) ?? 1_800_000;
/** Large enough that no function given it ever tiers up. */
const NEVER = 2_000_000_000;

let held = false;

/**
 * Wasm modules compiled until the returned release is called are never re-compiled by TurboFan.
 * Call before the first HTTP request and release once its response has been parsed (the release is
 * idempotent); compile every module of your own before.
 */
export function holdWasmTierUp(): () => void {
  if (held) return () => {};
  held = true;
  setFlagsFromString(`--wasm-tiering-budget=${NEVER}`);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    setFlagsFromString(`--wasm-tiering-budget=${DEFAULT_BUDGET}`);
  };
}

function budgetFromArgs(args: string[]): number | undefined {
  for (const a of args) {
    const m = /^--wasm[-_]tiering[-_]budget=(\d+)$/.exec(a);
    if (m) return Number(m[1]);
  }
  return undefined;
}
