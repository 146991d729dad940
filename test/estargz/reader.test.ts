import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { fixtures, fixturesDir } from "../helpers/paths.js";
import { clean } from "../helpers/esgz-check.js";
import { listTar, packTree, randomTree, rng } from "../helpers/tartree.js";
import { withToc, withTocJson } from "../helpers/toc-rewrite.js";
import { EStargzReader, type OpenOptions } from "../../src/estargz/reader.js";
import { readerDeps } from "../../src/estargz/deps.js";
import { FileSource, MemorySource, type Source } from "../../src/estargz/source.js";
import { writeEStargz, type WriterOptions } from "../../src/estargz/writer.js";
import { EStargzError } from "../../src/estargz/errors.js";
import type { TocIndex } from "../../src/core/toc.js";

const hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const open = (src: Source, opts: OpenOptions) => EStargzReader.open(src, readerDeps(), opts);

async function build(input: Uint8Array | string, opts: WriterOptions = {}) {
  const parts: Uint8Array[] = [];
  const src = typeof input === "string" ? input : (async function* () { yield input; })();
  const r = await writeEStargz(src, (b) => { parts.push(Buffer.from(b)); }, opts);
  return { blob: Buffer.concat(parts), r };
}

async function rejects(p: Promise<unknown>, code: string, re: RegExp): Promise<EStargzError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, EStargzError, String(err));
    assert.is((err as EStargzError).code, code, (err as Error).message);
    assert.match((err as Error).message, re, (err as Error).message);
    return err as EStargzError;
  }
  assert.unreachable(`expected a ${code} error matching ${re}`);
  throw new Error("unreachable");
}

/** One listing line the way the fixtures' *.listing.tsv write it. */
async function listingLine(r: EStargzReader<TocIndex>, id: number): Promise<string> {
  const ix = r.index;
  const t = ix.typeName(id);
  const path = id === 0 ? "." : ix.name(id);
  const target = ix.resolveHardlink(id);
  const size = ix.type(target) === 2 ? ix.size(target) : 0;
  let col7 = "";
  if (t === "reg") col7 = `sha256:${hex(await r.readFile(id))}`;
  else if (t === "symlink") col7 = `-> ${ix.linkName(id)}`;
  else if (t === "hardlink") col7 = ix.name(target);
  else if (t === "char" || t === "block" || t === "fifo") col7 = `dev=${ix.devMajor(id)},${ix.devMinor(id)}`;
  const xattrs = ix.xattrs(id).map((x) => `${x.name}=${Buffer.from(x.value).toString("hex")}`).sort().join(",");
  return [path, t, (ix.mode(id) & 0o7777).toString(8), ix.uid(id), ix.gid(id), size, col7, xattrs].join("\t");
}

async function listing(r: EStargzReader<TocIndex>): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (id: number) => {
    lines.push(await listingLine(r, id));
    for (const c of r.index.children(id)) await walk(c);
  };
  await walk(0);
  return lines.map((l) => l.replace(/\t+$/, "")).sort();
}

test("every Go fixture blob reads back exactly as its listing says, TOC digest verified (legacy footer too)", async () => {
  for (const f of fixtures()) {
    const src = await FileSource.open(f.path);
    const r = await open(src, { tocDigest: f.tocDigest });
    try {
      assert.ok(r.tocVerified);
      assert.is(r.tocDigest, f.tocDigest);
      assert.is(r.footer.legacy, f.blob.startsWith("stargz-legacy"));
      const want = readFileSync(join(fixturesDir, f.blob.replace(".tar.gz", ".listing.tsv")), "utf8").trim().split("\n").map((l) => l.replace(/\t+$/, "")).sort();
      assert.equal(await listing(r), want, f.blob);
      assert.is(r.index.landmark, f.blob.includes("prio") ? 1 : 2);
    } finally {
      r.close();
      await src.close();
    }
  }
});

