// Fuzzing the footer parser (src/estargz/footer.ts): footers built for any TOC offset parse back to
// it; mutated footers and random tails either fail with an EStargzError("footer") or parse to a
// footer that re-encodes to exactly the bytes given (no other bytes accepted as a footer), with its
// TOC offset inside the blob's data. Nothing else is thrown.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { buildFooter, buildLegacyFooter, FOOTER_SIZE, parseFooter, type Footer } from "../../src/estargz/footer.js";
import { EStargzError } from "../../src/estargz/errors.js";
import { fc, fuzz, mutate, mutationArb } from "../helpers/fuzz.js";

/** parseFooter, or the EStargzError it threw (anything else is a failure of the property). */
function parse(tail: Uint8Array, blobSize: number): Footer | EStargzError {
  try {
    return parseFooter(tail, blobSize, "fuzz");
  } catch (err) {
    if (err instanceof EStargzError && err.code === "footer") return err;
    throw err;
  }
}

/**
 * An accepted footer must be the footer of its TOC offset, byte for byte: hex digits in any case, and
 * any gzip MTIME, XFL and OS (bytes 4-9, which say nothing about the TOC; Go's reader ignores them too).
 */
function checkAccepted(f: Footer, tail: Uint8Array, blobSize: number): void {
  assert.ok(Number.isSafeInteger(f.tocOffset) && f.tocOffset >= 0 && f.tocOffset < blobSize - f.size, `TOC offset ${f.tocOffset} inside the data of ${blobSize} bytes`);
  const want = (f.legacy ? buildLegacyFooter : buildFooter)(f.tocOffset);
  const got = Uint8Array.from(tail.subarray(tail.length - f.size));
  const hexAt = f.legacy ? 12 : 16;
  for (let i = hexAt; i < hexAt + 16; i++) if (got[i] >= 0x41 && got[i] <= 0x46) got[i] += 0x20; // A-F → a-f
  got.set(want.subarray(4, 10), 4);
  assert.equal([...got], [...want], "accepted footer bytes are exactly a footer's");
}

const offsetArb = fc.oneof(fc.nat({ max: 1 << 20 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER - (1 << 21) }));

test("footers of any TOC offset parse back to it, eStargz and legacy, whatever precedes them", async () => {
  await fuzz("footer/roundtrip", [offsetArb, fc.boolean(), fc.uint8Array({ maxLength: 64 }), fc.nat({ max: 1 << 20 })], (off, legacy, before, extra) => {
    const footer = (legacy ? buildLegacyFooter : buildFooter)(off);
    const tail = Uint8Array.from([...before, ...footer]);
    const blobSize = Math.min(off + footer.length + 1 + extra, Number.MAX_SAFE_INTEGER);
    const r = parse(tail, Math.max(blobSize, tail.length));
    if (r instanceof EStargzError) throw new Error(`valid footer for ${off} refused: ${r.message}`);
    assert.is(r.tocOffset, off);
    // an eStargz footer's last 47 bytes are not a legacy footer, so the kind is always the one built
    assert.is(r.legacy, legacy);
    checkAccepted(r, tail, Math.max(blobSize, tail.length));
  }, { runs: 300 });
});

test("mutated footers: refused with a footer error, or exactly the footer of what they now say", async () => {
  await fuzz("footer/mutated", [offsetArb, fc.boolean(), mutationArb(), fc.nat({ max: 1 << 24 })], (off, legacy, muts, size) => {
    const tail = mutate((legacy ? buildLegacyFooter : buildFooter)(off), muts);
    const blobSize = Math.max(tail.length, size);
    const r = parse(tail, blobSize);
    if (!(r instanceof EStargzError)) checkAccepted(r, tail, blobSize);
  }, { runs: 1000 });
});

test("random tails and sizes: a footer error or a valid footer, nothing else", async () => {
  await fuzz("footer/random", [fc.uint8Array({ maxLength: 2 * FOOTER_SIZE }), fc.oneof(fc.nat({ max: 200 }), fc.nat())], (tail, size) => {
    const r = parse(tail, size);
    if (!(r instanceof EStargzError)) checkAccepted(r, tail, size);
  }, { runs: 500 });
});

test.run();
