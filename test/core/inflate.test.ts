// The Wasm inflater against node:zlib: every level and strategy on random and real data, one-shot
// and streaming (random split points), multi-member streams and their boundaries, the Go-reference
// eStargz blobs, and malformed input (truncated, bit-flipped, crafted) that must end in errors.
import { test } from "uvu";
import * as assert from "uvu/assert";
import zlib from "node:zlib";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { CoreError, GzipStreamInflater, Inflater, InflateError, WasmBuffer, type MemberBoundary } from "../../src/core/index.js";
import { nodeCore } from "../../src/node/core.js";
import { fixtures, fixturesDir } from "../helpers/paths.js";
import {
  BitWriter, Code, FIXED_DIST, FIXED_LIT, gzipWrap, sampleLitLens, writeDynamicHeader,
} from "../helpers/deflate-craft.js";

const core = nodeCore();
const inflater = new Inflater(core);

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function datasets(): Array<[string, Uint8Array]> {
  const r = rng(1);
  const random = Uint8Array.from({ length: 20000 }, () => (r() * 256) | 0);
  const words = ["the", "layer", "chunk", "gzip", "member", "offset", "digest", "\n", " ", "eStargz", "toc"];
  let text = "";
  while (text.length < 60000) text += words[(r() * words.length) | 0] + (r() < 0.3 ? " " : "");
  const skewed = Uint8Array.from({ length: 30000 }, () => Math.min(255, Math.floor(-Math.log(1 - r()) * 6)));
  const runs: number[] = [];
  while (runs.length < 30000) {
    const b = (r() * 256) | 0;
    const n = 1 + ((r() * 300) | 0);
    for (let i = 0; i < n; i++) runs.push(b);
  }
  // Short periods (2..7) with noise: matches at distances below a word.
  const periodic: number[] = [];
  while (periodic.length < 30000) {
    const p = 2 + ((r() * 6) | 0);
    const pat = Array.from({ length: p }, () => (r() * 256) | 0);
    const n = 10 + ((r() * 400) | 0);
    for (let i = 0; i < n; i++) periodic.push(pat[i % p]);
    periodic.push((r() * 256) | 0);
  }
  return [
    ["empty", new Uint8Array(0)],
    ["one byte", Uint8Array.of(42)],
    ["random", random],
    ["text", Buffer.from(text)],
    ["skewed", skewed],
    ["runs", Uint8Array.from(runs)],
    ["periodic", Uint8Array.from(periodic)],
    ["python", realCorpus()],
  ];
}

/** Real files: the first python sources of /usr/lib/python3.11 (sorted), up to ~400 KB. */
function pythonFiles(limitBytes: number): Array<[string, Uint8Array]> {
  const dir = "/usr/lib/python3.11";
  const out: Array<[string, Uint8Array]> = [];
  let total = 0;
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith(".py")) continue;
    const p = join(dir, name);
    const data = readFileSync(p);
    out.push([p, data]);
    total += data.length;
    if (total > limitBytes) break;
  }
  return out;
}

function realCorpus(): Uint8Array {
  return Buffer.concat(pythonFiles(400_000).map(([, d]) => d));
}

const STRATEGIES: Array<[string, number]> = [
  ["default", zlib.constants.Z_DEFAULT_STRATEGY],
  ["filtered", zlib.constants.Z_FILTERED],
  ["huffman-only", zlib.constants.Z_HUFFMAN_ONLY],
  ["rle", zlib.constants.Z_RLE],
  ["fixed", zlib.constants.Z_FIXED],
];

function eq(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (actual.length !== expected.length) assert.unreachable(`${what}: length ${actual.length}, expected ${expected.length}`);
  if (Buffer.compare(Buffer.from(actual.buffer, actual.byteOffset, actual.length), expected) !== 0) {
    let i = 0;
    while (actual[i] === expected[i]) i++;
    assert.unreachable(`${what}: first difference at byte ${i}`);
  }
}

