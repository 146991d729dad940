// The TOC index (Wasm) against a JSON.parse model of the same rules: every field of every node of
// the Go fixtures and of generated 100 000-entry TOCs, the fixtures' listings line for line, and
// every kind of malformed TOC → its error code and byte position, on the release and debug cores.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Core, CoreError, loadCoreSync } from "../../src/core/index.js";
import { TocIndex, TocType, TocErrorCode, tocLayout } from "../../src/core/toc.js";
import { wasmPath, nodeCore } from "../../src/node/core.js";
import { parseFooter } from "../../src/estargz/footer.js";
import { fixturesDir } from "../helpers/paths.js";
import { generateToc } from "../helpers/toc-gen.js";
import { model, type Model } from "../helpers/toc-model.js";

const enc = new TextEncoder();
const hex = (b: Uint8Array | null) => (b ? Buffer.from(b).toString("hex") : null);
const cores: Array<[string, Core]> = [
  ["release", nodeCore()],
  ["debug", loadCoreSync(readFileSync(wasmPath("debug")))],
];

/** Every field of every node and TOC entry of `idx` against the model; returns the mismatches. */
function compare(idx: TocIndex, m: Model, jsonText: string): string[] {
  const bad: string[] = [];
  const eq = (what: string, got: unknown, want: unknown) => {
    if (got !== want && bad.length < 20) bad.push(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  };
  let live = 0;
  for (let id = 0; id < idx.count; id++) {
    if (idx.isShadowed(id)) continue;
    live++;
    const name = idx.name(id);
    const n = m.nodes.get(name);
    if (!n) {
      bad.push(`node ${id} ${JSON.stringify(name)} not in the model`);
      continue;
    }
    const at = `${JSON.stringify(name)}`;
    eq(`${at} lookup`, idx.lookup(name), id);
    eq(`${at} type`, idx.typeName(id), n.type);
    eq(`${at} mode`, idx.mode(id), n.mode);
    eq(`${at} uid`, idx.uid(id), n.uid);
    eq(`${at} gid`, idx.gid(id), n.gid);
    eq(`${at} userName`, idx.userName(id), n.userName);
    eq(`${at} groupName`, idx.groupName(id), n.groupName);
    eq(`${at} size`, idx.size(id), n.size);
    eq(`${at} mtimeSec`, idx.mtimeSec(id), n.mtimeSec);
    eq(`${at} mtimeNsec`, idx.mtimeNsec(id), n.mtimeNsec);
    eq(`${at} devMajor`, idx.devMajor(id), n.devMajor);
    eq(`${at} devMinor`, idx.devMinor(id), n.devMinor);
    eq(`${at} linkName`, idx.linkName(id), n.linkName);
    eq(`${at} nlink`, idx.nlink(id), n.nlink);
    eq(`${at} implicit`, idx.isImplicit(id), n.implicit);
    eq(`${at} baseName`, idx.baseName(id), name.slice(name.lastIndexOf("/") + 1));
    eq(`${at} parent`, idx.name(idx.parent(id)), n.parent);
    eq(`${at} digest`, hex(idx.digest(id)), n.digest);
    const xs = idx.xattrs(id);
    eq(`${at} xattrs`, JSON.stringify(xs.map((x) => [x.name, hex(x.value)])), JSON.stringify(n.xattrs.map(([k, v]) => [k, hex(v)])));
    eq(`${at} children`, JSON.stringify([...idx.children(id)].map((c) => idx.name(c))), JSON.stringify(n.children));
    if (n.type === "hardlink") eq(`${at} target`, idx.name(idx.resolveHardlink(id)), n.target);
    else eq(`${at} resolveHardlink`, idx.resolveHardlink(id), id);
    eq(`${at} chunkCount`, idx.chunkCount(id), n.chunks.length);
    for (let k = 0; k < Math.min(idx.chunkCount(id), n.chunks.length); k++) {
      const c = n.chunks[k];
      eq(`${at} chunk ${k} offset`, idx.chunkOffset(id, k), c.offset);
      eq(`${at} chunk ${k} size`, idx.chunkSize(id, k), c.size);
      eq(`${at} chunk ${k} member`, idx.chunkMemberOffset(id, k), c.member);
      eq(`${at} chunk ${k} inner`, idx.chunkInnerOffset(id, k), c.inner);
      eq(`${at} chunk ${k} end`, idx.chunkCompressedEnd(id, k), c.end);
      eq(`${at} chunk ${k} digest`, hex(idx.chunkDigest(id, k)), c.digest);
      eq(`${at} findChunk(first byte of ${k})`, idx.findChunk(id, c.offset), k);
      eq(`${at} findChunk(last byte of ${k})`, idx.findChunk(id, c.offset + c.size - 1), k);
    }
    if (n.type === "reg") eq(`${at} findChunk(size)`, idx.findChunk(id, n.size), -1);
  }
  eq("live nodes", live, m.nodes.size);
  eq("landmark", idx.landmark, m.landmark);
  eq("prefetchEnd", idx.prefetchEnd, m.prefetchEnd);
  // TOC order: types, names, and each position is where that entry's JSON object starts
  eq("entryCount", idx.entryCount, m.entries.length);
  const bytes = enc.encode(jsonText);
  const perChunk = new Map<number, number>();
  for (let i = 0; i < idx.entryCount; i++) {
    const e = m.entries[i];
    const node = idx.entryNode(i);
    eq(`entry ${i} type`, ["", "dir", "reg", "symlink", "hardlink", "char", "block", "fifo", "chunk"][idx.entryType(i)], e.type);
    eq(`entry ${i} name`, idx.name(node), e.name);
    eq(`entry ${i} position`, bytes[idx.entryPosition(i)], 0x7b);
    if (i > 0) eq(`entry ${i} position ascending`, idx.entryPosition(i) > idx.entryPosition(i - 1), true);
    if (e.type === "chunk" || (e.type === "reg" && idx.chunkCount(node) > 0)) {
      const k = e.type === "reg" ? 0 : (perChunk.get(node) ?? 0) + 1;
      perChunk.set(node, k);
      eq(`entry ${i} chunk`, idx.entryChunk(i), k);
    } else eq(`entry ${i} chunk`, idx.entryChunk(i), -1);
  }
  // chunkTable: the chunk entries in TOC order, each slot what the per-chunk accessors say
  const t = idx.chunkTable();
  let j = 0;
  for (let i = 0; i < idx.entryCount; i++) {
    const k = idx.entryChunk(i);
    if (k < 0) continue;
    const node = idx.entryNode(i);
    const at = `chunkTable[${j}]`;
    eq(`${at} node`, t.node[j], node);
    eq(`${at} k`, t.k[j], k);
    eq(`${at} memberStart`, t.memberStart[j], idx.chunkMemberOffset(node, k));
    eq(`${at} memberEnd`, t.memberEnd[j], idx.chunkCompressedEnd(node, k));
    eq(`${at} innerOffset`, t.innerOffset[j], idx.chunkInnerOffset(node, k));
    eq(`${at} size`, t.size[j], idx.chunkSize(node, k));
    eq(`${at} digest`, hex(t.digests.subarray(j * 32, j * 32 + 32)), hex(idx.chunkDigest(node, k) ?? new Uint8Array(32)));
    j++;
  }
  eq("chunkTable length", t.node.length, j);
  return bad;
}

/** The listing format of the fixtures (README): one line per path after cleaning and folding chunks. */
function listing(idx: TocIndex): string[] {
  const lines: Array<[Buffer, string]> = [];
  for (let id = 0; id < idx.count; id++) {
    if (idx.isShadowed(id)) continue;
    const t = idx.type(id);
    const target = idx.resolveHardlink(id);
    let what = "";
    if (t === TocType.reg) what = idx.digest(id) ? `sha256:${hex(idx.digest(id))}` : "";
    else if (t === TocType.symlink) what = `-> ${idx.linkName(id)}`;
    else if (t === TocType.hardlink) what = idx.name(target);
    else if (t === TocType.char || t === TocType.block || t === TocType.fifo) what = `dev=${idx.devMajor(id)},${idx.devMinor(id)}`;
    const xattrs = idx.xattrs(id).sort((a, b) => (a.name < b.name ? -1 : 1)).map((x) => `${x.name}=${hex(x.value)}`).join(",");
    const path = id === 0 ? "." : idx.name(id);
    const line = [path, idx.typeName(id), (idx.mode(id) & 0o7777).toString(8), idx.uid(id), idx.gid(id), idx.size(target), what, xattrs].join("\t");
    lines.push([Buffer.from(path), line]);
  }
  return lines.sort((a, b) => Buffer.compare(a[0], b[0])).map((l) => l[1]);
}

const fixtureNames = readdirSync(fixturesDir).filter((f) => f.endsWith(".toc.json")).map((f) => f.slice(0, -".toc.json".length));

test("fixtures: every field of every entry equals the JSON.parse model, with the footer's TOC offset", () => {
  assert.ok(fixtureNames.length >= 4);
  for (const f of fixtureNames) {
    const blob = readFileSync(join(fixturesDir, `${f}.tar.gz`));
    const { tocOffset } = parseFooter(blob.subarray(blob.length - 51), blob.length, f);
    const text = readFileSync(join(fixturesDir, `${f}.toc.json`), "utf8");
    for (const [variant, core] of cores) {
      const idx = TocIndex.build(core, enc.encode(text), { tocOffset });
      try {
        const bad = compare(idx, model(text, tocOffset), text);
        assert.equal(bad, [], `${f} (${variant}): ${bad.join("\n")}`);
      } finally {
        idx.dispose();
      }
    }
  }
});

test("fixtures: the Go reader's listing is reproduced line for line", () => {
  for (const f of fixtureNames) {
    const want = readFileSync(join(fixturesDir, `${f}.listing.tsv`), "utf8").split("\n").filter((l) => l !== "");
    const idx = TocIndex.build(nodeCore(), readFileSync(join(fixturesDir, `${f}.toc.json`)));
    try {
      assert.equal(listing(idx), want, f);
    } finally {
      idx.dispose();
    }
  }
});

test("fixtures: landmarks, chunk boundaries and hardlink counts as the Go writer laid them out", () => {
  const c64 = TocIndex.build(nodeCore(), readFileSync(join(fixturesDir, "estargz-c64k.toc.json")));
  const prio = TocIndex.build(nodeCore(), readFileSync(join(fixturesDir, "estargz-prio.toc.json")));
  try {
    assert.is(c64.landmark, 2);
    assert.is(c64.prefetchEnd, 0);
    const chunky = c64.lookup("./data/chunky.bin/");
    assert.is(c64.chunkCount(chunky), 5);
    assert.equal([0, 1, 2, 3, 4].map((k) => c64.chunkSize(chunky, k)), [65536, 65536, 65536, 65536, 307217 - 4 * 65536]);
    assert.is(c64.findChunk(chunky, 65535), 0);
    assert.is(c64.findChunk(chunky, 65536), 1);
    assert.is(c64.chunkCount(c64.lookup("data/exact-64k.bin")), 1);
    assert.is(c64.chunkCount(c64.lookup("data/empty")), 0);
    // built without tocOffset: the last member's end is unknown
    assert.is(c64.chunkCompressedEnd(c64.lookup("etc/opaque/kept.txt"), 0), -1);
    assert.is(c64.chunkCompressedEnd(chunky, 4), c64.chunkMemberOffset(c64.lookup("data/deep/deeper/leaf"), 0));
    const text = c64.lookup("data/text.txt");
    assert.is(c64.type(text), TocType.hardlink);
    assert.is(c64.name(c64.resolveHardlink(text)), "data/text-hardlink.txt");
    assert.is(c64.nlink(c64.lookup("data/text-hardlink.txt")), 2);
    assert.is(c64.lookup("data/../etc/config"), c64.lookup("etc/config"));
    assert.is(c64.lookup("../etc"), -1);
    assert.is(c64.lookup("missing"), -1);
    assert.is(c64.lookup("/"), 0);
    assert.is(prio.landmark, 1);
    const lm = prio.lookup(".prefetch.landmark");
    assert.is(prio.prefetchEnd, prio.chunkMemberOffset(lm, 0));
    // the prioritised files come before the landmark in the blob
    assert.ok(prio.chunkMemberOffset(prio.lookup("etc/config"), 0) < prio.prefetchEnd);
    assert.ok(prio.chunkMemberOffset(prio.lookup("data/empty") === -1 ? 0 : prio.lookup("data/chunky.bin"), 0) > prio.prefetchEnd);
  } finally {
    c64.dispose();
    prio.dispose();
  }
});

test("generated 100 000-entry TOCs (tab-indented and compact): every field of every entry equals the model", () => {
  for (const [seed, compact] of [[7, false], [8, true]] as const) {
    const g = generateToc(100_000, seed, compact);
    const m = model(g.json, g.tocOffset);
    const idx = TocIndex.build(nodeCore(), enc.encode(g.json), { tocOffset: g.tocOffset });
    try {
      assert.ok(idx.entryCount >= 100_000);
      const kinds = new Set(m.entries.map((e) => e.type));
      assert.equal([...kinds].sort(), ["block", "char", "chunk", "dir", "fifo", "hardlink", "reg", "symlink"]);
      const bad = compare(idx, m, g.json);
      assert.equal(bad, [], bad.join("\n"));
      const s = idx.stats();
      assert.ok(s.nodes > 90_000 && s.chunks > 60_000, JSON.stringify(s));
    } finally {
      idx.dispose();
    }
  }
});

test("JSON escapes: \\uXXXX, surrogate pairs, lone surrogates (U+FFFD), escaped keys and type strings", () => {
  const json = String.raw`{"entries":[{"n\u0061me":"\u0061/\u00fc\u65e5\ud83d\ude00\ud800x\"\\\/\b\f\n\r\t","type":"r\u0065g","size":0},{"name":"a/l","type":"symlink","linkName":"\udc00"}],"version":1}`;
  const idx = TocIndex.build(nodeCore(), enc.encode(json));
  try {
    const id = idx.lookup("a/ü日😀\uFFFDx\"\\/\b\f\n\r\t");
    assert.ok(id > 0);
    assert.is(idx.type(id), TocType.reg);
    assert.is(idx.isImplicit(idx.parent(id)), true);
    assert.is(idx.linkName(idx.lookup("a/l")), "\uFFFD");
    assert.equal(idx.name(id), JSON.parse(json).entries[0].name.replace("\ud800", "\uFFFD"));
  } finally {
    idx.dispose();
  }
});

test("invalid UTF-8 in names becomes U+FFFD per byte, as Go's JSON decoder reads it", () => {
  const json = Uint8Array.from([...enc.encode(`{"version":1,"entries":[{"name":"a`), 0xff, 0x62, 0xe6, 0x97, ...enc.encode(`","type":"reg"}]}`)]);
  const idx = TocIndex.build(nodeCore(), json);
  try {
    const id = idx.lookup("a\uFFFDb\uFFFD\uFFFD");
    assert.is(id, 1);
    assert.is(idx.name(id), "a\uFFFDb\uFFFD\uFFFD");
  } finally {
    idx.dispose();
  }
});

test("duplicates: the last entry of a name wins; earlier ones stay in TOC order, shadowed", () => {
  const json = JSON.stringify({
    version: 1,
    entries: [
      { name: "d/", type: "dir", mode: 0o700 },
      { name: "d/f", type: "reg", size: 3, offset: 10, chunkDigest: `sha256:${"1".repeat(64)}` },
      { name: "d", type: "dir", mode: 0o711 },
      { name: "./d/f", type: "reg", size: 4, offset: 20, mode: 0o600 },
      { name: "d/g", type: "reg" },
      { name: "x", type: "symlink", linkName: "d" },
    ],
  });
  const idx = TocIndex.build(nodeCore(), enc.encode(json), { tocOffset: 100 });
  try {
    const d = idx.lookup("d");
    assert.is(idx.mode(d), 0o711);
    assert.equal([...idx.children(d)].map((c) => idx.name(c)), ["d/f", "d/g"]);
    assert.is(idx.nlink(0), 3);
    const f = idx.lookup("d/f");
    assert.is(idx.size(f), 4);
    assert.is(idx.mode(f), 0o600);
    assert.is(idx.entryCount, 6);
    const first = idx.entryNode(1);
    assert.ok(first !== f && idx.isShadowed(first));
    assert.is(idx.size(first), 3);
    assert.is(idx.chunkMemberOffset(first, 0), 10);
    assert.is(idx.chunkCompressedEnd(first, 0), 20);
    assert.is(idx.chunkCompressedEnd(f, 0), 100);
  } finally {
    idx.dispose();
  }
});

// Each malformed TOC → [code, expected byte position (a marker's index in the text, or a number)].
const BAD: Array<[string, string, number, string | number]> = [
  ["empty input", "", TocErrorCode.eof, 0],
  ["not JSON", "hello", TocErrorCode.shape, 0],
  ["truncated", `{"version":1,"entries":[{"name":"a","type":"dir"}`, TocErrorCode.eof, 49],
  ["truncated string", `{"version":1,"entries":[{"name":"a`, TocErrorCode.eof, 34],
  ["missing comma", `{"version":1 "entries":[]}`, TocErrorCode.syntax, 13],
  ["trailing comma", `{"version":1,"entries":[{"name":"a","type":"dir"},]}`, TocErrorCode.shape, 50],
  ["trailing garbage", `{"version":1,"entries":[]} x`, TocErrorCode.trailing, 27],
  ["control byte in string", `{"version":1,"entries":[{"name":"a\nb","type":"dir"}]}`, TocErrorCode.string, 34],
  ["bad escape", `{"version":1,"entries":[{"name":"a\\qb","type":"dir"}]}`, TocErrorCode.string, 34],
  ["bad \\u escape", `{"version":1,"entries":[{"name":"a\\u12g4","type":"dir"}]}`, TocErrorCode.string, 34],
  ["version 2", `{"version":2,"entries":[]}`, TocErrorCode.version, 11],
  ["version missing", `{"entries":[]}`, TocErrorCode.version, 0],
  ["version as string", `{"version":"1","entries":[]}`, TocErrorCode.version, 11],
  ["entries missing", `{"version":1}`, TocErrorCode.shape, 0],
  ["entries not an array", `{"version":1,"entries":{}}`, TocErrorCode.shape, 23],
  ["entry not an object", `{"version":1,"entries":[1]}`, TocErrorCode.shape, 24],
  ["entries twice", `{"version":1,"entries":[],"entries":[]}`, TocErrorCode.dupEntries, 36],
  ["size as string", `{"version":1,"entries":[{"name":"a","type":"reg","size":"12"}]}`, TocErrorCode.field, 56],
  ["negative size", `{"version":1,"entries":[{"name":"a","type":"reg","size":-1}]}`, TocErrorCode.number, 56],
  ["fractional offset", `{"version":1,"entries":[{"name":"a","type":"reg","size":1,"offset":1.5}]}`, TocErrorCode.number, 67],
  ["size above 2^53", `{"version":1,"entries":[{"name":"a","type":"reg","size":9007199254740993}]}`, TocErrorCode.number, 56],
  ["huge number", `{"version":1,"entries":[{"name":"a","type":"reg","size":123456789012345678901234567890}]}`, TocErrorCode.number, 56],
  ["uid above 2^32", `{"version":1,"entries":[{"name":"a","type":"dir","uid":4294967296}]}`, TocErrorCode.number, 55],
  ["leading zero", `{"version":1,"entries":[{"name":"a","type":"dir","mode":0755}]}`, TocErrorCode.syntax, 57],
  ["unknown type", `{"version":1,"entries":[{"name":"a","type":"socket"}]}`, TocErrorCode.type, 43],
  ["no name", `{"version":1,"entries":[{"type":"dir"}]}`, TocErrorCode.missing, 24],
  ["no type", `{"version":1,"entries":[{"name":"a"}]}`, TocErrorCode.missing, 24],
  ["name escaping with ..", `{"version":1,"entries":[{"name":"a/../../etc","type":"dir"}]}`, TocErrorCode.escape, 32],
  ["absolute .. name", `{"version":1,"entries":[{"name":"/../x","type":"reg"}]}`, TocErrorCode.escape, 32],
  ["NUL in name", `{"version":1,"entries":[{"name":"a\\u0000b","type":"reg"}]}`, TocErrorCode.name, 32],
  ["root not a dir", `{"version":1,"entries":[{"name":"./","type":"reg"}]}`, TocErrorCode.root, 24],
  ["parent is a file", `{"version":1,"entries":[{"name":"f","type":"reg"},{"name":"f/g","type":"reg"}]}`, TocErrorCode.parent, 50],
  ["dir with children replaced by a file", `{"version":1,"entries":[{"name":"d","type":"dir"},{"name":"d/g","type":"reg"},{"name":"d","type":"reg"}]}`, TocErrorCode.dirReplaced, 78],
  ["short digest", `{"version":1,"entries":[{"name":"f","type":"reg","digest":"sha256:abcd"}]}`, TocErrorCode.digest, 58],
  ["uppercase digest", `{"version":1,"entries":[{"name":"f","type":"reg","digest":"sha256:${"A".repeat(64)}"}]}`, TocErrorCode.digest, 58],
  ["sha512 digest", `{"version":1,"entries":[{"name":"f","type":"reg","digest":"sha512:${"a".repeat(64)}"}]}`, TocErrorCode.digest, 58],
  ["digest as number", `{"version":1,"entries":[{"name":"f","type":"reg","chunkDigest":5}]}`, TocErrorCode.field, 63],
  ["bad modtime", `{"version":1,"entries":[{"name":"f","type":"reg","modtime":"2024-02-30T00:00:00Z"}]}`, TocErrorCode.time, 59],
  ["modtime without zone", `{"version":1,"entries":[{"name":"f","type":"reg","modtime":"2024-01-01T00:00:00"}]}`, TocErrorCode.time, 59],
  ["bad base64", `{"version":1,"entries":[{"name":"f","type":"reg","xattrs":{"user.a":"a*=="}}]}`, TocErrorCode.base64, 68],
  ["xattrs not an object", `{"version":1,"entries":[{"name":"f","type":"reg","xattrs":[]}]}`, TocErrorCode.field, 58],
  ["huge name", `{"version":1,"entries":[{"name":"${"a".repeat(70000)}","type":"reg"}]}`, TocErrorCode.huge, 32],
  ["too deep", `{"version":1,"x":${"[".repeat(2000)}${"]".repeat(2000)},"entries":[]}`, TocErrorCode.deep, 17 + 1024],
  ["mismatched brackets", `{"version":1,"x":[{]},"entries":[]}`, TocErrorCode.syntax, 19],
  ["chunk without file", `{"version":1,"entries":[{"name":"f","type":"chunk","chunkOffset":5}]}`, TocErrorCode.chunkOrphan, 24],
  ["chunk of another file", `{"version":1,"entries":[{"name":"f","type":"reg","size":10,"chunkSize":5},{"name":"g","type":"reg","size":1},{"name":"f","type":"chunk","chunkOffset":5}]}`, TocErrorCode.chunkOrder, 109],
  ["chunk gap", `{"version":1,"entries":[{"name":"f","type":"reg","size":10,"chunkSize":4},{"name":"f","type":"chunk","chunkOffset":5}]}`, TocErrorCode.chunkSizes, 74],
  ["chunks short of size", `{"version":1,"entries":[{"name":"f","type":"reg","size":10,"chunkSize":4},{"name":"f","type":"chunk","chunkOffset":4,"chunkSize":4}]}`, TocErrorCode.chunkSizes, 74],
  ["chunks past size", `{"version":1,"entries":[{"name":"f","type":"reg","size":10,"chunkSize":12}]}`, TocErrorCode.chunkSizes, 24],
  ["open chunk not last", `{"version":1,"entries":[{"name":"f","type":"reg","size":10},{"name":"f","type":"chunk","chunkOffset":4}]}`, TocErrorCode.chunkSizes, 24],
  ["first chunk not at 0", `{"version":1,"entries":[{"name":"f","type":"reg","size":10,"chunkOffset":3}]}`, TocErrorCode.chunkSizes, 24],
  ["hardlink to nothing", `{"version":1,"entries":[{"name":"h","type":"hardlink","linkName":"nope"}]}`, TocErrorCode.linkMissing, 24],
  ["hardlink without target", `{"version":1,"entries":[{"name":"h","type":"hardlink"}]}`, TocErrorCode.linkMissing, 24],
  ["hardlink loop", `{"version":1,"entries":[{"name":"a","type":"hardlink","linkName":"b"},{"name":"b","type":"hardlink","linkName":"a"}]}`, TocErrorCode.linkLoop, 24],
  ["hardlink to a dir", `{"version":1,"entries":[{"name":"d","type":"dir"},{"name":"h","type":"hardlink","linkName":"d"}]}`, TocErrorCode.linkDir, 50],
  ["hardlink escaping", `{"version":1,"entries":[{"name":"h","type":"hardlink","linkName":"../x"}]}`, TocErrorCode.escape, 24],
  ["offset past the TOC", `{"version":1,"entries":[{"name":"f","type":"reg","size":1,"offset":5000}]}`, TocErrorCode.offset, 24],
];

test("owner names: an entry without one gets the last name given for its uid / gid, in TOC order (Go's reader)", () => {
  const json = JSON.stringify({
    version: 1,
    entries: [
      { name: "a", type: "dir", uid: 1000, gid: 100, userName: "alice", groupName: "staff" },
      { name: "a/f", type: "reg", uid: 1000, gid: 100 }, // omitted: as named before
      { name: "a/g", type: "reg", uid: 1000, gid: 100, userName: "", groupName: null }, // empty / null = omitted
      { name: "a/h", type: "reg", uid: 0, gid: 1000 }, // no name seen for uid 0 or gid 1000 (a uid's name is no group's)
      { name: "a/i", type: "reg", uid: 1000, gid: 0, userName: "bob", size: 5, offset: 10, chunkSize: 2, chunkDigest: `sha256:${"1".repeat(64)}` },
      { name: "a/i", type: "chunk", offset: 20, chunkOffset: 2, chunkDigest: `sha256:${"2".repeat(64)}` }, // chunks carry no owner
      { name: "a/j", type: "reg", uid: 1000, gid: 100 }, // the later name for uid 1000 wins
      { name: "a/k", type: "reg", uid: 1000, gid: 100, userName: "carol", groupName: "wheel" },
      { name: "a/f", type: "reg", uid: 1000, gid: 100 }, // a duplicate fills from where it stands in TOC order
    ],
  });
  for (const [label, core] of cores) {
    const idx = TocIndex.build(core, enc.encode(json), { tocOffset: 100 });
    try {
      const owner = (path: string) => { const id = idx.lookup(path); return [idx.userName(id), idx.groupName(id)]; };
      assert.equal(owner("a"), ["alice", "staff"], label);
      assert.equal(owner("a/g"), ["alice", "staff"], label);
      assert.equal(owner("a/h"), ["", ""], label);
      assert.equal(owner("a/i"), ["bob", ""], label);
      assert.equal(owner("a/j"), ["bob", "staff"], label);
      assert.equal(owner("a/k"), ["carol", "wheel"], label);
      assert.equal(owner("a/f"), ["carol", "wheel"], label);
      const shadowed = idx.entryNode(1);
      assert.ok(idx.isShadowed(shadowed), label);
      assert.equal([idx.userName(shadowed), idx.groupName(shadowed)], ["alice", "staff"], label);
    } finally {
      idx.dispose();
    }
  }
});

test("malformed TOCs: each ends in its error code at the right byte, never a trap (release and debug cores)", () => {
  for (const [variant, core] of cores) {
    for (const [what, json, code, where] of BAD) {
      let err: unknown;
      try {
        TocIndex.build(core, enc.encode(json), { tocOffset: 1000 }).dispose();
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof CoreError, `${what} (${variant}): expected a CoreError, got ${String(err)}`);
      const e = err as CoreError;
      assert.is(e.code, code, `${what} (${variant}): ${e.message}`);
      assert.is(e.position, typeof where === "number" ? where : json.indexOf(where), `${what} (${variant}): ${e.message}`);
      assert.match(e.message, `at byte ${e.position}`);
    }
  }
});

test("implicit directories from pathological names stay proportional to the input", () => {
  const deep = "a/".repeat(20000) + "f";
  const json = JSON.stringify({ version: 1, entries: Array.from({ length: 20 }, (_, i) => ({ name: `${i}/${deep}`, type: "reg" })) });
  let err: unknown;
  try {
    TocIndex.build(nodeCore(), enc.encode(json)).dispose();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof CoreError && err.code === TocErrorCode.limit, String(err));
  // a reasonable deep tree is fine
  const ok = JSON.stringify({ version: 1, entries: [{ name: "x/".repeat(200) + "f", type: "reg" }] });
  const idx = TocIndex.build(nodeCore(), enc.encode(ok));
  assert.is(idx.count, 202);
  assert.is(idx.nlink(0), 3);
  idx.dispose();
});

test("mutated fixtures (flipped, dropped and inserted bytes, truncations) build or fail cleanly, release and debug", () => {
  const base = readFileSync(join(fixturesDir, "estargz-c64k.toc.json"));
  let seed = 12345;
  const rnd = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const alphabet = Uint8Array.from([...enc.encode(`{}[]":,.\\/-0123456789aeflnrstu \n`), 0x00, 0xff, 0xc3, 0x80, 0xe6]);
  let errors = 0, ok = 0;
  for (const [, core] of cores) {
    for (let i = 0; i < 1500; i++) {
      let b = Uint8Array.from(base);
      const kind = rnd(4);
      if (kind === 0) b = b.subarray(0, rnd(b.length));
      else {
        for (let j = 0, m = 1 + rnd(3); j < m; j++) {
          const at = rnd(b.length);
          const c = alphabet[rnd(alphabet.length)];
          if (kind === 1) b[at] = c;
          else if (kind === 2) b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + 1)]);
          else b = Uint8Array.from([...b.subarray(0, at), c, ...b.subarray(at)]);
        }
      }
      try {
        const idx = TocIndex.build(core, b, { tocOffset: 159000 });
        // whatever parsed must be internally consistent
        for (let id = 0; id < idx.count; id++) {
          if (!idx.isShadowed(id)) assert.is(idx.lookup(idx.name(id)), id);
          for (let k = 0; k < idx.chunkCount(id); k++) assert.ok(idx.chunkSize(id, k) > 0);
        }
        idx.dispose();
        ok++;
      } catch (e) {
        assert.ok(e instanceof CoreError, `mutation ${i}: ${String(e)}`);
        assert.ok(e.position >= 0 && e.position <= b.length, `mutation ${i}: position ${e.position} of ${b.length}`);
        errors++;
      }
    }
  }
  assert.ok(errors > 1000 && ok > 50, `${errors} errors, ${ok} built`);
});

