import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { fixtures, fixturesDir } from "../helpers/paths.js";
import { checkBlob, clean, type TocEntry } from "../helpers/esgz-check.js";
import { listTar, packTree, randomTree } from "../helpers/tartree.js";
import { DuplicateNameError, writeEStargz, type WriterOptions, type WriteResult } from "../../src/estargz/writer.js";
import { tocJson, type TocEntryJson } from "../../src/estargz/toc-json.js";
import { EStargzError } from "../../src/estargz/errors.js";

const treeTar = join(fixturesDir, "tree.tar");
const sha = (b: Uint8Array) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

async function build(input: string | Uint8Array | AsyncIterable<Uint8Array>, opts: WriterOptions = {}): Promise<{ blob: Buffer; r: WriteResult }> {
  const parts: Uint8Array[] = [];
  const src = input instanceof Uint8Array ? (async function* () { yield input; })() : input;
  const r = await writeEStargz(src, (b) => { parts.push(Buffer.from(b)); }, opts);
  return { blob: Buffer.concat(parts), r };
}

const withoutOffsets = (entries: TocEntry[]) => entries.map(({ offset: _o, ...rest }) => rest);

const GO_CONFIGS: Array<[string, WriterOptions]> = [
  ["estargz-default", {}],
  ["estargz-c64k", { chunkSize: 65536 }],
  ["estargz-prio", { chunkSize: 65536, prioritizedFiles: ["./etc/config", "./bin/tool"] }],
];

test("tree.tar → writer: the TOC equals the Go writer's entry for entry (all but member offsets), same uncompressed size", async () => {
  for (const [name, opts] of GO_CONFIGS) {
    const { blob, r } = await build(treeTar, opts);
    const checked = checkBlob(blob); // every chunk inflates and matches its chunkDigest, with node:zlib
    const go = JSON.parse(readFileSync(join(fixturesDir, `${name}.toc.json`), "utf8"));
    assert.equal(withoutOffsets(checked.toc.entries), withoutOffsets(go.entries), name);
    const expected = fixtures().find((f) => f.blob === `${name}.tar.gz`)!;
    assert.is(r.uncompressedSize, expected.uncompressedSize, `${name} uncompressed size`);
    // payload offsets are the starts of distinct members, increasing in blob order
    const offs = checked.toc.entries.filter((e) => e.offset).map((e) => e.offset!);
    assert.equal(offs, [...offs].sort((a, b) => a - b));
    assert.is(new Set(offs).size, offs.length, "one member per payload/chunk");
  }
});

test("TOC JSON text is byte-identical to Go's json.MarshalIndent for the fixtures' TOCs", () => {
  for (const [name] of GO_CONFIGS) {
    const text = readFileSync(join(fixturesDir, `${name}.toc.json`), "utf8");
    const entries = JSON.parse(text).entries.map((e: Record<string, unknown>) => {
      if (!e.xattrs) return e;
      const m = new Map(Object.entries(e.xattrs as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, "base64")]));
      return { ...e, xattrs: m };
    }) as TocEntryJson[];
    assert.is(tocJson(entries), text, name);
  }
  // Go's HTML-safe escapes and control characters
  assert.ok(tocJson([{ name: "a<b>&\"\\\n\u0001\u2028é", type: "reg" }]).includes('"a\\u003cb\\u003e\\u0026\\"\\\\\\n\\u0001\\u2028é"'));
});

test("result: digest, diffID, uncompressed size, TOC digest and offset match an independent computation", async () => {
  for (const [, opts] of GO_CONFIGS) {
    const { blob, r } = await build(treeTar, opts);
    const plain = gunzipSync(blob);
    const checked = checkBlob(blob);
    assert.is(r.digest, sha(blob));
    assert.is(r.size, blob.length);
    assert.is(r.diffId, sha(plain));
    assert.is(r.uncompressedSize, plain.length);
    assert.is(r.tocDigest, sha(checked.tocJson));
    assert.is(r.tocOffset, checked.tocOffset);
  }
});