/** Streams `input` through a fresh streaming inflater in pieces of random sizes; output + boundaries. */
function streamAll(input: Uint8Array, opts: { raw?: boolean; checkCrc?: boolean; seed?: number; maxPiece?: number } = {}) {
  const parts: Buffer[] = [];
  const members: MemberBoundary[] = [];
  const s = new GzipStreamInflater(core, {
    raw: opts.raw, checkCrc: opts.checkCrc, inputBytes: 4096, outputChunk: 8192,
    onData: (b) => parts.push(Buffer.from(b)), onMember: (m) => members.push(m),
  });
  try {
    const r = rng(opts.seed ?? 7);
    const max = opts.maxPiece ?? 5000;
    for (let off = 0; off < input.length;) {
      const n = Math.min(input.length - off, 1 + Math.floor(r() * r() * max));
      s.push(input.subarray(off, off + n));
      off += n;
      if (s.done) break;
    }
    s.finish();
    return { out: Buffer.concat(parts), members };
  } finally {
    s.dispose();
  }
}

function expectCoreError(fn: () => unknown, code: number | null, what: string): CoreError {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof CoreError)) throw new Error(`${what}: expected a CoreError, got ${e}`);
    if (code !== null) assert.is(e.code, code, `${what}: code ${e.code} (${e.message}), expected ${code}`);
    return e;
  }
  throw new Error(`${what}: no error`);
}

test("every level and strategy, gzip and raw, one-shot and streaming, equals node:zlib", () => {
  let cases = 0;
  for (const [name, data] of datasets()) {
    for (let level = 0; level <= 9; level++) {
      for (const [sname, strategy] of STRATEGIES) {
        const what = `${name} level ${level} ${sname}`;
        const gz = zlib.gzipSync(data, { level, strategy });
        const out = inflater.inflate(gz, data.length);
        eq(out, data, what);
        assert.is(inflater.consumed, gz.length, `${what}: consumed`);
        const raw = zlib.deflateRawSync(data, { level, strategy });
        eq(inflater.inflate(raw, data.length, { raw: true }), data, `${what} raw`);
        assert.is(inflater.consumed, raw.length, `${what} raw consumed`);
        if (level % 3 === 0) {
          const st = streamAll(gz, { seed: level * 31 + strategy });
          eq(st.out, data, `${what} streamed`);
          assert.equal(st.members.map((m) => [m.compressedStart, m.compressedEnd, m.decompressedStart, m.decompressedEnd]),
            [[0, gz.length, 0, data.length]], `${what} boundary`);
          eq(streamAll(raw, { raw: true, seed: level }).out, data, `${what} raw streamed`);
        }
        cases++;
      }
    }
  }
  assert.ok(cases === 8 * 10 * 5);
});

test("real gzip files (/usr/share/doc/*.gz) inflate like gunzip, with and without CRC checking", () => {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      const st = statSync(p, { throwIfNoEntry: false });
      if (st?.isDirectory()) walk(p);
      else if (st?.isFile() && n.endsWith(".gz") && files.length < 150) files.push(p);
    }
  };
  walk("/usr/share/doc");
  assert.ok(files.length >= 20, `found ${files.length} .gz files`);
  for (const f of files) {
    const gz = readFileSync(f);
    const expected = zlib.gunzipSync(gz);
    eq(inflater.inflate(gz, expected.length), expected, f);
    eq(inflater.inflate(gz, expected.length, { checkCrc: false }), expected, `${f} (no CRC)`);
  }
});

test("one member per file of a real tree: streamed boundaries are the members' offsets", () => {
  const files = pythonFiles(1_500_000);
  const members = files.map(([, d], i) => zlib.gzipSync(d, { level: i % 10 }));
  const blob = Buffer.concat(members);
  const st = streamAll(blob, { seed: 3, maxPiece: 100_000 });
  eq(st.out, Buffer.concat(files.map(([, d]) => d)), "tree");
  assert.is(st.members.length, files.length);
  let c = 0, d = 0;
  st.members.forEach((m, i) => {
    assert.equal([m.index, m.compressedStart, m.compressedEnd, m.decompressedStart, m.decompressedEnd],
      [i, c, c + members[i].length, d, d + files[i][1].length], `member ${i}`);
    assert.is(m.crc, zlib.crc32(files[i][1]), `member ${i} crc`);
    c += members[i].length;
    d += files[i][1].length;
  });
});

