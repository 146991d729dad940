// Tampered copies of the Go-reference blobs fail, and the check that names the damage is the one that
// fails: chunk content, TOC (with and without the annotation updated), gzip trailer, footer offset,
// truncation, bytes after the footer, diffID, uncompressed size, a TOC offset at the wrong member.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { gzipSync } from "node:zlib";
import { footer, rebuild, sha256, splitMembers, tocMemberData, tocOfMember, type Member } from "../helpers/esgz-tamper.js";
import { fixtures } from "../helpers/paths.js";
import { runCli } from "../helpers/run-cli.js";
import { packTree } from "../helpers/tartree.js";
import { writeEStargz } from "../../src/estargz/writer.js";
import { assertChecks, factFlags, verifyJson } from "./util.js";

const c64k = fixtures().find((f) => f.blob === "estargz-c64k.tar.gz")!;
let tmp: string;
let blob: Buffer;
let members: Member[];
let n = 0;

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "esgz-tamper-"));
  blob = await readFile(c64k.path);
  members = splitMembers(blob);
});
test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function save(data: Uint8Array): Promise<string> {
  const p = join(tmp, `t${n++}.tar.gz`);
  await writeFile(p, data);
  return p;
}

/** The member holding chunk `k` of `name` in the original blob, from the TOC. */
function chunkMember(name: string, k: number): number {
  const { doc } = tocOfMember(members[members.length - 2].data);
  const entries = doc.entries.filter((e) => e.name === name && (e.type === "reg" || e.type === "chunk"));
  return members.findIndex((m) => m.offset === entries[k].offset);
}

test("the split/rebuild helper is faithful: an unchanged rebuild verifies", async () => {
  const r = rebuild(members, members);
  const { res, out } = await verifyJson([await save(r.blob), ...factFlags({ ...c64k, blobDigest: r.digest, size: r.blob.length, tocDigest: r.tocDigest, diffId: r.diffId, uncompressedSize: r.uncompressedSize })]);
  assert.is(res.code, 0, res.stdout);
  assertChecks(out.layers[0], []);
});

test("a byte changed in a chunk (gzip kept valid): chunks fails naming file and chunk, diffID fails", async () => {
  const i = chunkMember("./data/chunky.bin", 2);
  const data = Buffer.from(members[i].data);
  data[100] ^= 0x01;
  const copy = members.slice();
  copy[i] = { ...members[i], data };
  const r = rebuild(members, copy);
  // the attacker also rewrote the TOC's offsets and published the new blob and TOC digests; the config's diffID is the original
  const { res, out } = await verifyJson([await save(r.blob), ...factFlags({ ...c64k, blobDigest: r.digest, size: r.blob.length, tocDigest: r.tocDigest })]);
  assert.is(res.code, 1);
  const l = out.layers[0];
  assertChecks(l, ["chunks", "diffId", "size"].filter((c) => c !== "size" || r.uncompressedSize !== c64k.uncompressedSize));
  assert.match(l.checks.chunks.detail!, 'chunk 2 of "data/chunky.bin" does not match its chunkDigest');
  assert.is(l.checks.chunks.where!.chunk, 2);
  assert.match(l.checks.chunks.actual!, sha256(data.subarray(0, 65536)));
  // the whole file's digest fails too, counted as a further failure of the same check
  assert.is((l.checks.chunks as { moreFailures?: number }).moreFailures, 1);
});

test("a byte flipped in a chunk's compressed data: gzip fails at that member, blob digest fails", async () => {
  const i = chunkMember("./data/chunky.bin", 1);
  const bad = Buffer.from(blob);
  bad[members[i].offset + 30] ^= 0x40;
  const { res, out } = await verifyJson([await save(bad), ...factFlags(c64k)]);
  assert.is(res.code, 1);
  const l = out.layers[0];
  assert.is(l.checks.gzip.status, "fail");
  assert.is(l.checks.digest.status, "fail");
  assert.ok((l.checks.gzip.where!.blobOffset as number) >= members[i].offset, JSON.stringify(l.checks.gzip));
  for (const c of ["toc", "tocDigest"]) assert.is(l.checks[c].status, "pass", c);
  // the footer parsed, but where its TOC member sits in the stream was never reached
  assert.is(l.checks.footer.status, "skip");
  for (const c of ["chunks", "tar", "diffId", "size"]) assert.match(l.checks[c].detail!, /not reached: the gzip stream is broken/, c);
});