test("tree.tar → our writer → reader: the same listing as the Go writer's blobs (default, 64 KiB chunks, prioritized)", async () => {
  const configs: Array<[string, WriterOptions]> = [
    ["estargz-default", {}],
    ["estargz-c64k", { chunkSize: 65536 }],
    ["estargz-prio", { chunkSize: 65536, prioritizedFiles: ["./etc/config", "./bin/tool"] }],
  ];
  for (const [name, opts] of configs) {
    const { blob, r: wr } = await build(join(fixturesDir, "tree.tar"), opts);
    const r = await open(new MemorySource(blob), { tocDigest: wr.tocDigest });
    try {
      const want = readFileSync(join(fixturesDir, `${name}.listing.tsv`), "utf8").trim().split("\n").map((l) => l.replace(/\t+$/, "")).sort();
      assert.equal(await listing(r), want, name);
    } finally {
      r.close();
    }
  }
});

test("random byte ranges of every file equal the input tar's content (fixtures, 64 KiB chunks)", async () => {
  const contents = new Map<string, Buffer>();
  const { default: tar } = await import("tar-stream");
  const ex = tar.extract();
  ex.end(readFileSync(join(fixturesDir, "tree.tar")));
  for await (const e of ex) {
    const parts: Buffer[] = [];
    for await (const c of e) parts.push(c as Buffer);
    if (e.header.type === "file") contents.set(clean(e.header.name), Buffer.concat(parts));
  }
  const f = fixtures().find((x) => x.blob === "estargz-c64k.tar.gz")!;
  const src = await FileSource.open(f.path);
  const r = await open(src, { tocDigest: f.tocDigest });
  const rand = rng(5);
  try {
    for (const [name, data] of contents) {
      const id = r.fileId(name);
      for (let i = 0; i < 12; i++) {
        const off = Math.floor(rand() * (data.length + 10));
        const len = Math.floor(rand() * 140_000);
        const got = await r.readFile(id, off, len);
        assert.ok(Buffer.from(got).equals(data.subarray(off, off + len)), `${name} ${off}+${len}`);
      }
      // across every chunk boundary
      const got = await r.readFile(id, 65530, 65546 * 2);
      assert.ok(Buffer.from(got).equals(data.subarray(65530, 65530 + 65546 * 2)));
    }
  } finally {
    r.close();
    await src.close();
  }
});

test("round trip: random trees of every entry kind → writer → reader at chunk sizes around file sizes, and with prioritized files", async () => {
  const C = 5000;
  const tarBytes = await packTree(randomTree(11, [1, C - 1, C, C + 1, 2 * C, 4 * C + 3, 30_000]));
  const input = await listTar(tarBytes);
  const configs: WriterOptions[] = [
    { chunkSize: C - 1 }, { chunkSize: C }, { chunkSize: C + 1 }, { chunkSize: 1 << 20 },
    { chunkSize: C, prioritizedFiles: ["a/b/file-3.bin", "a/hardlink"] }, { chunkSize: C, minChunkSize: 20_000 },
  ];
  for (const opts of configs) {
    const { blob, r: wr } = await build(tarBytes, opts);
    const r = await open(new MemorySource(blob), { tocDigest: wr.tocDigest });
    const ix = r.index;
    try {
      for (const e of input) {
        const id = ix.lookup(e.name);
        assert.ok(id >= 0, e.name);
        const what = `${e.name} ${JSON.stringify(opts)}`;
        const type = { file: "reg", directory: "dir", symlink: "symlink", link: "hardlink", "character-device": "char", "block-device": "block", fifo: "fifo" }[e.type];
        assert.is(ix.typeName(id), type, what);
        assert.is(ix.mode(id), e.mode, what);
        assert.is(ix.uid(id), e.uid, what);
        assert.is(ix.gid(id), e.gid, what);
        assert.is(ix.mtimeSec(id) * 1000, e.mtime, what);
        if (e.type === "symlink") assert.is(ix.linkName(id), e.linkname);
        if (e.type === "link") assert.is(ix.name(ix.resolveHardlink(id)), clean(e.linkname));
        if (e.type === "character-device" || e.type === "block-device") {
          assert.is(ix.devMajor(id), e.devmajor);
          assert.is(ix.devMinor(id), e.devminor);
        }
        const x = Object.fromEntries(ix.xattrs(id).map((a) => [a.name, Buffer.from(a.value).toString("latin1")]));
        assert.equal(x, Object.fromEntries(Object.entries(e.xattrs).map(([k, v]) => [k, Buffer.from(v).toString("latin1")])), what);
        if (e.type === "file") {
          assert.is(ix.size(id), e.size);
          assert.is(hex(await r.readFile(id)), e.sha256, what);
          if (e.size > 2) {
            const mid = await r.readFile(id, 1, e.size - 2);
            assert.is(mid.length, e.size - 2);
          }
        }
      }
      assert.is(ix.landmark, opts.prioritizedFiles ? 1 : 2);
      if (opts.prioritizedFiles) assert.ok(ix.prefetchEnd > 0);
    } finally {
      r.close();
    }
  }
});