test("multi-member streams with empty members; byte-at-a-time streaming", () => {
  const a = Buffer.from("first member ".repeat(300));
  const b = Buffer.from("second");
  const parts = [zlib.gzipSync(Buffer.alloc(0)), zlib.gzipSync(a, { level: 1 }), zlib.gzipSync(Buffer.alloc(0)),
    zlib.gzipSync(b, { level: 0 }), zlib.gzipSync(a, { strategy: zlib.constants.Z_FIXED })];
  const blob = Buffer.concat(parts);
  for (const maxPiece of [1, 2, 3, 17, 1000]) {
    const st = streamAll(blob, { maxPiece, seed: maxPiece });
    eq(st.out, zlib.gunzipSync(blob), `pieces up to ${maxPiece}`);
    assert.equal(st.members.map((m) => m.compressedEnd - m.compressedStart), parts.map((p) => p.length));
    assert.equal(st.members.map((m) => m.decompressedEnd - m.decompressedStart), [0, a.length, 0, b.length, a.length]);
  }
  // An empty stream has no members; a stream cut between members is complete.
  assert.is(streamAll(new Uint8Array(0)).members.length, 0);
  // Members are independent: a match cannot reach into the previous member's output.
  const single = zlib.gzipSync(Buffer.from("abcabcabcabcabcabc"));
  assert.equal(streamAll(Buffer.concat([single, single])).out.toString(), "abcabcabcabcabcabc".repeat(2));
});

test("a callback that throws leaves the stream inflater failed with that error", () => {
  const gz = zlib.gzipSync(Buffer.alloc(100000, 1));
  const s = new GzipStreamInflater(core, { outputChunk: 8192, onData: () => { throw new Error("sink full"); } });
  try {
    assert.throws(() => s.push(gz), /sink full/);
    assert.throws(() => s.push(gz), /sink full/);
    assert.throws(() => s.finish(), /sink full/);
  } finally {
    s.dispose();
  }
});

test("large outputs stream through a bounded window (4 MiB member, 64 KiB window chunk)", () => {
  const r = rng(9);
  const data = Buffer.alloc(4 << 20);
  for (let i = 0; i < data.length; i++) data[i] = r() < 0.9 ? data[i - 1 - ((r() * 30000) | 0)] ?? 0 : (r() * 256) | 0;
  const gz = zlib.gzipSync(data, { level: 6 });
  let total = 0;
  let crc = 0;
  let maxView = 0;
  const s = new GzipStreamInflater(core, {
    outputChunk: 64 * 1024,
    onData: (v) => { total += v.length; crc = zlib.crc32(v, crc); maxView = Math.max(maxView, v.length); },
  });
  for (let off = 0; off < gz.length; off += 65536) s.push(gz.subarray(off, off + 65536));
  s.finish();
  s.dispose();
  assert.is(total, data.length);
  assert.is(crc, zlib.crc32(data));
  assert.ok(maxView <= 96 * 1024, `views are at most a window chunk (+ what remains), got ${maxView}`);
  eq(inflater.inflate(gz, data.length), data, "one-shot 4 MiB");
});

