// Fuzzing the registry client's parsers of what a registry sends (src/registry/): manifests and
// indexes (valid ones built at random, mutated bytes, random JSON in their fields), multipart/
// byteranges bodies (random parts, boundaries, extra headers, preamble and epilogue, any piece
// sizes; mutated and truncated bodies), Content-Range values, and WWW-Authenticate challenges
// (random challenge lists formatted and parsed back; random header text). Each either gives its
// result, with the invariants the callers rely on, or fails with a RegistryError; nothing else.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseChallenges } from "../../src/registry/auth.js";
import { RegistryError } from "../../src/registry/errors.js";
import { isDigest } from "../../src/registry/reference.js";
import { MediaType, parseManifest } from "../../src/registry/manifest.js";
import { byterangesBoundary, MultipartSink } from "../../src/registry/multipart.js";
import { parseContentRange, RangeWriter } from "../../src/registry/ranges.js";
import { fc, fuzz, mutate, mutationArb, sameBytes } from "../helpers/fuzz.js";

const enc = new TextEncoder();

/** Runs `f`; a RegistryError is an accepted outcome (returned), anything else thrown is a failure. */
function orRegistryError<T>(f: () => T): T | RegistryError {
  try {
    return f();
  } catch (err) {
    if (err instanceof RegistryError) return err;
    throw err;
  }
}

// ---- manifests

const hexArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => "sha256:" + Buffer.from(b).toString("hex"));
const descriptorArb = fc.record({
  mediaType: fc.constantFrom(MediaType.ociLayerGzip, MediaType.dockerLayerGzip, MediaType.ociConfig, MediaType.ociManifest, "application/x-unknown"),
  digest: hexArb,
  size: fc.nat(),
  annotations: fc.option(fc.dictionary(fc.string({ maxLength: 20 }), fc.string({ maxLength: 40 }), { maxKeys: 3 }), { nil: undefined }),
  platform: fc.option(fc.record({ os: fc.constantFrom("linux", "windows"), architecture: fc.constantFrom("amd64", "arm64", "arm") }), { nil: undefined }),
}, { requiredKeys: ["mediaType", "digest", "size"] });
const manifestArb = fc.oneof(
  fc.record({
    schemaVersion: fc.constant(2),
    mediaType: fc.constantFrom(MediaType.ociManifest, MediaType.dockerManifest, undefined),
    config: descriptorArb,
    layers: fc.array(descriptorArb, { maxLength: 6 }),
  }, { requiredKeys: ["schemaVersion", "config", "layers"] }),
  fc.record({
    schemaVersion: fc.constant(2),
    mediaType: fc.constantFrom(MediaType.ociIndex, MediaType.dockerManifestList, undefined),
    manifests: fc.array(descriptorArb, { maxLength: 6 }),
  }, { requiredKeys: ["schemaVersion", "manifests"] }),
);
/** A manifest with one field replaced by any JSON value. */
const tamperedArb = fc.tuple(manifestArb, fc.constantFrom("schemaVersion", "mediaType", "config", "layers", "manifests", "layers.0", "manifests.0", "layers.0.size", "layers.0.digest", "config.digest", "config.size"), fc.jsonValue())
  .map(([m, path, value]) => {
    const copy = JSON.parse(JSON.stringify(m));
    const keys = path.split(".");
    let o = copy;
    for (const k of keys.slice(0, -1)) o = o?.[k];
    if (o && typeof o === "object") o[keys[keys.length - 1]] = value;
    return copy;
  });

const descriptorOk = (d: { mediaType: unknown; digest: unknown; size: unknown }) =>
  typeof d.mediaType === "string" && typeof d.digest === "string" && isDigest(d.digest) && Number.isSafeInteger(d.size) && (d.size as number) >= 0;

function checkManifest(bytes: Uint8Array, contentType: string | undefined): void {
  const r = orRegistryError(() => parseManifest(bytes, contentType));
  if (r instanceof RegistryError) {
    assert.is(r.code, "protocol");
    return;
  }
  if (r.kind === "manifest") {
    assert.ok(descriptorOk(r.manifest.config), "the config descriptor is valid");
    assert.ok(Array.isArray(r.manifest.layers) && r.manifest.layers.every(descriptorOk), "every layer descriptor is valid");
  } else {
    assert.ok(Array.isArray(r.index.manifests) && r.index.manifests.every(descriptorOk), "every index entry is valid");
  }
}