function tocWithFlippedDigest(): ReturnType<typeof rebuild> {
  return rebuild(members, members, (doc) => {
    const e = doc.entries.find((x) => x.name === "./etc/config")!;
    const d = e.chunkDigest!;
    e.chunkDigest = d.slice(0, -1) + (d.endsWith("0") ? "1" : "0");
    e.digest = e.chunkDigest;
  });
}

test("a digest changed in the TOC, annotation updated: tocDigest passes, chunks fails naming the file", async () => {
  const r = tocWithFlippedDigest();
  const { res, out } = await verifyJson([await save(r.blob), ...factFlags({ ...c64k, blobDigest: r.digest, size: r.blob.length, tocDigest: r.tocDigest, diffId: r.diffId, uncompressedSize: r.uncompressedSize })]);
  assert.is(res.code, 1);
  assertChecks(out.layers[0], ["chunks"]);
  assert.match(out.layers[0].checks.chunks.detail!, '"etc/config"');
});

test("a digest changed in the TOC, annotation not updated: tocDigest fails", async () => {
  const r = tocWithFlippedDigest();
  const { res, out } = await verifyJson([await save(r.blob), ...factFlags({ ...c64k, blobDigest: r.digest, size: r.blob.length, diffId: r.diffId, uncompressedSize: r.uncompressedSize })]);
  assert.is(res.code, 1);
  assertChecks(out.layers[0], ["tocDigest", "chunks"]);
  assert.is(out.layers[0].checks.tocDigest.expected, c64k.tocDigest);
  assert.is(out.layers[0].checks.tocDigest.actual, r.tocDigest);
});

test("a TOC that is not JSON: toc fails", async () => {
  const json = Buffer.from(tocOfMember(members[members.length - 2].data).json);
  json[0] = 0x5b; // '[' for '{'
  const bad = withRawToc(json);
  const { res, out } = await verifyJson([await save(bad), "--toc-digest", sha256(json)]);
  assert.is(res.code, 1);
  assert.is(out.layers[0].checks.toc.status, "fail");
  assert.is(out.layers[0].checks.tocDigest.status, "pass");
  assert.match(out.layers[0].checks.toc.detail!, /^TOC: .* at byte 0/);
  for (const c of ["chunks", "tar"]) assert.is(out.layers[0].checks[c].detail, "no usable TOC", c);
});

test("a TOC with a duplicate name: toc fails naming it", async () => {
  const r = rebuild(members, members, (doc) => {
    doc.entries.push({ ...doc.entries.find((x) => x.name === "./etc/")! });
  });
  const { res, out } = await verifyJson([await save(r.blob), "--toc-digest", r.tocDigest]);
  assert.is(res.code, 1);
  assert.is(out.layers[0].checks.toc.status, "fail");
  assert.match(out.layers[0].checks.toc.detail!, 'duplicate name "etc"');
});

test("a directory entry after its children (the reference writer moves a replaced entry to the end) is no duplicate", async () => {
  const parts: Uint8Array[] = [];
  const mtime = new Date(Date.UTC(2024, 0, 1));
  const tarBytes = await packTree([
    { name: "./d/f", type: "file", mode: 0o644, uid: 0, gid: 0, mtime, data: Buffer.from("f") },
    { name: "./d/", type: "directory", mode: 0o700, uid: 0, gid: 0, mtime },
  ]);
  const w = await writeEStargz((async function* () { yield tarBytes; })(), (b) => { parts.push(Buffer.from(b)); });
  const { res, out } = await verifyJson([await save(Buffer.concat(parts)), "--toc-digest", w.tocDigest, "--digest", w.digest, "--diff-id", w.diffId, "--uncompressed-size", String(w.uncompressedSize)]);
  assert.is(res.code, 0, JSON.stringify(out.layers[0].checks.toc));
  assertChecks(out.layers[0], []);
});

test("a TOC name escaping the root with ..: toc fails", async () => {
  const r = rebuild(members, members, (doc) => {
    doc.entries.find((x) => x.name === "./etc/config")!.name = "./../../etc/config";
  });
  const { out } = await verifyJson([await save(r.blob), "--toc-digest", r.tocDigest]);
  assert.is(out.layers[0].checks.toc.status, "fail");
  assert.match(out.layers[0].checks.toc.detail!, /\.\./);
});

/** The original blob with its TOC member replaced by one holding `json` (members before it unchanged). */
function withRawToc(json: Buffer): Buffer {
  const tocOffset = members[members.length - 2].offset;
  return Buffer.concat([blob.subarray(0, tocOffset), gzipSync(tocMemberData(json), { level: 9 }), footer(tocOffset)]);
}