test("Go-reference eStargz blobs: whole blob streamed = gunzip, boundaries at every TOC member offset", () => {
  for (const fx of fixtures()) {
    const blob = readFileSync(fx.path);
    const expected = zlib.gunzipSync(blob);
    const st = streamAll(blob, { seed: fx.size, maxPiece: 20000 });
    eq(st.out, expected, fx.blob);
    assert.is(st.out.length, fx.uncompressedSize, `${fx.blob} uncompressed size`);
    const starts = st.members.map((m) => m.compressedStart);
    assert.is(starts[0], 0);
    assert.is(st.members[st.members.length - 1].compressedEnd, blob.length, `${fx.blob}: members cover the blob`);
    st.members.forEach((m, i) => { if (i > 0) assert.is(m.compressedStart, st.members[i - 1].compressedEnd); });
    const toc = JSON.parse(readFileSync(join(fixturesDir, fx.blob.replace(/\.tar\.gz$/, ".toc.json")), "utf8"));
    const startSet = new Set(starts);
    for (const e of toc.entries) if (e.offset) assert.ok(startSet.has(e.offset), `${fx.blob}: TOC offset ${e.offset} is a member start`);
    // Each member one-shot from its own bytes = the same slice of the whole output (CRC both ways).
    for (const m of st.members) {
      const piece = blob.subarray(m.compressedStart, m.compressedEnd);
      const size = m.decompressedEnd - m.decompressedStart;
      for (const checkCrc of [true, false]) {
        eq(inflater.inflate(piece, size, { checkCrc }), expected.subarray(m.decompressedStart, m.decompressedEnd),
          `${fx.blob} member at ${m.compressedStart}`);
      }
    }
  }
});

test("one-shot into a caller's region of Wasm memory; output larger than the buffer is an error", () => {
  const data = Buffer.from("0123456789".repeat(1000));
  const gz = zlib.gzipSync(data);
  const inBuf = new WasmBuffer(core);
  const outBuf = new WasmBuffer(core, data.length + 100);
  try {
    const inPtr = inBuf.write(gz);
    assert.is(inflater.inflateRegion(inPtr, gz.length, outBuf.ptr, data.length + 100), data.length);
    assert.ok(inflater.complete);
    eq(outBuf.view(data.length), data, "region");
    const e = expectCoreError(() => inflater.inflateRegion(inPtr, gz.length, outBuf.ptr, data.length - 1), InflateError.OUTPUT_OVERFLOW, "small buffer");
    assert.match(e.message, /larger than the output buffer/);
    // allowPartial: exactly the first bytes, and the caller learns the member did not end.
    assert.is(inflater.inflateRegion(inPtr, gz.length, outBuf.ptr, 1234, { allowPartial: true }), 1234);
    assert.not.ok(inflater.complete);
    eq(outBuf.view(1234), data.subarray(0, 1234), "partial");
    expectCoreError(() => inflater.inflate(gz, data.length + 1), InflateError.SIZE_MISMATCH, "expected size too big");
    // Input that is already a view of Wasm memory is used in place.
    eq(inflater.inflate(inBuf.view(gz.length), data.length), data, "in place");
  } finally {
    inBuf.dispose();
    outBuf.dispose();
  }
});

test("every truncation of a member is an error, one-shot and streaming, never a trap", () => {
  const data = Buffer.concat([Buffer.from("stored? no: dynamic ".repeat(50)), Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 7) & 255))]);
  for (const [name, gz] of [
    ["dynamic", zlib.gzipSync(data)],
    ["stored", zlib.gzipSync(data, { level: 0 })],
    ["fixed", zlib.gzipSync(data, { strategy: zlib.constants.Z_FIXED })],
    ["with name", gzipWrap(zlib.deflateRawSync(data), data, { name: "file.txt", comment: "c", extra: Uint8Array.of(1, 2, 3), headerCrc: true })],
  ] as Array<[string, Uint8Array]>) {
    for (let n = 0; n < gz.length; n++) {
      const cut = gz.subarray(0, n);
      expectCoreError(() => inflater.inflate(cut, data.length), InflateError.TRUNCATED, `${name} cut at ${n}`);
      if (n > 0 && n % 7 === 0) {
        expectCoreError(() => streamAll(cut, { maxPiece: 50, seed: n }), InflateError.TRUNCATED, `${name} streamed cut at ${n}`);
      }
    }
  }
});

