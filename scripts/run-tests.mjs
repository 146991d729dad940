#!/usr/bin/env node
// The test command: runs each folder of dist/test in its own uvu process (a FUSE or server test that
// crashes cannot take the others down), streams their output, and ends with one line
// `N passed, N failed, N skipped` summed over all folders. Exit 1 if anything failed.
// Usage: node scripts/run-tests.mjs [folder ...]   (folders under test/, e.g. `core registry`)
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const testDir = join(root, "dist", "test");
if (!existsSync(testDir)) {
  console.error("run-tests: dist/test is missing; run `npm run build` first");
  process.exit(2);
}
const wanted = process.argv.slice(2);
const folders = readdirSync(testDir)
  .filter((d) => d !== "helpers" && statSync(join(testDir, d)).isDirectory())
  .filter((d) => wanted.length === 0 || wanted.includes(d))
  .sort();

const uvu = join(root, "node_modules", "uvu", "bin.js");
let passed = 0, failed = 0, skipped = 0, crashed = [];
const num = (text, label) => {
  const m = text.match(new RegExp(`${label}:\\s+(\\d+)`));
  return m ? Number(m[1]) : 0;
};
for (const folder of folders) {
  console.log(`\n=== test/${folder}`);
  const r = spawnSync(process.execPath, [uvu, join("dist", "test", folder), "\\.test\\.js$"], {
    cwd: root,
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    stdio: ["ignore", "pipe", "pipe"],
  });
  process.stdout.write(r.stdout ?? "");
  process.stderr.write(r.stderr ?? "");
  const out = r.stdout ?? "";
  const total = num(out, "Total"), ok = num(out, "Passed"), skip = num(out, "Skipped");
  passed += ok;
  skipped += skip;
  failed += total - ok - skip;
  if (r.status !== 0 && total - ok - skip === 0) {
    // uvu exits non-zero without counting a failure when a file throws at import or the process dies.
    failed += 1;
    crashed.push(`${folder} (exit ${r.status ?? r.signal})`);
  }
}
if (crashed.length) console.log(`\ncrashed: ${crashed.join(", ")}`);
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