/** The TOC_* globals a core exports, by name, as numbers. */
function layoutExports(core: Core): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, g] of Object.entries(core.exports)) {
    if (name.startsWith("TOC_") && g instanceof WebAssembly.Global) out[name] = typeof g.value === "bigint" ? Number(g.value) : g.value >>> 0;
  }
  return out;
}

test("layout: the host reads every layout constant the core exports (TOC_*), as exported, release and debug", () => {
  for (const [variant, core] of cores) {
    const L = tocLayout(core);
    const theirs = layoutExports(core);
    // nothing the core exports goes unread, nothing the host reads is missing, no value changed on the way
    assert.equal(L.exports, theirs, variant);
    assert.ok(Object.keys(theirs).length > 60, `${variant}: ${Object.keys(theirs).length} exports`);
    // record sizes and field offsets become word strides and word indexes
    for (const [record, fields] of Object.entries(L)) {
      if (record === "exports" || typeof fields !== "object") continue;
      const R = record.toUpperCase();
      assert.is(fields.words * 4, theirs[`TOC_${R}_BYTES`], `${variant} ${record} size`);
      for (const [f, word] of Object.entries(fields as Record<string, number>)) {
        if (f === "words") continue;
        assert.is(word * 4, theirs[`TOC_${R}_${f.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`], `${variant} ${record}.${f}`);
      }
      const words = Object.entries(fields as Record<string, number>).filter(([f]) => f !== "words").map(([, w]) => w);
      assert.is(new Set(words).size, words.length, `${variant} ${record}: two fields share a word`);
    }
    for (const [name, value] of Object.entries(TocType)) assert.is(theirs[`TOC_TYPE_${name.toUpperCase()}`], value, `${variant} type ${name}`);
  }
});

