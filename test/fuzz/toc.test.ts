// Fuzzing TOC JSON → the Wasm TOC index (src/core/toc.ts TocIndex.build): generated TOCs agree with
// the JSON.parse model (test/helpers/toc-model.ts); random entry lists (names with "..", ".", "//",
// absolute names, every type, dangling and looping hardlinks, chunks that do not add up) and byte
// mutations of real TOCs either fail with a CoreError carrying a TocErrorCode and a position inside
// the input, or give an index whose every node is consistent (clean names, lookups, parents,
// children, hardlinks resolved to files, chunks adding up, members before the TOC) and, when the model
// takes the JSON too, equal to the model. After each case the same core still indexes a known TOC
// exactly as before (no damage), on the release and the debug (bounds-checked) core.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { Core, CoreError, loadCoreSync } from "../../src/core/index.js";
import { TocErrorCode, TocIndex, TocType } from "../../src/core/toc.js";
import { nodeCore, wasmPath } from "../../src/node/core.js";
import { generateToc } from "../helpers/toc-gen.js";
import { model } from "../helpers/toc-model.js";
import { fc, fuzz, mutate, mutationArb } from "../helpers/fuzz.js";

const enc = new TextEncoder();
const CODES = new Set<number>(Object.values(TocErrorCode));
const debugCore = loadCoreSync(readFileSync(wasmPath("debug")));
const hex = (b: Uint8Array | null) => (b ? Buffer.from(b).toString("hex") : null);

/** Every live node as one line: what a reader sees of the index (to compare before and after). */
function fingerprint(idx: TocIndex): string {
  const out: string[] = [];
  for (let id = 0; id < idx.count; id++) {
    if (idx.isShadowed(id)) continue;
    const chunks = [];
    for (let k = 0; k < idx.chunkCount(id); k++) chunks.push([idx.chunkOffset(id, k), idx.chunkSize(id, k), idx.chunkMemberOffset(id, k), hex(idx.chunkDigest(id, k))]);
    out.push(JSON.stringify([idx.name(id), idx.typeName(id), idx.size(id), idx.mode(id), idx.nlink(id), idx.linkName(id), idx.name(idx.resolveHardlink(id)), chunks]));
  }
  return out.join("\n");
}

const known = generateToc(200, 7);
const knownBytes = enc.encode(known.json);
const knownPrint = new Map<Core, string>();
for (const core of [nodeCore(), debugCore]) {
  const idx = TocIndex.build(core, knownBytes, { tocOffset: known.tocOffset });
  knownPrint.set(core, fingerprint(idx));
  idx.dispose();
}

/** The same core still indexes the known TOC exactly as it did before any fuzz case. */
function undamaged(core: Core): void {
  const idx = TocIndex.build(core, knownBytes, { tocOffset: known.tocOffset });
  try {
    assert.is(fingerprint(idx), knownPrint.get(core), "the core indexes a known TOC as before");
  } finally {
    idx.dispose();
  }
}

const isClean = (n: string) => n === "" || (!n.startsWith("/") && !n.endsWith("/") && n.split("/").every((s) => s !== "" && s !== "." && s !== ".."));