test("gunzip of the output = the input's entries + landmark + TOC (tar-stream and system tar agree)", async () => {
  const input = readFileSync(treeTar);
  const { blob } = await build(treeTar);
  const inEntries = await listTar(input);
  const outEntries = await listTar(gunzipSync(blob));
  assert.is(outEntries[0].name, ".no.prefetch.landmark");
  assert.is(outEntries[outEntries.length - 1].name, "stargz.index.json");
  assert.equal(outEntries.slice(1, -1), inEntries);
  // system GNU tar: same verbose listing plus the two added entries
  const dir = mkdtempSync(join(tmpdir(), "esgz-w-"));
  try {
    writeFileSync(join(dir, "out.tar.gz"), blob);
    const tv = (args: string[]) => execFileSync("tar", args, { encoding: "utf8" }).trim().split("\n");
    const outList = tv(["-tvzf", join(dir, "out.tar.gz")]);
    const inList = tv(["-tvf", treeTar]);
    assert.equal(outList.slice(1, -1), inList);
    assert.match(outList[0], /\.no\.prefetch\.landmark$/);
    assert.match(outList[outList.length - 1], /stargz\.index\.json$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("plain file, gzip file, plain stream and gzip stream inputs give the same blob", async () => {
  const plain = readFileSync(treeTar);
  const dir = mkdtempSync(join(tmpdir(), "esgz-w-"));
  try {
    const gz = join(dir, "in.tar.gz");
    writeFileSync(gz, gzipSync(plain, { level: 1 }));
    const a = (await build(treeTar, { chunkSize: 65536 })).blob;
    for (const input of [gz, plain, gzipSync(plain)]) {
      const b = (await build(input, { chunkSize: 65536 })).blob;
      assert.ok(a.equals(b));
    }
    // a stream in odd-sized pieces
    const pieces = (async function* () { for (let i = 0; i < plain.length; i += 777) yield plain.subarray(i, i + 777); })();
    assert.ok(a.equals((await build(pieces, { chunkSize: 65536 })).blob));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("random trees at chunk sizes one byte below / at / above file sizes: every chunk checks out, chunk layout as the reference", async () => {
  const C = 4096;
  const sizes = [1, C - 1, C, C + 1, 3 * C, 3 * C + 1, 50_000];
  const tarBytes = await packTree(randomTree(42, sizes));
  for (const chunkSize of [C - 1, C, C + 1, 1 << 20]) {
    const { blob } = await build(tarBytes, { chunkSize });
    const checked = checkBlob(blob);
    const inEntries = (await listTar(tarBytes)).filter((e) => e.type === "file");
    for (const f of inEntries) {
      const chunks = checked.toc.entries.filter((e) => clean(e.name) === clean(f.name) && (e.type === "reg" || e.type === "chunk"));
      const want = f.size === 0 ? 1 : Math.ceil(f.size / chunkSize);
      assert.is(chunks.length, want, `${f.name} at chunk size ${chunkSize}`);
      chunks.forEach((c, k) => {
        assert.is(c.chunkOffset ?? 0, k * chunkSize);
        const full = f.size - k * chunkSize >= chunkSize;
        assert.is(c.chunkSize ?? 0, full ? chunkSize : 0, `${f.name} chunk ${k} chunkSize`);
      });
      if (f.size) assert.is(sha(checked.contents.get(clean(f.name))!), `sha256:${f.sha256}`);
    }
  }
});

test("minChunkSize groups small payloads into shared members with innerOffset", async () => {
  const tarBytes = await packTree(randomTree(7, [10, 20, 30, 40, 50, 60, 100_000]));
  const plain = await build(tarBytes, { minChunkSize: 0 });
  const grouped = await build(tarBytes, { minChunkSize: 16384 });
  const c = checkBlob(grouped.blob);
  assert.ok(c.toc.entries.some((e) => (e.innerOffset ?? 0) > 0), "some payload has an innerOffset");
  const members = (b: Buffer) => new Set(checkBlob(b).toc.entries.filter((e) => e.offset).map((e) => e.offset)).size;
  assert.ok(members(grouped.blob) < members(plain.blob));
  assert.equal([...c.contents.keys()].sort(), [...checkBlob(plain.blob).contents.keys()].sort());
  assert.is(sha(gunzipSync(grouped.blob)), grouped.r.diffId);
});

test("prioritized files come first with their parents and hardlink targets, then .prefetch.landmark", async () => {
  const tarBytes = await packTree(randomTree(9, [100, 200, 300]));
  const { blob, r } = await build(tarBytes, { prioritizedFiles: ["/a/b/file-1.bin", "a/hardlink"] });
  const names = checkBlob(blob).toc.entries.filter((e) => e.type !== "chunk").map((e) => e.name);
  assert.equal(names.slice(0, 7), ["./", "./a/", "./a/b/", "./a/b/file-1.bin", "./a/file-0.bin", "./a/hardlink", ".prefetch.landmark"]);
  assert.is(names.length, new Set(names).size);
  assert.equal(r.missingPrioritized, []);
  try {
    await build(tarBytes, { prioritizedFiles: ["a/nope"] });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, EStargzError);
    assert.match((err as Error).message, /prioritized file "a\/nope" is not in the input tar/);
  }
  const ok = await build(tarBytes, { prioritizedFiles: ["a/nope", "a/empty"], allowMissingPrioritized: true });
  assert.equal(ok.r.missingPrioritized, ["a/nope"]);
});

test("an eStargz blob as input converts again: its old TOC and landmark are dropped", async () => {
  const once = await build(treeTar, { chunkSize: 65536 });
  const twice = await build(once.blob, { chunkSize: 65536 });
  assert.equal(withoutOffsets(checkBlob(twice.blob).toc.entries), withoutOffsets(checkBlob(once.blob).toc.entries));
});

test("GNU (long names/links), ustar (prefix field) and v7 tars from GNU tar convert with every entry intact", async () => {
  const dir = mkdtempSync(join(tmpdir(), "esgz-fmt-"));
  try {
    const root = join(dir, "root");
    const deep = join(root, "d".repeat(60), "e".repeat(60));
    execFileSync("mkdir", ["-p", deep]);
    writeFileSync(join(deep, "f".repeat(90)), "long path content");
    writeFileSync(join(root, "short.txt"), "x".repeat(70_000));
    execFileSync("ln", ["-s", "t".repeat(150), join(root, "longlink")]);
    execFileSync("ln", [join(root, "short.txt"), join(root, "hard.txt")]);
    execFileSync("mkfifo", [join(root, "fifo")]);
    for (const format of ["gnu", "ustar", "v7"]) {
      const tarPath = join(dir, `${format}.tar`);
      const args = ["--format=" + format, "--mtime=2024-01-02 03:04:05", "-C", root, "-cf", tarPath];
      if (format === "gnu") args.push(".");
      else args.push("short.txt", "hard.txt", ...(format === "ustar" ? ["fifo", `${"d".repeat(60)}/${"e".repeat(60)}/${"f".repeat(90)}`] : []));
      execFileSync("tar", args);
      const { blob } = await build(tarPath, { chunkSize: 65536 });
      writeFileSync(join(dir, "out.tar.gz"), blob);
      const tv = (a: string[]) => execFileSync("tar", a, { encoding: "utf8" }).trim().split("\n");
      assert.equal(tv(["-tvzf", join(dir, "out.tar.gz")]).slice(1, -1), tv(["-tvf", tarPath]), format);
      const names = checkBlob(blob).toc.entries.filter((e) => e.type !== "chunk").map((e) => clean(e.name)).slice(1).filter((n) => n !== "");
      assert.equal(names, tv(["-tf", tarPath]).map(clean).filter((n) => n !== ""), format);
      if (format === "gnu") {
        const toc = checkBlob(blob).toc.entries;
        assert.is(toc.find((e) => clean(e.name) === "longlink")!.linkName, "t".repeat(150));
        assert.ok(toc.some((e) => clean(e.name).endsWith("f".repeat(90)) && e.type === "reg"));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a global PAX header (GNU tar) is carried into the blob and its records apply to the entries after it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "esgz-g-"));
  try {
    const root = join(dir, "root");
    execFileSync("mkdir", ["-p", root]);
    writeFileSync(join(root, "a.txt"), "hello");
    const tarPath = join(dir, "in.tar");
    // keyword=value (no colon): GNU tar puts it in a global ('g') header
    execFileSync("tar", ["--format=pax", "--pax-option=uname=globaluser,comment=made by a test", "-C", root, "-cf", tarPath, "a.txt"]);
    const input = readFileSync(tarPath);
    assert.is(String.fromCharCode(input[156]), "g", "the input starts with a global header");
    const { blob } = await build(tarPath);
    assert.is(checkBlob(blob).toc.entries.find((e) => e.name === "a.txt")!.userName, "globaluser");
    writeFileSync(join(dir, "out.tar.gz"), blob);
    const tv = (a: string[]) => execFileSync("tar", a, { encoding: "utf8" }).trim().split("\n");
    const inList = tv(["-tvf", tarPath]);
    assert.match(inList.join("\n"), /globaluser/);
    assert.equal(tv(["-tvzf", join(dir, "out.tar.gz")]).slice(1, -1), inList);
    assert.ok(gunzipSync(blob).includes(Buffer.from("comment=made by a test")), "the global header's bytes are in the blob");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("malformed input tars: each a precise tar error", async () => {
  const good = readFileSync(treeTar);
  const expectTarError = async (input: Uint8Array, re: RegExp) => {
    try {
      await build(input);
    } catch (err) {
      assert.instance(err, EStargzError);
      assert.is((err as EStargzError).code, "tar");
      assert.match((err as Error).message, re);
      return;
    }
    assert.unreachable(`expected ${re}`);
  };
  const badSum = Buffer.from(good);
  badSum[512 + 10] ^= 1;
  await expectTarError(badSum, /header at input offset 512: checksum \d+ does not match the computed \d+/);
  await expectTarError(good.subarray(0, 512 * 5 + 100), /input tar ends inside/);
  await expectTarError(Buffer.from("this is not a tar file at all".repeat(40)), /checksum|not octal/);
});

test("a failing conversion of a file releases it (no file descriptor left open)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "esgz-fd-"));
  try {
    const bad = Buffer.from(readFileSync(treeTar));
    bad[bad.indexOf("./data/deep/\0") + 2] ^= 0xff; // a header well inside the archive
    const plainPath = join(dir, "bad.tar");
    const gzPath = join(dir, "bad.tar.gz");
    writeFileSync(plainPath, bad);
    writeFileSync(gzPath, gzipSync(bad));
    const fds = () => readdirSync("/proc/self/fd").length;
    const before = fds();
    for (let i = 0; i < 5; i++) {
      for (const p of [plainPath, gzPath]) {
        await build(p).then(() => assert.unreachable("a bad tar converted"), (err) => assert.instance(err, EStargzError));
      }
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(fds() <= before, `open fds went from ${before} to ${fds()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});


test("two entries of one name: the stream mode refuses them (DuplicateNameError), the indexed mode keeps the last, as tar", async () => {
  const mtime = new Date(Date.UTC(2024, 1, 3));
  const base = { uid: 0, gid: 0, mtime };
  const last = Buffer.from("second, longer");
  const tarBytes = await packTree([
    { ...base, name: "./", type: "directory", mode: 0o755 },
    { ...base, name: "./f", type: "file", mode: 0o644, data: Buffer.from("first") },
    { ...base, name: "./", type: "directory", mode: 0o750 }, // the root twice is no duplicate name
    { ...base, name: "./g", type: "file", mode: 0o644, data: Buffer.from("g") },
    { ...base, name: "f", type: "file", mode: 0o600, data: last }, // same name once cleaned
  ]);
  try {
    await build(tarBytes);
    assert.unreachable("the stream mode must refuse a second entry of one name");
  } catch (err) {
    assert.instance(err, DuplicateNameError);
    assert.is((err as DuplicateNameError).code, "tar");
    assert.is((err as DuplicateNameError).entryName, "f");
  }
  for (const input of [tarBytes, gzipSync(tarBytes)]) {
    const { blob } = await build(input, { indexed: true, chunkSize: 4 });
    const checked = checkBlob(blob);
    const names = checked.toc.entries.filter((e) => e.type !== "chunk").map((e) => e.name);
    assert.equal(names, [".no.prefetch.landmark", "./", "./g", "f"], "each name once, where its last entry stood");
    const f = checked.toc.entries.find((e) => e.name === "f")!;
    assert.equal([f.size, f.mode, f.digest], [last.length, 0o600, sha(last)]);
    const listed = (await listTar(gunzipSync(blob))).filter((e) => e.name !== ".no.prefetch.landmark" && e.name !== "stargz.index.json");
    assert.equal(listed.map((e) => [e.name, e.mode]), [["./", 0o750], ["./g", 0o644], ["f", 0o600]]);
  }
});

test.run();
