// Fuzzing the tar layer (src/estargz/tar/) and what the writer makes of tar names:
// * random trees packed by tar-stream (long and unicode names, PAX records, every type) are read by
//   our TarReader, fed in random pieces, exactly as tar-stream reads them back;
// * mutated tars and random header blocks end in entries or an EStargzError, nothing else, and when
//   both parsers take a mutated tar whole they agree on it;
// * tars with hostile names (`..`, absolute, `//`, children of symlinks and files, hardlinks to
//   missing, looping, directory or escaping targets) are refused by the writer with an
//   EStargzError("tar"), or converted into a layer that `verify` passes in full (issue 14 part 9).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EStargzError } from "../../src/estargz/errors.js";
import { StreamInput } from "../../src/estargz/tar/input.js";
import { parseHeaderBlock } from "../../src/estargz/tar/header.js";
import { TarReader } from "../../src/estargz/tar/reader.js";
import { writeEStargz } from "../../src/estargz/writer.js";
import { layerFailed } from "../../src/verify/checks.js";
import { blobTarget } from "../../src/verify/inputs/blob.js";
import { verifyLayer } from "../../src/verify/layer.js";
import { stopInflateWorker } from "../../src/verify/pass.js";
import { listTar, packTree, type TreeEntry } from "../helpers/tartree.js";
import { fc, fuzz, mutate, mutationArb } from "../helpers/fuzz.js";

interface Read {
  name: string;
  type: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  linkName: string;
  mtime: number;
  sha256: string;
}

async function* pieces(data: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = Math.max(1, sizes[i % sizes.length]);
    yield data.subarray(at, at + n);
    at += n;
  }
}

/** Every entry our TarReader reads from `data` (payloads hashed), or the EStargzError it threw. */
async function readAll(data: Uint8Array, sizes: number[]): Promise<Read[] | EStargzError> {
  const tr = new TarReader(new StreamInput(pieces(data, sizes)));
  const out: Read[] = [];
  try {
    let last = -1;
    for (let e = await tr.next(); e; e = await tr.next()) {
      assert.ok(e.headerOffset > last && e.payloadOffset > e.headerOffset, "entries move forward");
      last = e.headerOffset;
      for (const v of [e.size, e.mode, e.uid, e.gid, e.devMajor, e.devMinor]) assert.ok(Number.isSafeInteger(v) && v >= 0, "numeric fields are safe integers");
      const h = createHash("sha256");
      for (let left = e.size; left > 0; ) {
        const n = Math.min(left, 1 << 16);
        h.update(await tr.readPayload(n));
        left -= n;
      }
      out.push({ name: e.name, type: e.type, size: e.size, mode: e.mode, uid: e.uid, gid: e.gid, linkName: e.linkName, mtime: e.mtime, sha256: h.digest("hex") });
    }
    return out;
  } catch (err) {
    if (err instanceof EStargzError) return err;
    throw err;
  }
}

const TYPES: Record<string, string> = { file: "reg", directory: "dir", symlink: "symlink", link: "hardlink", "character-device": "char", "block-device": "block", fifo: "fifo" };

/** tar-stream's reading of `data` in our terms, or undefined when it refuses it. */
async function theirs(data: Uint8Array): Promise<Read[] | undefined> {
  let listed;
  try {
    listed = await listTar(data);
  } catch {
    return undefined;
  }
  return listed.map((e) => ({
    name: e.type === "directory" && !e.name.endsWith("/") ? e.name + "/" : e.name, type: TYPES[e.type] ?? e.type, size: e.type === "file" ? e.size : 0,
    mode: e.mode, uid: e.uid, gid: e.gid, linkName: e.linkname, mtime: Math.round(e.mtime / 1000), sha256: e.sha256,
  }));
}

/** Our entries in tar-stream's terms (it names directories with a trailing slash). */
const normalized = (rs: Read[]) => rs.map((r) => ({ ...r, name: r.type === "dir" && !r.name.endsWith("/") ? r.name + "/" : r.name }));

const SEG = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("a", "b", "etc", "usr", "bin", "x.txt") },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes("/") && !s.includes("\0") && s !== "." && s !== "..") },
  { weight: 1, arbitrary: fc.constant("long-segment-".repeat(9)) },
  { weight: 1, arbitrary: fc.constantFrom("ünïcode", "日本", "emoji-😀", "sp ace") },
);
const pathArb = fc.array(SEG, { minLength: 1, maxLength: 5 }).map((s) => s.join("/"));
const entryArb: fc.Arbitrary<TreeEntry> = fc.record({
  name: pathArb,
  type: fc.constantFrom("file", "file", "file", "directory", "symlink", "link", "character-device", "block-device", "fifo"),
  mode: fc.constantFrom(0o644, 0o755, 0o4755, 0o1777, 0o600),
  uid: fc.oneof(fc.nat({ max: 70000 }), fc.constant(2 ** 21 - 1)),
  gid: fc.nat({ max: 70000 }),
  mtime: fc.integer({ min: 0, max: 2 ** 31 - 1 }).map((s) => new Date(s * 1000)), // tar-stream writes later ones as negative octal
  linkname: pathArb,
  devmajor: fc.nat({ max: 4095 }),
  devminor: fc.nat({ max: 4095 }),
  data: fc.oneof(fc.uint8Array({ maxLength: 2000 }), fc.integer({ min: 0, max: 200_000 }).map((n) => new Uint8Array(n).fill(7))),
  xattr: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
}).map(({ type, data, xattr, ...e }) => ({
  ...e, type: type as TreeEntry["type"], data: type === "file" ? data : undefined,
  pax: xattr !== undefined ? { "SCHILY.xattr.user.k": xattr } : undefined,
}));
const sizesArb = fc.array(fc.oneof(fc.integer({ min: 1, max: 700 }), fc.integer({ min: 1, max: 300_000 })), { minLength: 1, maxLength: 5 });