test("layout: a core whose layout this host cannot read is refused at build, before any index is made", () => {
  const real = nodeCore();
  const json = enc.encode(`{"version":1,"entries":[{"name":"a","type":"reg","size":0}]}`);
  const u32 = (v: number) => new WebAssembly.Global({ value: "i32", mutable: false }, v | 0);
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ["missing field", { TOC_NODE_NAME: undefined }, /no export TOC_NODE_NAME/],
    ["field off a word", { TOC_NODE_NAME: u32(18) }, /node\.name at byte 18 of 32 is not a u32 word/],
    ["field past its record", { TOC_CHUNK_HIGH: u32(20) }, /chunk\.high at byte 20 of 20/],
    ["other type numbers", { TOC_TYPE_REG: u32(9) }, /entry type reg is 9 in the core, 2 here/],
  ];
  for (const [what, change, message] of cases) {
    const core = new Core({ exports: { ...real.exports, ...change } } as unknown as WebAssembly.Instance);
    assert.throws(() => TocIndex.build(core, json), (e: Error) => message.test(e.message) && /different builds/.test(e.message), what);
  }
  // the real core's layout is read once and kept
  assert.is(tocLayout(real), tocLayout(real));
  const idx = TocIndex.build(real, json);
  try {
    assert.is(idx.typeName(idx.lookup("a")), "reg");
  } finally {
    idx.dispose();
  }
});