/** What must hold of any index the core accepted. */
function consistent(idx: TocIndex, tocOffset: number): void {
  assert.is(idx.typeName(0), "dir", "the root is a directory");
  for (let id = 0; id < idx.count; id++) {
    if (idx.isShadowed(id)) continue;
    const name = idx.name(id);
    const at = JSON.stringify(name);
    assert.ok(isClean(name), `${at} is a clean name`);
    assert.ok(!name.includes("\0"), `${at} has no NUL`);
    assert.is(idx.lookup(name), id, `${at}: lookup finds it`);
    if (id !== 0) {
      const p = idx.parent(id);
      assert.is(idx.typeName(p), "dir", `${at}: its parent is a directory`);
      assert.is(idx.name(p), name.includes("/") ? name.slice(0, name.lastIndexOf("/")) : "", `${at}: its parent's name`);
      assert.ok([...idx.children(p)].includes(id), `${at} is among its parent's children`);
    }
    if (idx.type(id) !== TocType.dir) assert.is([...idx.children(id)].length, 0, `${at}: only directories have children`);
    for (const c of idx.children(id)) assert.is(idx.parent(c), id, `${at}: its child's parent`);
    const t = idx.resolveHardlink(id);
    if (idx.type(id) === TocType.hardlink) {
      assert.ok(!idx.isShadowed(t) && idx.type(t) !== TocType.hardlink && idx.type(t) !== TocType.dir, `${at}: a hardlink resolves to a live non-directory`);
    } else assert.is(t, id);
    assert.ok(idx.nlink(id) >= 1, `${at}: nlink`);
    if (idx.type(id) === TocType.reg && idx.chunkCount(id) > 0) {
      let next = 0;
      for (let k = 0; k < idx.chunkCount(id); k++) {
        assert.is(idx.chunkOffset(id, k), next, `${at}: chunk ${k} starts where the previous ended`);
        const size = idx.chunkSize(id, k);
        assert.ok(size > 0 || idx.size(id) === 0, `${at}: chunk ${k} has a size`);
        next += size;
        if (tocOffset >= 0) assert.ok(idx.chunkMemberOffset(id, k) < tocOffset, `${at}: chunk ${k}'s member is before the TOC`);
        assert.is(idx.findChunk(id, idx.chunkOffset(id, k)), k);
      }
      assert.is(next, idx.size(id), `${at}: chunks add up to the file size`);
    }
  }
}

/** The index against the JSON.parse model, where the model takes the JSON. */
function agreesWithModel(idx: TocIndex, json: string, tocOffset: number): void {
  let m: ReturnType<typeof model>;
  try {
    m = model(json, tocOffset);
  } catch {
    return; // the model has no opinion (it checks less than the core; a crash here is not the core's)
  }
  let live = 0;
  for (let id = 0; id < idx.count; id++) {
    if (idx.isShadowed(id)) continue;
    live++;
    const n = m.nodes.get(idx.name(id));
    const at = JSON.stringify(idx.name(id));
    assert.ok(n, `${at} is in the model`);
    assert.equal([idx.typeName(id), idx.size(id), idx.linkName(id), idx.nlink(id), idx.isImplicit(id)], [n!.type, n!.size, n!.linkName, n!.nlink, n!.implicit], `${at}: type, size, linkName, nlink, implicit`);
    assert.equal([...idx.children(id)].map((c) => idx.name(c)), n!.children, `${at}: children`);
    if (n!.type === "hardlink") assert.is(idx.name(idx.resolveHardlink(id)), n!.target, `${at}: hardlink target`);
    assert.is(idx.chunkCount(id), n!.chunks.length, `${at}: chunk count`);
    n!.chunks.forEach((c, k) => {
      assert.equal([idx.chunkOffset(id, k), idx.chunkSize(id, k), idx.chunkMemberOffset(id, k), idx.chunkInnerOffset(id, k), hex(idx.chunkDigest(id, k))],
        [c.offset, c.size, c.member, c.inner, c.digest], `${at}: chunk ${k}`);
    });
  }
  assert.is(live, m.nodes.size, "as many live nodes as the model");
}

function strictUtf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** Builds `json` on `core`: a CoreError of a known code at a position inside the input, or a consistent index. */
function check(core: Core, json: string | Uint8Array, tocOffset: number, compareModel: boolean): void {
  const bytes = typeof json === "string" ? enc.encode(json) : json;
  let idx: TocIndex | undefined;
  try {
    idx = TocIndex.build(core, bytes, { tocOffset });
  } catch (err) {
    if (!(err instanceof CoreError)) throw err;
    assert.ok(CODES.has(err.code), `known error code (${err.code}: ${err.message.slice(0, 200)})`);
    assert.ok(err.position >= 0 && err.position <= bytes.length, `error position ${err.position} inside the ${bytes.length}-byte input`);
  }
  if (idx) {
    try {
      consistent(idx, tocOffset);
      // the model reads the text JSON.parse's way; invalid UTF-8 the core decodes as Go does (U+FFFD per
      // byte, where a TextDecoder gives one per maximal bad sequence): compared on valid UTF-8 only
      const text = typeof json === "string" ? json : strictUtf8(json);
      if (compareModel && text !== undefined) agreesWithModel(idx, text, tocOffset);
    } finally {
      idx.dispose();
    }
  }
  undamaged(core);
}