/** zlib's verdict on a gzip stream: output or null when it rejects. */
function zlibGunzip(input: Uint8Array): Buffer | null {
  try {
    return zlib.gunzipSync(input);
  } catch {
    return null;
  }
}

test("bit flips: ours fails exactly when zlib fails, and agrees on the output when it succeeds", () => {
  const r = rng(5);
  const sources = [
    Buffer.from(readFileSync("/usr/lib/python3.11/os.py").subarray(0, 20000)),
    Uint8Array.from({ length: 5000 }, () => (r() < 0.5 ? 65 : (r() * 256) | 0)),
  ];
  let accepted = 0, rejected = 0;
  for (const src of sources) {
    for (const opts of [{ level: 6 }, { level: 1 }, { strategy: zlib.constants.Z_FIXED }, { level: 0 }]) {
      const gz = zlib.gzipSync(src, opts);
      for (let k = 0; k < 150; k++) {
        const bad = Buffer.from(gz);
        const flips = 1 + ((r() * 3) | 0);
        for (let f = 0; f < flips; f++) {
          const bit = (r() * bad.length * 8) | 0;
          bad[bit >> 3] ^= 1 << (bit & 7);
        }
        const want = zlibGunzip(bad);
        let got: Buffer | null = null;
        let err: unknown = null;
        try {
          got = streamAll(bad, { seed: k, maxPiece: 3000 }).out;
        } catch (e) {
          err = e;
        }
        if (err && !(err instanceof CoreError)) throw err;
        if (want) {
          assert.ok(got, `zlib accepts flip #${k} but we fail: ${err}`);
          eq(got!, want, `flip #${k}`);
          accepted++;
        } else {
          assert.ok(err, `zlib rejects flip #${k} but we accept`);
          rejected++;
        }
        // The raw DEFLATE body, one-shot: never a trap; matches zlib when zlib accepts.
        const rawBad = bad.subarray(10, bad.length - 8);
        let rawWant: Buffer | null = null;
        try { rawWant = zlib.inflateRawSync(rawBad); } catch { /* rejected */ }
        try {
          const out = inflater.inflate(rawBad, src.length + 1000, { raw: true, allowPartial: true });
          if (rawWant && inflater.complete) eq(out, rawWant, `raw flip #${k}`);
        } catch (e) {
          if (!(e instanceof CoreError)) throw e;
        }
      }
    }
  }
  assert.ok(rejected > 100 && accepted >= 0, `rejected ${rejected}, accepted ${accepted}`);
});

test("random garbage as raw DEFLATE and behind a gzip header: an error or zlib's output, never a trap", () => {
  const r = rng(13);
  const header = Buffer.from([31, 139, 8, 0, 0, 0, 0, 0, 0, 255]);
  let errors = 0;
  for (let k = 0; k < 1500; k++) {
    const body = Uint8Array.from({ length: 1 + Math.floor(r() * r() * 3000) }, () => (r() * 256) | 0);
    // Bias some inputs towards dynamic blocks (BTYPE = 2), the richest header.
    if (k % 3 === 0) body[0] = (body[0] & ~6) | 4;
    let want: Buffer | null = null;
    try { want = zlib.inflateRawSync(body); } catch { /* rejected */ }
    try {
      const out = inflater.inflate(body, 1 << 20, { raw: true, allowPartial: true });
      assert.ok(want, `garbage #${k}: zlib rejects what we accept`);
      eq(out, want!, `garbage #${k}`);
    } catch (e) {
      if (!(e instanceof CoreError)) throw e;
      assert.is(want, null, `garbage #${k}: zlib accepts what we reject (${e.message})`);
      errors++;
    }
    const gz = Buffer.concat([header, body]);
    try {
      streamAll(gz, { seed: k, maxPiece: 700 });
      assert.unreachable("a gzip member without a trailer cannot succeed");
    } catch (e) {
      if (!(e instanceof CoreError)) throw e;
    }
  }
  assert.ok(errors > 1000, `${errors} rejected`);
});