test("a byte flipped in a gzip trailer (CRC-32): gzip fails naming the CRC", async () => {
  const i = chunkMember("./data/chunky.bin", 0);
  const bad = Buffer.from(blob);
  bad[members[i].offset + members[i].raw.length - 8] ^= 0x01;
  const { res, out } = await verifyJson([await save(bad), ...factFlags(c64k)]);
  assert.is(res.code, 1);
  const l = out.layers[0];
  assert.is(l.checks.gzip.status, "fail");
  assert.match(l.checks.gzip.detail!, /CRC/);
  assert.is(l.checks.digest.status, "fail");
});

test("a byte flipped in the ISIZE of a trailer: gzip fails naming ISIZE", async () => {
  const i = chunkMember("./data/chunky.bin", 3);
  const bad = Buffer.from(blob);
  bad[members[i].offset + members[i].raw.length - 4] ^= 0x01;
  const { out } = await verifyJson([await save(bad), ...factFlags(c64k)]);
  assert.is(out.layers[0].checks.gzip.status, "fail");
  assert.match(out.layers[0].checks.gzip.detail!, /ISIZE/);
});

test("the footer's TOC offset changed: footer fails", async () => {
  const bad = Buffer.from(blob);
  const p = bad.length - 51 + 16 + 15; // last hex digit of the offset
  bad[p] = bad[p] === 0x30 ? 0x31 : 0x30;
  const { res, out } = await verifyJson([await save(bad), ...factFlags({ ...c64k, blobDigest: sha256(bad) })]);
  assert.is(res.code, 1);
  const l = out.layers[0];
  assert.is(l.checks.footer.status, "fail");
  assert.match(l.checks.footer.detail!, /TOC offset/);
  assert.is(l.checks.gzip.status, "pass");
  assert.is(l.checks.diffId.status, "pass");
});

test("a truncated blob: digest (size), gzip and footer fail", async () => {
  const bad = blob.subarray(0, blob.length - 100);
  const { res, out } = await verifyJson([await save(bad), ...factFlags(c64k)]);
  assert.is(res.code, 1);
  const l = out.layers[0];
  for (const c of ["digest", "gzip", "footer"]) assert.is(l.checks[c].status, "fail", c);
  assert.match(l.checks.digest.detail!, /size/);
  assert.match(l.checks.gzip.detail!, /ends inside|truncated/);
});

test("bytes appended after the footer: gzip says so, footer fails", async () => {
  const bad = Buffer.concat([blob, Buffer.from("trailing garbage")]);
  const { res, out } = await verifyJson([await save(bad), ...factFlags(c64k)]);
  assert.is(res.code, 1);
  const l = out.layers[0];
  assert.is(l.checks.gzip.status, "fail");
  assert.match(l.checks.gzip.detail!, /16 bytes after the eStargz footer/);
  assert.is(l.checks.footer.status, "fail");
});

test("a wrong diffID: only diffId fails", async () => {
  const { res, out } = await verifyJson([c64k.path, ...factFlags({ ...c64k, diffId: fixtures()[0].diffId })]);
  assert.is(res.code, 1);
  assertChecks(out.layers[0], ["diffId"]);
  assert.is(out.layers[0].checks.diffId.actual, c64k.diffId);
});

test("a wrong uncompressed size: only size fails", async () => {
  const { res, out } = await verifyJson([c64k.path, ...factFlags({ ...c64k, uncompressedSize: c64k.uncompressedSize + 512 })]);
  assert.is(res.code, 1);
  assertChecks(out.layers[0], ["size"]);
});

test("a TOC entry whose offset points at another member: tar fails naming the file", async () => {
  const r = rebuild(members, members, (doc) => {
    const a = doc.entries.find((x) => x.name === "./etc/config")!;
    const b = doc.entries.find((x) => x.name === "./bin/tool")!;
    a.offset = b.offset;
  });
  const { res, out } = await verifyJson([await save(r.blob), ...factFlags({ ...c64k, blobDigest: r.digest, size: r.blob.length, tocDigest: r.tocDigest, diffId: r.diffId, uncompressedSize: r.uncompressedSize })]);
  assert.is(res.code, 1);
  assertChecks(out.layers[0], ["tar"]);
  assert.match(out.layers[0].checks.tar.detail!, /chunk 0 of "etc\/config"/);
});

test("a TOC entry whose offset is inside a member: tar fails, not the start of a member", async () => {
  const r = rebuild(members, members, (doc) => {
    const a = doc.entries.find((x) => x.name === "./etc/config")!;
    a.offset = a.offset! + 3;
  });
  const { out } = await verifyJson([await save(r.blob), "--toc-digest", r.tocDigest]);
  assert.is(out.layers[0].checks.tar.status, "fail");
  assert.match(out.layers[0].checks.tar.detail!, /is not the start of a gzip member/);
});