const tree = () => readFileSync(join(fixturesDir, "tree.tar"));

test("tampering with a chunk: that file fails with a chunk error naming it, the others still read", async () => {
  const { blob, r: wr } = await build(tree(), { chunkSize: 65536 });
  const good = await open(new MemorySource(blob), { tocDigest: wr.tocDigest });
  const id = good.fileId("data/chunky.bin");
  const member = good.index.chunkMemberOffset(id, 2);
  good.close();
  const bad = Buffer.from(blob);
  bad[member + 200] ^= 0x55;
  const r = await open(new MemorySource(bad, "tampered"), { tocDigest: wr.tocDigest });
  try {
    await rejects(r.readFile(r.fileId("data/chunky.bin"), 131072 + 5, 10), "chunk", /tampered: data\/chunky\.bin @131072 \(member at blob offset \d+\): chunk: digest mismatch: expected sha256:[0-9a-f]{64}, got sha256:[0-9a-f]{64}/);
    await rejects(r.readWholeFile("data/chunky.bin"), "chunk", /chunky\.bin/);
    // the chunks before it and other files are unaffected
    assert.is((await r.readFile(r.fileId("data/chunky.bin"), 0, 1000)).length, 1000);
    assert.is((await r.readWholeFile("etc/config")).length, 12);
  } finally {
    r.close();
  }
});

test("tampering with the TOC, the footer offset, the expected digest; truncation", async () => {
  const { blob, r: wr } = await build(tree());
  // a changed byte inside the TOC member
  const t1 = Buffer.from(blob);
  t1[wr.tocOffset + 40] ^= 0xff;
  const e1 = await rejects(open(new MemorySource(t1, "b1"), { tocDigest: wr.tocDigest }), "toc", /^b1: TOC member at offset \d+ does not inflate/).catch(async () => null);
  if (!e1) await rejects(open(new MemorySource(t1, "b1"), { tocDigest: wr.tocDigest }), "toc-digest", /TOC digest mismatch/);
  // the footer's offset pointing elsewhere
  const t2 = Buffer.from(blob);
  t2.write((wr.tocOffset - 7).toString(16).padStart(16, "0"), t2.length - 51 + 16, "latin1");
  await rejects(open(new MemorySource(t2, "b2"), { tocDigest: wr.tocDigest }), "toc", /b2: TOC member at offset \d+ does not inflate|TOC member/);
  const t3 = Buffer.from(blob);
  t3.write((blob.length).toString(16).padStart(16, "0"), t3.length - 51 + 16, "latin1");
  await rejects(open(new MemorySource(t3, "b3"), { tocDigest: wr.tocDigest }), "footer", /b3: footer points to a TOC at offset \d+, outside/);
  // a TOC digest that does not match
  const other = `sha256:${"ab".repeat(32)}`;
  await rejects(open(new MemorySource(blob, "b4"), { tocDigest: other }), "toc-digest", new RegExp(`b4: TOC digest mismatch: expected ${other}, the TOC hashes to ${wr.tocDigest}`));
  // no digest: refused unless asked for
  await rejects(open(new MemorySource(blob, "b5"), {}), "toc-digest", /b5: no expected TOC digest given/);
  const unverified = await open(new MemorySource(blob), { allowUnverifiedToc: true });
  assert.is(unverified.tocVerified, false);
  unverified.close();
  // truncated blobs
  await rejects(open(new MemorySource(blob.subarray(0, blob.length - 10), "b6"), { tocDigest: wr.tocDigest }), "footer", /b6: no eStargz footer found/);
  await rejects(open(new MemorySource(blob.subarray(0, 30), "b7"), { tocDigest: wr.tocDigest }), "footer", /too small/);
});