test("manifests and indexes: valid ones parse; tampered fields, mutated bytes and random JSON give a protocol error or valid descriptors", async () => {
  const ct = fc.constantFrom(undefined, MediaType.ociManifest, MediaType.ociIndex, "text/plain; charset=utf-8");
  await fuzz("registry/manifest", [manifestArb, tamperedArb, mutationArb(), fc.jsonValue(), ct], (m, tampered, muts, random, contentType) => {
    const good = enc.encode(JSON.stringify(m));
    // (a Content-Type speaks only for a body that does not name its media type itself)
    const r = parseManifest(good, m.mediaType ? contentType : undefined);
    assert.is(r.kind, "manifests" in m ? "index" : "manifest", "a valid manifest parses as what it is");
    checkManifest(enc.encode(JSON.stringify(tampered)), contentType);
    checkManifest(mutate(good, muts), contentType);
    checkManifest(enc.encode(JSON.stringify(random)), contentType);
  }, { runs: 400 });
});

// ---- multipart/byteranges

/** Sorted, non-overlapping ranges of a blob of `size` bytes, from random cut points. */
function rangesOf(size: number, cuts: number[]): Array<[number, number]> {
  const points = [...new Set(cuts.map((c) => c % (size + 1)))].sort((a, b) => a - b);
  const out: Array<[number, number]> = [];
  for (let i = 0; i + 1 < points.length; i += 2) if (points[i + 1] > points[i]) out.push([points[i], points[i + 1] - 1]);
  return out;
}

const boundaryArb = fc.stringMatching(/^[A-Za-z0-9_'()+,.:=?-]{1,40}$/);
const multipartArb = fc.record({
  size: fc.integer({ min: 1, max: 6000 }),
  cuts: fc.array(fc.nat(), { minLength: 2, maxLength: 12 }),
  boundary: boundaryArb,
  quoted: fc.boolean(),
  preamble: fc.constantFrom("", "\r\n", "preamble text\r\n"),
  epilogue: fc.constantFrom("", "\r\n", "epilogue"),
  headerCase: fc.constantFrom("Content-Range", "content-range", "CONTENT-RANGE"),
  extra: fc.constantFrom("", "Content-Type: application/octet-stream\r\n", "X-Part: a:b:c\r\n"),
  star: fc.boolean(),
  pieces: fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 5 }),
  seed: fc.integer(),
});
type Multipart = typeof multipartArb extends fc.Arbitrary<infer T> ? T : never;

function buildMultipart(p: Multipart): { blob: Uint8Array; body: Uint8Array; parts: Array<[number, number]>; contentType: string } {
  const blob = new Uint8Array(p.size).map((_, i) => (i * 131 + p.seed) & 255);
  const parts = rangesOf(p.size, p.cuts);
  const chunks: Uint8Array[] = [enc.encode(p.preamble)];
  for (const [a, b] of parts) {
    chunks.push(enc.encode(`\r\n--${p.boundary}\r\n${p.extra}${p.headerCase}: bytes ${a}-${b}/${p.star ? "*" : p.size}\r\n\r\n`), blob.subarray(a, b + 1));
  }
  chunks.push(enc.encode(`\r\n--${p.boundary}--\r\n${p.epilogue}`));
  const contentType = `multipart/byteranges; boundary=${p.quoted ? `"${p.boundary}"` : p.boundary}`;
  return { blob, body: Buffer.concat(chunks), parts, contentType };
}

/** Feeds `body` in pieces; the targets' bytes, or the RegistryError. */
function feed(body: Uint8Array, boundary: string, size: number, targets: Array<{ offset: number; length: number; into: Uint8Array }>, pieces: number[]): RangeWriter | RegistryError {
  const w = new RangeWriter(targets);
  return orRegistryError(() => {
    const sink = new MultipartSink(boundary, w, size, () => "(fuzz)");
    for (let at = 0, i = 0; at < body.length; i++) {
      const n = pieces[i % pieces.length];
      sink.data(body.subarray(at, at + n));
      at += n;
    }
    sink.end();
    return w;
  });
}