test("random trees: our TarReader reads what tar-stream reads, fed in any pieces", async () => {
  await fuzz("tar/trees", [fc.array(entryArb, { maxLength: 8 }), sizesArb], async (entries, sizes) => {
    const data = await packTree(entries);
    const ours = await readAll(data, sizes);
    if (ours instanceof EStargzError) throw new Error(`a tar-stream tar refused: ${ours.message}`);
    assert.equal(normalized(ours), await theirs(data));
  }, { runs: 120, deadlineMs: 10_000 });
});

test("mutated tars: entries or an EStargzError; where tar-stream takes the tar whole too, the same entries", async () => {
  await fuzz("tar/mutated", [fc.array(entryArb, { minLength: 1, maxLength: 5 }), mutationArb(), sizesArb], async (entries, muts, sizes) => {
    const data = mutate(await packTree(entries), muts);
    const ours = await readAll(data, sizes);
    if (ours instanceof EStargzError) return;
    const other = await theirs(data);
    // tar-stream reads a truncated tar as far as it goes, and some fields more leniently: compare the entries both see whole
    if (other && other.length === ours.length) {
      assert.equal(normalized(ours).map((r) => [r.name, r.type, r.size, r.sha256]), other.map((r) => [r.name, r.type, r.size, r.sha256]));
    }
  }, { runs: 400, deadlineMs: 10_000 });
});

test("random header blocks: fields or an EStargzError", async () => {
  const block = fc.uint8Array({ minLength: 512, maxLength: 512 }).map((b) => {
    // a valid checksum often enough to get past it
    if (b[0] & 1) {
      b.fill(0x20, 148, 156);
      let sum = 0;
      for (const c of b) sum += c;
      Buffer.from(sum.toString(8).padStart(6, "0") + "\0 ").copy(b, 148);
    }
    return b;
  });
  await fuzz("tar/header-blocks", [block], (b) => {
    try {
      const h = parseHeaderBlock(b, 0);
      for (const v of [h.mode, h.uid, h.gid, h.size, h.mtime, h.devMajor, h.devMinor]) assert.ok(Number.isSafeInteger(v) && v >= 0);
    } catch (err) {
      if (!(err instanceof EStargzError)) throw err;
    }
  }, { runs: 1000 });
});

// Names built to leave the layer, or to collide after cleaning.
const HOSTILE = fc.tuple(
  fc.constantFrom("", "", "./", "/", "//"),
  fc.array(fc.constantFrom("a", "b", "a", "b", "link", "link", "f", "f", "..", ".", ""), { minLength: 1, maxLength: 4 }),
  fc.constantFrom("", "", "/"),
).map(([pre, segs, post]) => pre + segs.join("/") + post).filter((n) => n.length > 0);
const hostileEntry: fc.Arbitrary<TreeEntry> = fc.record({
  name: HOSTILE,
  type: fc.constantFrom("file", "file", "directory", "symlink", "link"),
  linkname: fc.oneof(HOSTILE, fc.constantFrom("/dir", "../..", "a")),
}).map(({ name, type, linkname }) => ({
  name, type: type as TreeEntry["type"], linkname, mode: type === "directory" ? 0o755 : 0o644, uid: 0, gid: 0, mtime: new Date(1_700_000_000_000),
  data: type === "file" ? Buffer.from(name) : undefined,
}));

let work: string;
test.before(async () => {
  work = await mkdtemp(join(tmpdir(), "esgz-fuzz-tar-"));
});
test.after(async () => {
  await stopInflateWorker();
  await rm(work, { recursive: true, force: true });
});

test("hostile names: the writer refuses (EStargzError, the entry named) or makes a layer verify passes in full", async () => {
  let n = 0;
  await fuzz("tar/writer-names", [fc.array(hostileEntry, { minLength: 1, maxLength: 6 }), fc.boolean()], async (entries, indexed) => {
    let data: Buffer;
    try {
      data = await packTree(entries);
    } catch {
      return; // tar-stream cannot write it (not our input to judge)
    }
    const parts: Uint8Array[] = [];
    try {
      await writeEStargz((async function* () { yield data; })(), (b) => { parts.push(Buffer.from(b)); }, { indexed });
    } catch (err) {
      if (!(err instanceof EStargzError)) throw err;
      assert.match(err.message, /tar entry "|two entries named/, `the refusal names the entry: ${err.message}`);
      return;
    }
    const path = join(work, `layer-${n++}.tar.gz`);
    await writeFile(path, Buffer.concat(parts));
    const report = await verifyLayer(await blobTarget(path, {}));
    await rm(path);
    assert.not.ok(report.ioError, report.ioError);
    const failed = Object.entries(report.checks).filter(([, c]) => c.status === "fail").map(([k, c]) => `${k}: ${c.detail}`);
    assert.not.ok(layerFailed(report), `verify fails the converted layer: ${failed.join("; ")}`);
  }, { runs: 150, deadlineMs: 15_000 });
});

test.run();
