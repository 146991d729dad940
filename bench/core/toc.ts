// TOC index: build time of the Wasm index against JSON.parse + a Map from cleaned path to entry with
// children lists (what a JavaScript reader would do), on a generated 100 000-entry TOC (Go's
// tab-indented layout) and the Go fixtures, in the same process; medians. Then the index's bytes
// per TOC entry: tables (nodes, chunks, TOC order, hash, attributes) beyond the string pool.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { TocIndex, tocLayout } from "../../src/core/toc.js";
import { nodeCore } from "../../src/node/core.js";
import { generateToc } from "../../test/helpers/toc-gen.js";
import { fixturesDir } from "../../test/helpers/paths.js";

interface JsNode {
  entry: Record<string, unknown>;
  children: JsNode[];
  chunks: Array<Record<string, unknown>>;
}

function clean(name: string): string {
  const out: string[] = [];
  for (const seg of name.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length === 0) throw new Error("escapes the root");
      out.pop();
    } else out.push(seg);
  }
  return out.join("/");
}

/** The baseline: decode, JSON.parse, index by cleaned path, children lists, chunk lists, implicit parents. */
function jsIndex(bytes: Uint8Array): Map<string, JsNode> {
  const toc = JSON.parse(new TextDecoder().decode(bytes)) as { entries: Array<Record<string, unknown>> };
  const map = new Map<string, JsNode>();
  const root: JsNode = { entry: { name: "", type: "dir" }, children: [], chunks: [] };
  map.set("", root);
  const dirOf = (name: string): JsNode => {
    let d = map.get(name);
    if (!d) {
      d = { entry: { name, type: "dir" }, children: [], chunks: [] };
      map.set(name, d);
      dirOf(name.includes("/") ? name.slice(0, name.lastIndexOf("/")) : "").children.push(d);
    }
    return d;
  };
  for (const e of toc.entries) {
    const name = clean(e.name as string);
    if (e.type === "chunk") {
      map.get(name)?.chunks.push(e);
      continue;
    }
    if (name === "") {
      root.entry = e;
      continue;
    }
    const n: JsNode = { entry: e, children: [], chunks: e.type === "reg" ? [e] : [] };
    map.set(name, n);
    dirOf(name.includes("/") ? name.slice(0, name.lastIndexOf("/")) : "").children.push(n);
  }
  return map;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** Medians of `passes` timings of a and b, interleaved so both see the same machine load. */
function timePair(passes: number, a: () => void, b: () => void): [number, number] {
  a();
  b(); // warm-up
  const ta: number[] = [], tb: number[] = [];
  for (let i = 0; i < passes; i++) {
    let t0 = performance.now();
    a();
    ta.push(performance.now() - t0);
    t0 = performance.now();
    b();
    tb.push(performance.now() - t0);
  }
  return [median(ta), median(tb)];
}

export async function run(): Promise<void> {
  const core = nodeCore();
  const enc = new TextEncoder();
  const g = generateToc(100_000, 42);
  const inputs: Array<{ label: string; bytes: Uint8Array; tocOffset: number; passes: number }> = [
    { label: `generated ${g.entries} entries`, bytes: enc.encode(g.json), tocOffset: g.tocOffset, passes: 9 },
  ];
  for (const f of readdirSync(fixturesDir).filter((x) => x.endsWith(".toc.json")).sort()) {
    inputs.push({ label: f, bytes: readFileSync(join(fixturesDir, f)), tocOffset: -1, passes: 201 });
  }
  console.log(`\nTOC index: Wasm TocIndex.build vs JSON.parse + Map/children lists, median of passes, same process`);
  const cols = ["input", "JSON MB", "entries", "JSON.parse+Map ms", "Wasm index ms", "speed-up"];
  const w = [32, 9, 9, 19, 15, 9];
  console.log(cols.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join(""));
  for (const inp of inputs) {
    let entries = 0;
    const [js, wasm] = timePair(
      inp.passes,
      () => jsIndex(inp.bytes),
      () => {
        const idx = TocIndex.build(core, inp.bytes, inp.tocOffset >= 0 ? { tocOffset: inp.tocOffset } : {});
        entries = idx.entryCount;
        idx.dispose();
      },
    );
    const row = [inp.label, (inp.bytes.length / 1e6).toFixed(2), String(entries), js.toFixed(2), wasm.toFixed(2), `${(js / wasm).toFixed(1)}x`];
    console.log(row.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join(""));
  }
  const idx = TocIndex.build(core, inputs[0].bytes, { tocOffset: g.tocOffset });
  const s = idx.stats();
  idx.dispose();
  const per = (b: number) => (b / s.entries).toFixed(1);
  console.log(`index of the generated TOC: ${s.entries} TOC entries → ${s.nodes} nodes, ${s.chunks} chunks`);
  const L = tocLayout(core), B = (words: number) => `${words * 4} B`;
  console.log(`  tables (nodes ${B(L.node.words)}, chunks ${B(L.chunk.words)}, TOC order ${B(L.entry.words)}, hash, attributes, xattrs, nums): ${per(s.indexBytes)} B/entry (target ≤ 64)`);
  console.log(`  string pool ${per(s.stringBytes)} B/entry, raw digests ${per(s.digestBytes)} B/entry; JSON ${per(inputs[0].bytes.length)} B/entry`);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
