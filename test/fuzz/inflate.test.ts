// Fuzzing gzip members → the Wasm inflater (src/core/inflate.ts, src/core/chunk.ts), differential
// against node:zlib on the same inputs: zlib's output of random data at random levels and strategies,
// mutated (flips, truncation, insertion, deletion, duplication); DEFLATE streams crafted from random
// Huffman codes (complete, incomplete, over-subscribed) and random symbols, distances included; random
// bytes. Each input: the one-shot inflater (gzip and raw) and the streaming inflater (random piece
// sizes, small windows) accept exactly what zlib accepts, with the same bytes; the chunk verifier
// returns the true bytes or throws. After every failure the same instances decode a known member
// correctly (no damage).
import { test } from "uvu";
import * as assert from "uvu/assert";
import zlib from "node:zlib";
import { createHash } from "node:crypto";
import { ChunkVerifier, ChunkVerifyError, CoreError, GzipStreamInflater, Inflater } from "../../src/core/index.js";
import { nodeCore } from "../../src/node/core.js";
import { nodeSha256 } from "../../src/node/chunk.js";
import { BitWriter, Code, writeDynamicHeader } from "../helpers/deflate-craft.js";
import { fc, fuzz, mutate, mutationArb, sameBytes } from "../helpers/fuzz.js";

const core = nodeCore();
const inflater = new Inflater(core);
const verifiers = [new ChunkVerifier(core, { hash: "wasm" }), new ChunkVerifier(core, { hostHash: nodeSha256, hash: "host" })];
/** Largest output either side produces for one input (mutations can make a member expand a lot). */
const CAP = 4 << 20;

const known = Buffer.from("a known member: ".repeat(500) + "the end");
const knownGz = zlib.gzipSync(known, { level: 6 });

/** Our one-shot inflater and the chunk verifiers still decode the known member (no damage after a failure). */
function undamaged(): void {
  assert.ok(sameBytes(inflater.inflate(knownGz, known.length), known), "the inflater decodes a known member after the case");
  const digest = createHash("sha256").update(known).digest();
  for (const v of verifiers) assert.ok(sameBytes(v.verify(knownGz, 0, known.length, digest), known), "the verifier decodes a known member after the case");
}

type Outcome = { ok: true; bytes: Buffer } | { ok: false; why: string };

function zlibRun(f: () => Buffer): Outcome {
  try {
    return { ok: true, bytes: f() };
  } catch (err) {
    return { ok: false, why: (err as Error).message };
  }
}

/** Our one-shot inflater on `input`: the first member's bytes and its length, or the error. */
function oneShot(input: Uint8Array, raw: boolean): Outcome & { consumed?: number; overflow?: boolean } {
  try {
    const out = Buffer.from(inflater.inflate(input, CAP, { raw, allowPartial: true }));
    if (!inflater.complete) return { ok: false, why: "more than CAP bytes", overflow: true };
    return { ok: true, bytes: out, consumed: inflater.consumed };
  } catch (err) {
    if (!(err instanceof CoreError)) throw err;
    assert.ok(err.position >= 0 && err.position <= input.length, `error position ${err.position} inside the input (${err.message})`);
    return { ok: false, why: err.message };
  }
}

const describe = (o: Outcome) => (o.ok ? `accepted (${o.bytes.length} bytes)` : `refused (${o.why})`);

/** The one-shot inflater against zlib on one gzip member (`input` cut where our member ended). */
function checkGzipOneShot(input: Uint8Array): void {
  const ours = oneShot(input, false);
  if (ours.ok) {
    const theirs = zlibRun(() => zlib.gunzipSync(input.subarray(0, ours.consumed), { maxOutputLength: CAP }));
    assert.ok(theirs.ok, `zlib refuses the member we accepted: ${describe(theirs)}`);
    assert.ok(theirs.ok && theirs.bytes.equals(ours.bytes), "same bytes as zlib");
  } else if (!ours.overflow) {
    const theirs = zlibRun(() => zlib.gunzipSync(input, { maxOutputLength: CAP }));
    assert.not.ok(theirs.ok, `zlib accepts what we refused (${ours.why})`);
  }
}