test("TOC and tar disagree on a file's mode: tar fails naming file and field", async () => {
  const r = rebuild(members, members, (doc) => {
    doc.entries.find((x) => x.name === "./bin/tool")!.mode = 0o755;
  });
  const { res, out } = await verifyJson([await save(r.blob), "--toc-digest", r.tocDigest, "--diff-id", r.diffId]);
  assert.is(res.code, 1);
  assertChecks(out.layers[0], ["tar"], ["digest", "size"]);
  assert.match(out.layers[0].checks.tar.detail!, /mode differs between the TOC and the tar/);
  assert.is(out.layers[0].checks.tar.where!.file, "bin/tool");
  assert.is(out.layers[0].checks.tar.expected, "0755 (TOC)");
});

test("a landmark with the wrong content (digests updated to match): tar fails naming the landmark", async () => {
  const prio = fixtures().find((f) => f.blob === "estargz-prio.tar.gz")!;
  const pm = splitMembers(await readFile(prio.path));
  const { doc } = tocOfMember(pm[pm.length - 2].data);
  const lm = doc.entries.find((e) => e.name === ".prefetch.landmark")!;
  const i = pm.findIndex((m) => m.offset === lm.offset);
  const data = Buffer.from(pm[i].data);
  data[0] = 0x0e;
  const copy = pm.slice();
  copy[i] = { ...pm[i], data };
  const r = rebuild(pm, copy, (d) => {
    const e = d.entries.find((x) => x.name === ".prefetch.landmark")!;
    e.digest = e.chunkDigest = sha256(Buffer.from([0x0e]));
  });
  const { res, out } = await verifyJson([await save(r.blob), "--toc-digest", r.tocDigest, "--diff-id", r.diffId]);
  assert.is(res.code, 1);
  assertChecks(out.layers[0], ["tar"], ["digest", "size"]);
  assert.match(out.layers[0].checks.tar.detail!, /landmark .prefetch.landmark must hold the single byte 0x0f/);
});

test("the table explains the first failure: which file and chunk, expected and actual", async () => {
  const r = tocWithFlippedDigest();
  const res = await runCli(["verify", await save(r.blob), "--toc-digest", r.tocDigest]);
  assert.is(res.code, 1);
  assert.match(res.stdout, /FAIL/);
  assert.match(res.stdout, /chunks: chunk 0 of "etc\/config" does not match its chunkDigest/);
  assert.match(res.stdout, /expected sha256:[0-9a-f]{64}\n\s+actual\s+sha256:[0-9a-f]{64}/);
  assert.match(res.stdout, /1 of 1 layer FAILED verification/);
});

test("an empty blob and a blob that is not gzip fail the gzip check", async () => {
  let { res, out } = await verifyJson([await save(Buffer.alloc(0))]);
  assert.is(res.code, 1);
  assert.is(out.layers[0].checks.gzip.status, "fail");
  assert.match(out.layers[0].checks.gzip.detail!, /no gzip member/);
  ({ res, out } = await verifyJson([await save(Buffer.from("not a gzip stream at all"))]));
  assert.is(res.code, 1);
  assert.match(out.layers[0].checks.gzip.detail!, /not a gzip member/);
  assert.is(out.layers[0].checks.gzip.where!.blobOffset, 0);
});

test("usage and I/O errors exit 2", async () => {
  let res = await runCli(["verify", join(tmp, "missing.tar.gz")]);
  assert.is(res.code, 2);
  assert.match(res.stderr, /no such file or directory|not supported/);
  res = await runCli(["verify", c64k.path, "--digest", "sha256:xyz"]);
  assert.is(res.code, 2);
  assert.match(res.stderr, /--digest "sha256:xyz" is not sha256:<64 lowercase hex digits>/);
});

test("a plain gzip layer (not eStargz) is verified for digest and diffID and reported as gzip", async () => {
  const tar = await readFile(join(c64k.path, "..", "tree.tar"));
  const gz = gzipSync(tar);
  const { res, out } = await verifyJson([await save(gz), "--digest", sha256(gz), "--diff-id", sha256(tar), "--uncompressed-size", String(tar.length)]);
  assert.is(res.code, 0, res.stdout);
  assert.is(out.layers[0].kind, "gzip");
  assertChecks(out.layers[0], [], ["footer", "toc", "tocDigest", "chunks", "tar"]);
});

test.run();