test("a lying TOC (with a matching digest): sizes that do not match the members give chunk errors, never wrong bytes", async () => {
  const { blob } = await build(tree());
  // the file's member inflates past what the TOC claims: size 100, original chunkDigest
  const a = withToc(blob, (es) => {
    const e = es.find((x) => x.name === "./bin/tool")!;
    e.size = 100;
  });
  const ra = await open(new MemorySource(a.blob, "past"), { tocDigest: a.tocDigest });
  await rejects(ra.readFile(ra.fileId("bin/tool"), 0, 50), "chunk", /past: bin\/tool @0 .*digest mismatch/);
  ra.close();
  // the TOC claims more than the member holds
  const b = withToc(blob, (es) => {
    const e = es.find((x) => x.name === "./etc/config")!;
    e.size = 5000;
  });
  const rb = await open(new MemorySource(b.blob, "short"), { tocDigest: b.tocDigest });
  await rejects(rb.readFile(rb.fileId("etc/config"), 0, 5000), "chunk", /short: etc\/config @0/);
  rb.close();
  // a huge size is refused before anything is allocated
  const c = withToc(blob, (es) => {
    const e = es.find((x) => x.name === "./etc/config")!;
    e.size = 2 ** 40;
  });
  const rc = await open(new MemorySource(c.blob, "huge"), { tocDigest: c.tocDigest });
  await rejects(rc.readFile(rc.fileId("etc/config"), 0, 10), "limit", /huge: etc\/config @0: chunk of 1099511627776 bytes, over the limit of 67108864/);
  rc.close();
  // so is a small chunk that starts far inside its member: the inflated bytes are what count
  const d = withToc(blob, (es) => {
    es.find((x) => x.name === "./etc/config")!.innerOffset = 1 << 30;
  });
  const rd = await open(new MemorySource(d.blob, "deep"), { tocDigest: d.tocDigest });
  await rejects(rd.readFile(rd.fileId("etc/config"), 0, 10), "limit", /deep: etc\/config @0: chunk of \d+ bytes at inner offset 1073741824 inflates to \d+ bytes, over the limit of 67108864/);
  rd.close();
  // and the bound is the caller's to set
  const e = withToc(blob, () => {}); // the same TOC, written again (its digest known here)
  const re = await open(new MemorySource(e.blob, "bound"), { tocDigest: e.tocDigest, maxChunkSize: 5 });
  await rejects(re.readFile(re.fileId("etc/config"), 0, 10), "limit", /bound: etc\/config @0: chunk of \d+ bytes, over the limit of 5/);
  re.close();
});