// ---- crafted streams -------------------------------------------------------------------------

function fixedBlock(build: (w: BitWriter) => void): Uint8Array {
  const w = new BitWriter();
  w.bits(1, 1).bits(1, 2);
  build(w);
  return w.finish();
}

function rawError(raw: Uint8Array, code: number, what: string): void {
  expectCoreError(() => inflater.inflate(raw, 70000, { raw: true, allowPartial: true }), code, what);
  expectCoreError(() => streamAll(raw, { raw: true, maxPiece: 3 }), code, `${what} (streamed)`);
  assert.throws(() => zlib.inflateRawSync(raw), undefined, `${what}: zlib rejects it too`);
}

function dynamicRaw(litLens: number[], distLens: number[], body: (w: BitWriter, lit: Code, dist: Code) => void,
  header: Partial<Parameters<typeof writeDynamicHeader>[1]> = {}): Uint8Array {
  const w = new BitWriter();
  writeDynamicHeader(w, { litLens, distLens, ...header });
  body(w, new Code(litLens), new Code(distLens));
  return w.finish();
}

const endBlock = (w: BitWriter, lit: Code) => lit.put(w, 256);

test("crafted valid streams: our encoder's dynamic blocks, single-code and empty distance codes, header fields", () => {
  // Literals "ab", then a match length 3 at distance 2 (length symbol 257, distance symbol 1).
  const lit = sampleLitLens();
  const raw = dynamicRaw(lit, [1, 1], (w, l, d) => { l.put(w, 97); l.put(w, 98); l.put(w, 257); d.put(w, 1); endBlock(w, l); });
  assert.is(zlib.inflateRawSync(raw).toString(), "ababa");
  assert.is(Buffer.from(inflater.inflate(raw, 5, { raw: true })).toString(), "ababa");
  // A distance code with a single 1-bit codeword (incomplete, allowed) and one with no codes at all.
  const single = dynamicRaw(lit, [0, 1], (w, l, d) => { l.put(w, 120); l.put(w, 121); l.put(w, 257); d.put(w, 1); endBlock(w, l); });
  assert.is(zlib.inflateRawSync(single).toString(), "xyxyx");
  assert.is(Buffer.from(inflater.inflate(single, 5, { raw: true })).toString(), "xyxyx");
  const none = dynamicRaw(lit, [0], (w, l) => { l.put(w, 121); endBlock(w, l); });
  assert.is(Buffer.from(inflater.inflate(none, 1, { raw: true })).toString(), "y");
  // A litlen code that is only an end-of-block of 1 bit (incomplete, allowed): an empty block.
  const eobOnly = new Array(257).fill(0);
  eobOnly[256] = 1;
  const empty = dynamicRaw(eobOnly, [1, 1], (w, l) => endBlock(w, l));
  assert.is(zlib.inflateRawSync(empty).length, 0);
  assert.is(inflater.inflate(empty, 0, { raw: true }).length, 0);
  // gzip header with FEXTRA, FNAME, FCOMMENT and FHCRC, one-shot and a byte at a time.
  const payload = Buffer.from("payload with every header field");
  const gz = gzipWrap(zlib.deflateRawSync(payload), payload, {
    extra: Uint8Array.from({ length: 300 }, (_, i) => i & 255), name: "name.txt", comment: "a comment", headerCrc: true,
  });
  assert.equal(zlib.gunzipSync(gz), payload);
  eq(inflater.inflate(gz, payload.length), payload, "all header fields");
  eq(streamAll(gz, { maxPiece: 1 }).out, payload, "all header fields, byte by byte");
});