/** The one-shot raw inflater against zlib's inflateRaw (which ignores what follows the last block, as ours does). */
function checkRawOneShot(input: Uint8Array): void {
  const ours = oneShot(input, true);
  if (ours.overflow) return;
  const theirs = zlibRun(() => zlib.inflateRawSync(input, { maxOutputLength: CAP }));
  assert.is(ours.ok, theirs.ok, `ours ${describe(ours)}, zlib ${describe(theirs)}`);
  if (ours.ok && theirs.ok) assert.ok(theirs.bytes.equals(ours.bytes), "same bytes as zlib");
}

/** The streaming inflater fed in `pieces`-sized steps; afterwards the same instance, reset, decodes the known member. */
function stream(input: Uint8Array, raw: boolean, pieces: number[], outputChunk: number): Outcome & { position?: number; partial?: Buffer } {
  let out: Buffer[] = [];
  let total = 0;
  const s = new GzipStreamInflater(core, {
    raw, inputBytes: 4096, outputChunk,
    onData: (v) => {
      total += v.length;
      if (total > CAP) throw new Error("more than CAP bytes");
      out.push(Buffer.from(v));
    },
  });
  try {
    let at = 0;
    for (let i = 0; at < input.length && !s.done; i++) {
      const n = Math.max(1, pieces[i % pieces.length]);
      s.push(input.subarray(at, at + n));
      at += n;
    }
    s.finish();
    return { ok: true, bytes: Buffer.concat(out) };
  } catch (err) {
    if (!(err instanceof CoreError)) return { ok: false, why: (err as Error).message };
    assert.ok(err.position >= 0 && err.position <= input.length, `stream error position ${err.position} inside the input`);
    return { ok: false, why: err.message, position: err.position, partial: Buffer.concat(out) };
  } finally {
    if (!raw) {
      s.reset();
      out = [];
      total = 0;
      s.push(knownGz);
      s.finish();
      assert.ok(Buffer.concat(out).equals(known), "the stream inflater, reset, decodes the known member after the case");
    }
    s.dispose();
  }
}

/** The streaming inflater against zlib on the whole input. */
function checkStream(input: Uint8Array, raw: boolean, pieces: number[], outputChunk: number): void {
  const ours = stream(input, raw, pieces, outputChunk);
  if (!ours.ok && ours.why === "more than CAP bytes") return;
  const theirs = zlibRun(() => (raw ? zlib.inflateRawSync : zlib.gunzipSync)(input, { maxOutputLength: CAP }));
  if (!raw && input.length === 0) {
    assert.ok(ours.ok && ours.bytes.length === 0, "an empty stream is zero members"); // zlib: "unexpected end of file"
    return;
  }
  if (!raw && theirs.ok && !ours.ok && ours.position !== undefined && input[ours.position] === 0 && ours.partial!.equals(theirs.bytes)) {
    return; // node:zlib stops at a zero byte after a member and ignores the rest; we refuse bytes that are not a member
  }
  assert.is(ours.ok, theirs.ok, `stream: ours ${describe(ours)}, zlib ${describe(theirs)}`);
  if (ours.ok && theirs.ok) assert.ok(theirs.bytes.equals(ours.bytes), "stream: same bytes as zlib");
}

/** The chunk verifiers on a (maybe damaged) member: the true chunk or a ChunkVerifyError. */
function checkVerifier(member: Uint8Array, truth: Uint8Array, inner: number, size: number): void {
  const digest = createHash("sha256").update(truth.subarray(inner, inner + size)).digest();
  for (const v of verifiers) {
    try {
      const got = v.verify(member, inner, size, digest);
      assert.ok(sameBytes(got, truth.subarray(inner, inner + size)), "a verified chunk is the true chunk");
    } catch (err) {
      if (!(err instanceof ChunkVerifyError)) throw err;
    }
  }
}