test("a file digest that disagrees with its (correct) chunks: whole-file reads fail with file-digest, ranges still verify", async () => {
  const { blob } = await build(tree(), { chunkSize: 65536 });
  for (const name of ["./data/chunky.bin", "./etc/config"]) {
    const t = withToc(blob, (es) => {
      es.find((x) => x.name === name && x.type === "reg")!.digest = `sha256:${"1".repeat(64)}`;
    });
    const r = await open(new MemorySource(t.blob, "fd"), { tocDigest: t.tocDigest });
    await rejects(r.readWholeFile(name), "file-digest", new RegExp(`fd: ${clean(name).replace(".", "\\.")}: content hashes to sha256:[0-9a-f]{64}, the TOC says sha256:1{64}`));
    assert.is((await r.readFile(r.fileId(name), 1, 5)).length, 5);
    r.close();
  }
});

test("malformed TOCs: not JSON, wrong version, escaping names, bad hardlinks, offsets past the TOC", async () => {
  const { blob } = await build(tree());
  const cases: Array<[string, Buffer | ((es: any[]) => void), RegExp]> = [
    ["not json", Buffer.from("this is not json"), /invalid TOC: not a TOC/],
    ["version", Buffer.from(JSON.stringify({ version: 2, entries: [] })), /invalid TOC: .*version/],
    ["dotdot", (es) => { es[3].name = "../../etc/passwd"; }, /invalid TOC: .*escapes the root/],
    ["link", (es) => { es.find((e) => e.type === "hardlink").linkName = "nope/missing"; }, /invalid TOC: .*hardlink target/],
    ["offset", (es) => { es.find((e) => e.name === "./bin/tool").offset = blob.length; }, /invalid TOC: .*offset/],
  ];
  for (const [what, m, re] of cases) {
    const t = Buffer.isBuffer(m) ? withTocJson(blob, m) : withToc(blob, m);
    await rejects(open(new MemorySource(t.blob, what), { tocDigest: t.tocDigest }), "toc", new RegExp(`^${what}: ${re.source}`));
  }
});

test("a TOC member that inflates past the TOC size limit is refused (decompression bomb)", async () => {
  const { blob, r: wr } = await build(tree());
  await rejects(open(new MemorySource(blob, "bomb"), { tocDigest: wr.tocDigest, maxTocSize: 4096 }), "toc", /bomb: TOC member at offset \d+ does not inflate: inflates to more than \d+ bytes/);
});

test("many concurrent reads on one reader (shared verifier) all return the right bytes", async () => {
  const { blob, r: wr } = await build(tree(), { chunkSize: 4096 });
  const r = await open(new MemorySource(blob), { tocDigest: wr.tocDigest });
  const whole = new Map<string, Uint8Array>();
  for (const p of ["data/chunky.bin", "data/exact-64k.bin", "bin/tool", "data/text-hardlink.txt"]) whole.set(p, await r.readWholeFile(p));
  const rand = rng(77);
  const jobs = Array.from({ length: 300 }, () => {
    const p = [...whole.keys()][Math.floor(rand() * whole.size)];
    const data = whole.get(p)!;
    const off = Math.floor(rand() * data.length);
    const len = 1 + Math.floor(rand() * 20_000);
    return { p, off, len, want: data.subarray(off, off + len) };
  });
  const got = await Promise.all(jobs.map((j) => r.readFile(r.fileId(j.p), j.off, j.len)));
  jobs.forEach((j, i) => assert.ok(Buffer.from(got[i]).equals(j.want), `${j.p} ${j.off}+${j.len}`));
  r.close();
});

test("open reads the tail once when the TOC fits the window, twice when it does not", async () => {
  const { blob, r: wr } = await build(tree());
  const reads: Array<[number, number]> = [];
  const mem = new MemorySource(blob);
  const counting: Source = { size: mem.size, read: (o, l) => { reads.push([o, l]); return mem.read(o, l); } };
  (await open(counting, { tocDigest: wr.tocDigest })).close();
  assert.is(reads.length, 1);
  reads.length = 0;
  (await open(counting, { tocDigest: wr.tocDigest, tailWindow: 100 })).close();
  assert.is(reads.length, 2);
  assert.equal(reads[1], [wr.tocOffset, blob.length - 51 - wr.tocOffset]);
});