test("crafted malformed streams end in their own errors (and zlib rejects them too)", () => {
  const lit = sampleLitLens();
  const dist = [1, 1];
  rawError(Uint8Array.of(0b111), InflateError.BLOCK_TYPE, "block type 3");
  rawError(Uint8Array.of(0b001, 5, 0, 5, 0, 1, 2, 3, 4, 5), InflateError.STORED_LENGTH, "stored LEN/NLEN mismatch");
  rawError(dynamicRaw(lit, dist, endBlock, { hlit: 287 }), InflateError.CODE_LENGTHS, "HLIT 287");
  rawError(dynamicRaw(lit, new Array(31).fill(5), endBlock), InflateError.CODE_LENGTHS, "HDIST 31");
  // Precode: oversubscribed (all 19 symbols 3 bits) and incomplete (all 5 bits).
  rawError(dynamicRaw(lit, dist, endBlock, { precodeLens: new Array(19).fill(3), items: [] }), InflateError.OVERSUBSCRIBED, "oversubscribed precode");
  rawError(dynamicRaw(lit, dist, endBlock, { precodeLens: new Array(19).fill(5), items: [] }), InflateError.INCOMPLETE, "incomplete precode");
  // Repeat of the previous length with no previous length; a run past the end of the lengths.
  rawError(dynamicRaw(lit, dist, endBlock, { items: [{ sym: 16, extra: 0 }] }), InflateError.CODE_LENGTHS, "repeat without previous");
  rawError(dynamicRaw(lit, dist, endBlock, { items: [...lit, { sym: 18, extra: 127 }] }), InflateError.CODE_LENGTHS, "repeat overflow");
  // Litlen code oversubscribed, incomplete, without end-of-block.
  const over = [...lit];
  over[256] = 1;
  rawError(dynamicRaw(over, dist, () => {}), InflateError.OVERSUBSCRIBED, "oversubscribed litlen");
  const incomplete = [...lit];
  for (let s = 257; s <= 264; s++) incomplete[s] = 6;
  rawError(dynamicRaw(incomplete, dist, () => {}), InflateError.INCOMPLETE, "incomplete litlen");
  const noEob = [...lit];
  noEob[256] = 0;
  rawError(dynamicRaw(noEob, dist, () => {}), InflateError.MISSING_END_OF_BLOCK, "no end-of-block");
  // Distance codes: oversubscribed, incomplete (two codes of 2 bits).
  rawError(dynamicRaw(lit, [1, 1, 1], endBlock), InflateError.OVERSUBSCRIBED, "oversubscribed distance code");
  rawError(dynamicRaw(lit, [2, 2], endBlock), InflateError.INCOMPLETE, "incomplete distance code");
  // Distance too far back: one literal then distance 2 (dynamic and fixed blocks).
  rawError(dynamicRaw(lit, dist, (w, l, d) => { l.put(w, 97); l.put(w, 257); d.put(w, 1); endBlock(w, l); }),
    InflateError.DISTANCE_TOO_FAR, "distance too far (dynamic)");
  rawError(fixedBlock((w) => { FIXED_LIT.put(w, 97); FIXED_LIT.put(w, 257); FIXED_DIST.put(w, 1); FIXED_LIT.put(w, 256); }),
    InflateError.DISTANCE_TOO_FAR, "distance too far (fixed)");
  // A match with no distance code at all.
  rawError(dynamicRaw(lit, [0], (w, l) => { l.put(w, 97); l.put(w, 257); w.bits(0, 8); }), InflateError.BAD_DISTANCE_CODE, "no distance code");
  // Fixed code: litlen symbols 286/287 and distance symbols 30/31 are invalid.
  rawError(fixedBlock((w) => { FIXED_LIT.put(w, 286); }), InflateError.BAD_LITLEN_CODE, "litlen 286");
  rawError(fixedBlock((w) => { FIXED_LIT.put(w, 97); FIXED_LIT.put(w, 257); FIXED_DIST.put(w, 30); }), InflateError.BAD_DISTANCE_CODE, "distance 30");
  // Far distances (distance symbol 29, 13 extra bits) reach back exactly 32 KiB, not one byte more.
  const lens = sampleLitLens();
  const distLens = Array.from({ length: 30 }, (_, i) => (i < 2 ? 4 : 5));
  const far = (literals: number) => dynamicRaw(lens, distLens, (w, l, d) => {
    for (let i = 0; i < literals; i++) l.put(w, 7);
    l.put(w, 257);
    d.put(w, 29);
    w.bits(32768 - 24577, 13);
    endBlock(w, l);
  });
  assert.is(zlib.inflateRawSync(far(32768)).length, 32771);
  eq(inflater.inflate(far(32768), 32771, { raw: true }), Buffer.alloc(32771, 7), "distance 32768");
  eq(streamAll(far(32768), { raw: true, maxPiece: 100 }).out, Buffer.alloc(32771, 7), "distance 32768 (streamed)");
  rawError(far(32767), InflateError.DISTANCE_TOO_FAR, "distance 32768 after 32767 bytes");
});