// Entry lists built from a few path pieces that clean to the same names in many ways.
const SEGMENTS = ["a", "b", "c", "a", "b", "c", "a", "b", "..", ".", "", "dir", "ü", ".wh..wh..opq"];
const nameArb = fc.tuple(fc.constantFrom("", "", "", "./", "/", "//"), fc.array(fc.constantFrom(...SEGMENTS), { minLength: 1, maxLength: 4 }), fc.constantFrom("", "", "/"))
  .map(([pre, segs, post]) => pre + segs.join("/") + post);
/** Mostly `good`, sometimes one of `odd`. */
const mostly = <T>(good: fc.Arbitrary<T>, ...odd: T[]) => fc.option(fc.oneof({ weight: 12, arbitrary: good }, { weight: 1, arbitrary: fc.constantFrom(...odd) }), { nil: undefined });
const DIGESTS = ["sha256:" + "ab".repeat(32), "sha256:" + "01".repeat(32)];
const entryArb = fc.record({
  name: nameArb,
  type: fc.constantFrom("dir", "dir", "reg", "reg", "reg", "chunk", "chunk", "symlink", "hardlink", "hardlink", "char", "fifo", "block", "dir", "reg", "socket"),
  size: mostly(fc.nat({ max: 300 }), 1 << 30, 2 ** 53, -1, 1.5),
  linkName: fc.option(nameArb, { nil: undefined }),
  offset: mostly(fc.nat({ max: 2000 }), 2 ** 47, -5),
  chunkOffset: mostly(fc.nat({ max: 300 }), 2 ** 53),
  chunkSize: mostly(fc.nat({ max: 300 }), 2 ** 40),
  innerOffset: mostly(fc.nat({ max: 300 }), 2 ** 40),
  chunkDigest: mostly(fc.constantFrom(...DIGESTS), "sha256:XY", "md5:00", ""),
  digest: mostly(fc.constantFrom(...DIGESTS), "sha256:" + "AB".repeat(32)),
  mode: mostly(fc.constantFrom(0o644, 0o755, 0o4755), 2 ** 32),
}, { requiredKeys: ["name", "type"] });
const tocOffsetArb = fc.constantFrom(-1, 5000, 100);

test("generated TOCs: the index is consistent and equal to the model", async () => {
  await fuzz("toc/generated", [fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.boolean()], (count, seed, compact) => {
    const g = generateToc(count, seed, compact);
    const idx = TocIndex.build(nodeCore(), enc.encode(g.json), { tocOffset: g.tocOffset });
    try {
      consistent(idx, g.tocOffset);
      agreesWithModel(idx, g.json, g.tocOffset);
    } finally {
      idx.dispose();
    }
  }, { runs: 60 });
});

test("random entry lists: a TOC error or a consistent index equal to the model", async () => {
  await fuzz("toc/entries", [fc.array(entryArb, { maxLength: 24 }), tocOffsetArb], (entries, tocOffset) => {
    check(nodeCore(), JSON.stringify({ version: 1, entries }), tocOffset, true);
  }, { runs: 600 });
});

test("mutated TOCs (bytes): a TOC error or a consistent index; the core undamaged — release core", async () => {
  await fuzz("toc/mutated", [fc.integer({ min: 1, max: 120 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), mutationArb()], (count, seed, muts) => {
    const g = generateToc(count, seed, seed % 2 === 0);
    check(nodeCore(), mutate(enc.encode(g.json), muts), g.tocOffset, true);
  }, { runs: 500 });
});

test("mutated TOCs and random entry lists on the debug core (bounds-checked)", async () => {
  await fuzz("toc/debug-core", [fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), mutationArb(), fc.array(entryArb, { maxLength: 12 })], (count, seed, muts, entries) => {
    const g = generateToc(count, seed, true);
    check(debugCore, mutate(enc.encode(g.json), muts), g.tocOffset, false);
    check(debugCore, JSON.stringify({ version: 1, entries }), -1, false);
  }, { runs: 150 });
});

test.run();