// Payloads that exercise every code path: random bytes, text, runs, short periods, mixtures.
const payloadArb = fc.oneof(
  fc.uint8Array({ maxLength: 3000 }),
  fc.tuple(fc.constantFrom("text", "runs", "period"), fc.integer({ min: 0, max: 70_000 }), fc.integer()).map(([kind, n, seed]) => {
    const out = Buffer.alloc(n);
    let x = seed | 1;
    const r = () => ((x = (x * 1103515245 + 12345) | 0) >>> 8) & 0xff;
    const words = ["layer ", "chunk ", "gzip ", "member ", "\n", "digest ", "toc "];
    for (let i = 0; i < n; ) {
      if (kind === "text") for (const c of Buffer.from(words[r() % words.length])) { if (i < n) out[i++] = c; }
      else if (kind === "runs") for (let k = r() + 1, b = r(); k > 0 && i < n; k--) out[i++] = b;
      else for (let p = 2 + (r() % 6), k = 10 + r(); k > 0 && i < n; k--) out[i++] = (i % p) * 37 + (r() < 3 ? r() : 0);
    }
    return new Uint8Array(out);
  }),
);
const zopts = fc.record({
  level: fc.integer({ min: 0, max: 9 }),
  strategy: fc.constantFrom(zlib.constants.Z_DEFAULT_STRATEGY, zlib.constants.Z_FILTERED, zlib.constants.Z_HUFFMAN_ONLY, zlib.constants.Z_RLE, zlib.constants.Z_FIXED),
  memLevel: fc.integer({ min: 1, max: 9 }),
  windowBits: fc.integer({ min: 9, max: 15 }),
});
const piecesArb = fc.array(fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 70_000 })), { minLength: 1, maxLength: 6 });
const outputChunkArb = fc.constantFrom(1024, 32768, 262144);

test("zlib's members, mutated: one-shot and streaming accept exactly what zlib accepts, with the same bytes", async () => {
  await fuzz("inflate/mutated-gzip", [payloadArb, zopts, fc.option(mutationArb(), { freq: 5 }), piecesArb, outputChunkArb, fc.boolean()],
    (payload, o, muts, pieces, outputChunk, twoMembers) => {
      const member = zlib.gzipSync(payload, o);
      const whole = twoMembers ? Buffer.concat([member, zlib.gzipSync(payload.subarray(0, 100))]) : member;
      const input = muts ? mutate(whole, muts) : whole;
      checkGzipOneShot(input);
      checkStream(input, false, pieces, outputChunk);
      const inner = Math.floor(payload.length / 3);
      checkVerifier(input, payload, inner, Math.min(payload.length - inner, 5000));
      undamaged();
    }, { runs: 250 });
});

test("raw DEFLATE from zlib, mutated: the raw inflaters against zlib's inflateRaw", async () => {
  await fuzz("inflate/mutated-raw", [payloadArb, zopts, mutationArb(), piecesArb, outputChunkArb], (payload, o, muts, pieces, outputChunk) => {
    const input = mutate(zlib.deflateRawSync(payload, o), muts);
    checkRawOneShot(input);
    checkStream(input, true, pieces, outputChunk);
    undamaged();
  }, { runs: 250 });
});

// Crafted dynamic blocks: a complete Huffman code grown by random leaf splits, then perhaps made
// incomplete (a leaf dropped) or over-subscribed (one added), over random symbols; then random
// literals, lengths and distances (with random extra bits), an end-of-block or not.
const LEN_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];

function codeLengths(splits: number[], symbols: number[], change: "none" | "drop" | "add", size: number): number[] {
  const depths = [1, 1];
  for (const s of splits) {
    const i = s % depths.length;
    if (depths[i] >= 15) continue;
    const d = depths[i] + 1;
    depths.splice(i, 1, d, d);
  }
  if (change === "drop" && depths.length > 1) depths.pop();
  if (change === "add") depths.push(Math.min(15, 1 + (splits[0] ?? 0) % 15));
  const lens = new Array(size).fill(0);
  const free = Array.from({ length: size }, (_, i) => i);
  depths.forEach((d, k) => {
    if (free.length === 0) return;
    const sym = free.splice((symbols[k % symbols.length] ?? k) % free.length, 1)[0];
    lens[sym] = d;
  });
  return lens;
}