test("multipart/byteranges: any parts, boundaries and piece sizes fill the asked ranges exactly; mutated bodies a RegistryError or bytes", async () => {
  await fuzz("registry/multipart", [multipartArb, mutationArb(), fc.array(fc.nat(), { minLength: 1, maxLength: 4 })], (p, muts, pick) => {
    const { blob, body, parts, contentType } = buildMultipart(p);
    if (parts.length === 0) return;
    assert.is(byterangesBoundary(contentType), p.boundary, "the boundary read from the Content-Type");
    // ask for pieces of the parts (what the fetcher asks for lies inside what the registry sends)
    const targets = pick.map((k) => {
      const [a, b] = parts[k % parts.length];
      const off = a + (k % (b - a + 1));
      const length = 1 + ((k >> 3) % (b - off + 1));
      return { offset: off, length, into: new Uint8Array(length) };
    });
    const w = feed(body, p.boundary, p.size, targets, p.pieces);
    if (w instanceof RegistryError) throw new Error(`a well-formed body refused: ${w.message}`);
    assert.ok(w.complete(), "every asked range filled");
    for (const t of targets) assert.ok(sameBytes(t.into, blob.subarray(t.offset, t.offset + t.length)), `bytes ${t.offset}+${t.length} exactly`);
    // the same body damaged: a RegistryError or some bytes, never another exception, never a hang
    const again = targets.map((t) => ({ ...t, into: new Uint8Array(t.length) }));
    feed(mutate(body, muts), p.boundary, p.size, again, p.pieces);
    // truncated anywhere inside the parts: refused
    const cut = Math.floor((pick[0] / 2 ** 31) * body.length);
    const lastBodyByte = body.length - enc.encode(`\r\n--${p.boundary}--\r\n${p.epilogue}`).length;
    if (cut < lastBodyByte) assert.ok(feed(body.subarray(0, cut), p.boundary, p.size, again, p.pieces) instanceof RegistryError, `truncated at ${cut} of ${body.length}: refused`);
  }, { runs: 400 });
});

// ---- Content-Range

test("Content-Range: a range inside its blob, in safe integers, or nothing", async () => {
  const digits = fc.oneof(fc.nat().map(String), fc.stringMatching(/^[0-9]{1,25}$/), fc.constantFrom("9007199254740993", "18446744073709551616"));
  const value = fc.oneof(
    fc.tuple(fc.constantFrom("bytes", "BYTES", " bytes"), digits, digits, fc.oneof(digits, fc.constant("*")), fc.constantFrom("", " ", "\t"))
      .map(([u, a, b, t, ws]) => `${u} ${a}-${b}/${t}${ws}`),
    fc.string({ maxLength: 40 }),
  );
  await fuzz("registry/content-range", [value], (v) => {
    const r = parseContentRange(v);
    if (!r) return;
    assert.ok(Number.isSafeInteger(r.start) && Number.isSafeInteger(r.end) && r.start >= 0 && r.start <= r.end, `start ${r.start} ≤ end ${r.end}, safe integers (${JSON.stringify(v)})`);
    if (r.total !== undefined) assert.ok(Number.isSafeInteger(r.total) && r.end < r.total, `end ${r.end} inside the total ${r.total} (${JSON.stringify(v)})`);
  }, { runs: 1000 });
});

// ---- WWW-Authenticate

const tokenArb = fc.stringMatching(/^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,15}$/);
const valueArb = fc.string({ maxLength: 30 }).filter((s) => !/[\r\n]/.test(s));
const challengeArb = fc.record({
  scheme: tokenArb,
  params: fc.uniqueArray(fc.tuple(tokenArb, valueArb, fc.boolean()), { maxLength: 4, selector: ([k]) => k.toLowerCase() }),
});

test("WWW-Authenticate: challenge lists parse back to their schemes and parameters; any header text parses without throwing", async () => {
  await fuzz("registry/challenges", [fc.array(challengeArb, { minLength: 1, maxLength: 3 }), fc.boolean(), fc.string({ maxLength: 200 })], (list, asArray, junk) => {
    const written = list.map((c) => {
      const params = c.params.map(([k, v, quote]) => `${k}=${quote || !/^[^,\s"\\]+$/.test(v) ? `"${v.replace(/["\\]/g, (ch) => "\\" + ch)}"` : v}`);
      return params.length ? `${c.scheme} ${params.join(", ")}` : c.scheme;
    });
    const parsed = parseChallenges(asArray ? written : written.join(", "));
    assert.equal(parsed, list.map((c) => ({ scheme: c.scheme.toLowerCase(), params: Object.fromEntries(c.params.map(([k, v]) => [k.toLowerCase(), v])) })));
    for (const c of parseChallenges(junk)) assert.ok(typeof c.scheme === "string" && c.scheme.length > 0);
  }, { runs: 600 });
});

test.run();
