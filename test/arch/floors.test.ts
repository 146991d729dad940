// The architecture as written in docs/architecture.md ("Floors"), checked against the imports of src/:
// every import stays in its folder or goes to a folder its row allows, the allowed imports themselves
// form no cycle, and no files import each other in a cycle (static, type-only and lazy `import()`
// alike, and worker entries named by `new URL("./x.js", import.meta.url)`).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { repoRoot } from "../helpers/paths.js";

const SRC = join(repoRoot, "src");

/** Every .ts file under src/, as paths relative to src/. */
function sources(dir = SRC): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (name.endsWith(".ts")) out.push(relative(SRC, p));
  }
  return out.sort();
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s(?:[^;"'`]*?\sfrom\s+)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|new URL\(\s*["']([^"']+)["']\s*,\s*import\.meta\.url\s*\)/g;

/** file → the project files it imports (relative to src/). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources()) {
    const text = readFileSync(join(SRC, file), "utf8");
    const deps: string[] = [];
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (!spec.startsWith(".")) continue;
      deps.push(relative(SRC, resolve(dirname(join(SRC, file)), spec)).replace(/\.js$/, ".ts"));
    }
    graph.set(file, deps);
  }
  return graph;
}

/** The folder a file belongs to: its first directory under src/, or "index" for files at the top. */
const folderOf = (file: string) => (file.includes("/") ? file.split("/")[0] : "index");

/** The "Floors" table of docs/architecture.md: folder → the folders it may import. */
function floors(): Map<string, Set<string>> {
  const doc = readFileSync(join(repoRoot, "docs", "architecture.md"), "utf8");
  const section = doc.split(/\n## /).find((s) => s.startsWith("Floors"));
  assert.ok(section, 'docs/architecture.md has a "## Floors" section');
  const table = new Map<string, Set<string>>();
  for (const line of section!.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    const name = /^`src\/([a-z-]+)\/`$|^`src\/(index)\.ts`$/.exec(cells[1] ?? "");
    if (!name) continue;
    const allowed = cells[cells.length - 2] === "everything" ? ["*"] : [...(cells[cells.length - 2] ?? "").matchAll(/`src\/([a-z-]+)\/`/g)].map((m) => m[1]);
    table.set(name[1] ?? name[2], new Set(allowed));
  }
  return table;
}

test("every folder of src/ has a row in the floor table, and every import goes down (or stays in its folder)", () => {
  const table = floors();
  const graph = importGraph();
  const folders = new Set([...graph.keys()].map(folderOf));
  for (const f of folders) assert.ok(table.has(f), `src/${f} is missing from the Floors table of docs/architecture.md`);
  const wrong: string[] = [];
  for (const [file, deps] of graph) {
    const from = folderOf(file);
    const allowed = table.get(from)!;
    for (const dep of deps) {
      const to = folderOf(dep);
      if (to !== from && !allowed.has("*") && !allowed.has(to)) wrong.push(`src/${file} imports src/${dep} (${from} may not import ${to})`);
    }
  }
  assert.equal(wrong, []);
});

test("the floors are an order: no folder may import one that may import it back", () => {
  const table = floors();
  const reaches = (from: string, to: string, seen = new Set<string>()): boolean => {
    if (seen.has(from)) return false;
    seen.add(from);
    for (const next of table.get(from) ?? []) if (next === to || reaches(next, to, seen)) return true;
    return false;
  };
  const cycles = [...table.keys()].filter((f) => !table.get(f)!.has("*") && reaches(f, f));
  assert.equal(cycles, []);
});

test("no import cycle between files", () => {
  const graph = importGraph();
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === "done") return;
    if (state.get(file) === "open") {
      cycles.push([...path.slice(path.indexOf(file)), file].join(" -> "));
      return;
    }
    state.set(file, "open");
    for (const dep of graph.get(file) ?? []) visit(dep, [...path, file]);
    state.set(file, "done");
  };
  for (const file of graph.keys()) visit(file, []);
  assert.equal(cycles, []);
});

test("the checks see what they check: a file's imports are found, relative specifiers resolved", () => {
  const graph = importGraph();
  assert.ok(graph.size > 100, `${graph.size} source files`);
  // A static import, a type-only import and a worker entry named by URL.
  assert.ok(graph.get("fs/als.ts")!.includes("fs/overlay.ts"));
  assert.ok(graph.get("store/store.ts")!.includes("layer/layer.ts"));
  assert.ok([...graph.values()].some((deps) => deps.some((d) => d.endsWith("worker.ts"))), "worker entries are edges too");
});

test.run();