test("a read of adjacent chunks is one source read; only the needed members are fetched", async () => {
  const { blob, r: wr } = await build(tree(), { chunkSize: 65536 });
  const mem = new MemorySource(blob);
  const reads: Array<[number, number]> = [];
  const counting: Source = { size: mem.size, read: (o, l) => { reads.push([o, l]); return mem.read(o, l); } };
  const r = await open(counting, { tocDigest: wr.tocDigest });
  const id = r.fileId("data/chunky.bin");
  reads.length = 0;
  await r.readWholeFile("data/chunky.bin");
  assert.is(reads.length, 1, "five adjacent members in one read");
  assert.is(reads[0][0], r.index.chunkMemberOffset(id, 0));
  assert.ok(reads[0][0] + reads[0][1] <= r.index.chunkCompressedEnd(id, 4));
  reads.length = 0;
  await r.readFile(id, 70000, 10);
  assert.is(reads.length, 1);
  assert.is(reads[0][0], r.index.chunkMemberOffset(id, 1));
  assert.ok(reads[0][0] + reads[0][1] <= r.index.chunkCompressedEnd(id, 1), "only that chunk's member");
  r.close();
});


test("owner names: the writer names an owner once per id (as Go's), the reader gives every entry its name back", async () => {
  const mtime = new Date(Date.UTC(2024, 0, 2));
  const tarBytes = await packTree([
    { name: "./d/", type: "directory", mode: 0o755, uid: 1000, gid: 100, uname: "alice", gname: "staff", mtime },
    { name: "./d/x", type: "file", mode: 0o644, uid: 1000, gid: 100, uname: "alice", gname: "staff", mtime, data: new Uint8Array([1]) },
    { name: "./d/y", type: "file", mode: 0o644, uid: 0, gid: 0, uname: "root", gname: "root", mtime, data: new Uint8Array([2]) },
    { name: "./d/z", type: "file", mode: 0o644, uid: 1000, gid: 100, uname: "alice", gname: "staff", mtime, data: new Uint8Array([3]) },
    { name: "./d/w", type: "file", mode: 0o644, uid: 1000, gid: 100, uname: "bob", gname: "staff", mtime, data: new Uint8Array([4]) },
    { name: "./d/v", type: "file", mode: 0o644, uid: 1000, gid: 100, uname: "bob", gname: "staff", mtime, data: new Uint8Array([5]) },
  ]);
  const { blob, r: w } = await build(tarBytes);
  const r = await open(new MemorySource(blob), { tocDigest: w.tocDigest });
  try {
    const written = JSON.parse(new TextDecoder().decode(r.tocJson)).entries as Array<{ name: string; userName?: string; groupName?: string }>;
    const named = (n: string) => { const e = written.find((x) => clean(x.name) === n)!; return [e.userName ?? "", e.groupName ?? ""]; };
    // Go's writer: a name only when it differs from the last one written for that id
    assert.equal(named("d"), ["alice", "staff"]);
    assert.equal(named("d/x"), ["", ""]);
    assert.equal(named("d/y"), ["root", "root"]);
    assert.equal(named("d/z"), ["", ""]);
    assert.equal(named("d/w"), ["bob", ""]);
    assert.equal(named("d/v"), ["", ""]);
    const idx = r.index as TocIndex;
    const owner = (p: string) => { const id = idx.lookup(p); return [idx.userName(id), idx.groupName(id)]; };
    const listed = await listTar(gunzipSync(blob));
    const inDir = listed.filter((x) => x.name.startsWith("./d/"));
    assert.is(inDir.length, 6);
    for (const e of inDir) {
      assert.equal(owner(e.name), [e.uname, e.gname], `${e.name}: the TOC's owner names are the tar header's`);
    }
  } finally {
    r.close();
  }
});

test.run();