const codeArb = (size: number) => fc.record({
  splits: fc.array(fc.nat(), { maxLength: 40 }),
  symbols: fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
  change: fc.constantFrom("none", "none", "drop", "add"),
}).map(({ splits, symbols, change }) => codeLengths(splits, symbols, change as "none" | "drop" | "add", size));

const mostlyTrue = fc.constantFrom(true, true, true, true, false);
const craftedArb = fc.record({
  lit: codeArb(286),
  litWithEob: mostlyTrue,
  dist: codeArb(30),
  body: fc.array(fc.record({ sym: fc.nat(), dist: fc.nat(), extra: fc.nat() }), { maxLength: 60 }),
  end: mostlyTrue,
  final: mostlyTrue,
  tail: fc.uint8Array({ maxLength: 8 }),
});

type Crafted = typeof craftedArb extends fc.Arbitrary<infer T> ? T : never;

function craft(c: Crafted): Uint8Array {
  const lit = c.lit.slice();
  if (c.litWithEob && lit[256] === 0) {
    // give the end-of-block symbol one of the code's lengths (the code stays as complete as it was)
    const s = lit.findIndex((l) => l > 0);
    if (s >= 0) [lit[256], lit[s]] = [lit[s], 0];
  }
  let hlit = 286;
  while (hlit > 257 && lit[hlit - 1] === 0) hlit--;
  let hdist = 30;
  while (hdist > 1 && c.dist[hdist - 1] === 0) hdist--;
  const w = new BitWriter();
  writeDynamicHeader(w, { final: c.final, litLens: lit.slice(0, hlit), distLens: c.dist.slice(0, hdist) });
  const litCode = new Code(lit.slice(0, hlit));
  const distCode = new Code(c.dist.slice(0, hdist));
  const litSyms = lit.map((l, s) => (l && s !== 256 ? s : -1)).filter((s) => s >= 0);
  const distSyms = c.dist.map((l, s) => (l ? s : -1)).filter((s) => s >= 0);
  for (const step of c.body) {
    if (litSyms.length === 0) break;
    const sym = litSyms[step.sym % litSyms.length];
    litCode.put(w, sym);
    if (sym > 256) {
      const e = LEN_EXTRA[sym - 257] ?? 0;
      w.bits(step.extra & ((1 << e) - 1), e);
      if (distSyms.length === 0) break;
      const d = distSyms[step.dist % distSyms.length];
      distCode.put(w, d);
      const de = DIST_EXTRA[d] ?? 0;
      w.bits(step.extra & ((1 << de) - 1), de);
    }
  }
  if (c.end && lit[256]) litCode.put(w, 256);
  return Uint8Array.from([...w.finish(), ...c.tail]);
}

test("crafted DEFLATE (random Huffman codes and symbols): the raw inflaters against zlib", async () => {
  await fuzz("inflate/crafted", [craftedArb, piecesArb, outputChunkArb], (c, pieces, outputChunk) => {
    const input = craft(c);
    checkRawOneShot(input);
    checkStream(input, true, pieces, outputChunk);
    undamaged();
  }, { runs: 400 });
});

test("random bytes (behind a gzip header or raw): the inflaters against zlib", async () => {
  await fuzz("inflate/random", [fc.uint8Array({ maxLength: 600 }), fc.constantFrom("raw", "gzip"), piecesArb], (bytes, kind, pieces) => {
    if (kind === "raw") {
      checkRawOneShot(bytes);
      checkStream(bytes, true, pieces, 1024);
    } else {
      const input = Uint8Array.from([0x1f, 0x8b, 8, (bytes[0] ?? 0) & 0x1f, 0, 0, 0, 0, 0, 0xff, ...bytes.subarray(1)]);
      checkGzipOneShot(input);
      checkStream(input, false, pieces, 1024);
    }
    undamaged();
  }, { runs: 400 });
});

test.run();
