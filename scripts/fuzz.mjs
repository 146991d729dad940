#!/usr/bin/env node
// `npm run fuzz`: the fuzz suite (test/fuzz/) run longer than in `npm test` — each property gets
// ESGZ_FUZZ_SCALE times its npm-test number of cases (default 100), stopped after ESGZ_FUZZ_SECONDS
// (default 45) — then a table of the cases each property ran. Same runner as `npm test` (each file
// in its own process, per-file timeout raised to fit). Exit 1 if a property failed.
//
// Usage: npm run fuzz [-- toc inflate …]   (targets: the file names in test/fuzz/, default all)
//        ESGZ_FUZZ_SEED=… ESGZ_FUZZ_PATH=… npm run fuzz -- toc   replays one case a run reported
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const scale = process.env.ESGZ_FUZZ_SCALE ?? "100";
const seconds = process.env.ESGZ_FUZZ_SECONDS ?? "45";
const all = readdirSync(join(root, "dist", "test", "fuzz")).filter((f) => f.endsWith(".test.js")).map((f) => f.replace(/\.test\.js$/, ""));
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length) {
  console.error(`fuzz: no target ${unknown.join(", ")} (targets: ${all.join(", ")})`);
  process.exit(2);
}
const files = (wanted.length ? wanted : all).map((t) => `fuzz/${t}.test.js`);
// a file's properties each stop after `seconds` (plus the shrinking of a failure): give its process room
const timeoutS = Math.max(Number(process.env.ESGZ_TEST_TIMEOUT_S ?? 0), 10 * Number(seconds) + 300);

console.log(`fuzz: ${files.length} targets, ${scale}× the npm-test cases, at most ${seconds} s per property`);
const child = spawn(process.execPath, [join(root, "scripts", "run-tests.mjs"), ...files], {
  cwd: root,
  env: { ...process.env, ESGZ_FUZZ_SCALE: scale, ESGZ_FUZZ_SECONDS: seconds, ESGZ_TEST_TIMEOUT_S: String(timeoutS) },
  stdio: ["ignore", "pipe", "inherit"],
});
let out = "";
child.stdout.on("data", (d) => {
  out += d;
  process.stdout.write(d);
});
const code = await new Promise((resolve) => child.on("exit", (c) => resolve(c ?? 1)));
const rows = [...out.matchAll(/^(?:\S+ )?fuzz (\S+): (\d+) cases in ([\d.]+) s \(seed (\d+|-?\d+)\)(.*)$/gm)].map((m) => ({
  property: m[1], cases: Number(m[2]), seconds: m[3], note: m[5].trim(),
}));
if (rows.length) {
  const width = Math.max(...rows.map((r) => r.property.length));
  console.log("\ncases per property:");
  for (const r of rows) console.log(`  ${r.property.padEnd(width)}  ${String(r.cases).padStart(8)}  ${r.seconds.padStart(6)} s  ${r.note}`);
  console.log(`  ${"total".padEnd(width)}  ${String(rows.reduce((n, r) => n + r.cases, 0)).padStart(8)}`);
}
process.exit(code);