test("memory: building and disposing indexes returns the core to the same footprint", () => {
  const core = loadCoreSync(readFileSync(wasmPath()));
  const g = generateToc(20_000, 3);
  const bytes = enc.encode(g.json);
  TocIndex.build(core, bytes).dispose();
  const pages = core.exports.memory.buffer.byteLength;
  for (let i = 0; i < 5; i++) {
    TocIndex.build(core, bytes).dispose();
    try {
      TocIndex.build(core, enc.encode(g.json.slice(0, g.json.length - 100)));
    } catch (e) {
      assert.ok(e instanceof CoreError);
    }
  }
  assert.is(core.exports.memory.buffer.byteLength, pages);
  const idx = TocIndex.build(core, bytes);
  idx.dispose();
  idx.dispose();
  assert.throws(() => idx.lookup("usr"), /after dispose/);
});

test("moveTo: an index moved into a fresh core equals the model there, in a fraction of the memory its build took", () => {
  const g = generateToc(100_000, 9);
  const m = model(g.json, g.tocOffset);
  const scratch = loadCoreSync(readFileSync(wasmPath()));
  const own = loadCoreSync(readFileSync(wasmPath()));
  const built = TocIndex.build(scratch, enc.encode(g.json), { tocOffset: g.tocOffset });
  const idx = built.moveTo(own);
  try {
    assert.throws(() => built.lookup("usr"), /after dispose/);
    const bad = compare(idx, m, g.json);
    assert.equal(bad, [], bad.join("\n"));
    // the build's memory held the JSON and its slack; the moved index only its tables (the allocator
    // grows a memory by doubling it, so up to 2× their size, untouched beyond them)
    const s = idx.stats();
    const tables = s.indexBytes + s.stringBytes + s.digestBytes;
    const ownBytes = own.exports.memory.buffer.byteLength;
    assert.ok(ownBytes <= tables * 2 + (1 << 20), `own core ${ownBytes} B for ${tables} B of tables`);
    const buildBytes = scratch.exports.memory.buffer.byteLength;
    assert.ok(tables * 3 < buildBytes, `${tables} B of tables, the build took ${buildBytes} B`);
  } finally {
    idx.dispose();
  }
});

test.run();