test("gzip framing errors: magic, method, reserved flags, header CRC, CRC-32, ISIZE, trailing garbage", () => {
  const payload = Buffer.from("framing ".repeat(100));
  const body = zlib.deflateRawSync(payload);
  const good = gzipWrap(body, payload);
  eq(inflater.inflate(good, payload.length), payload, "good");
  const mutate = (i: number, v: number) => { const b = Buffer.from(good); b[i] = v; return b; };
  const cases: Array<[string, Uint8Array, number]> = [
    ["bad magic", mutate(0, 0x1e), InflateError.GZIP_HEADER],
    ["bad method", mutate(2, 7), InflateError.GZIP_HEADER],
    ["reserved flag", mutate(3, 0x20), InflateError.GZIP_FLAGS],
    ["header CRC", gzipWrap(body, payload, { headerCrc: 0x1234 }), InflateError.HEADER_CRC],
    ["CRC-32", gzipWrap(body, payload, { crc: 1 }), InflateError.CRC],
    ["ISIZE", gzipWrap(body, payload, { isize: payload.length + 1 }), InflateError.ISIZE],
  ];
  for (const [what, gz, code] of cases) {
    assert.is(zlibGunzip(gz), null, `${what}: zlib rejects it`);
    const e = expectCoreError(() => inflater.inflate(gz, payload.length), code, what);
    assert.ok(e.position >= 0 && e.position <= gz.length, `${what}: position ${e.position}`);
    expectCoreError(() => streamAll(gz, { maxPiece: 7 }), code, `${what} (streamed)`);
  }
  // A wrong CRC passes when CRC checking is off (a digest covers the bytes); ISIZE is always checked.
  eq(inflater.inflate(cases[4][1], payload.length, { checkCrc: false }), payload, "CRC off");
  eq(streamAll(cases[4][1], { checkCrc: false }).out, payload, "CRC off (streamed)");
  // Garbage after a member: the stream's next member must start with the gzip magic.
  const e = expectCoreError(() => streamAll(Buffer.concat([good, Buffer.from("junk")])), InflateError.GZIP_HEADER, "trailing garbage");
  assert.is(e.position, good.length, "error position = where the garbage starts");
  // Error positions in a multi-member stream are offsets in the whole stream.
  const bad = gzipWrap(body, payload, { crc: 1 });
  const e2 = expectCoreError(() => streamAll(Buffer.concat([good, good, bad])), InflateError.CRC, "CRC in third member");
  assert.ok(e2.position >= 2 * good.length, `position ${e2.position} lies in the third member`);
  // A failed stream inflater stays failed until reset; then it works again.
  const s = new GzipStreamInflater(core);
  try {
    assert.throws(() => s.push(bad));
    assert.throws(() => s.finish());
    s.reset();
    const out: Buffer[] = [];
    const s2 = new GzipStreamInflater(core, { onData: (v) => out.push(Buffer.from(v)) });
    s2.push(good);
    s2.finish();
    s2.dispose();
    eq(Buffer.concat(out), payload, "fresh");
    s.push(good);
    s.finish();
    assert.ok(s.done);
  } finally {
    s.dispose();
  }
});

test.run();
