// The footer: an empty gzip member at the end of the blob whose Extra field holds the TOC's offset.
// eStargz (51 bytes): Extra = subfield 'S''G', LEN 22, "%016xSTARGZ". Legacy stargz/CRFS (47 bytes):
// Extra = the 22 bytes "%016xSTARGZ" without a subfield header. Readers try eStargz, then legacy.
import { EStargzError } from "./errors.js";
import type { Source } from "./source.js";

export const FOOTER_SIZE = 51;
export const LEGACY_FOOTER_SIZE = 47;

export interface Footer {
  /** Offset in the blob of the gzip member holding the TOC (its tar header). */
  tocOffset: number;
  /** 51 for eStargz, 47 for the legacy footer. */
  size: number;
  legacy: boolean;
}

// gzip header: magic, CM=deflate, FLG=FEXTRA, MTIME=0, XFL=0, OS=255 (as Go's gzip.Writer writes it).
const HEADER = [0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff];
// deflate: one final stored block of length 0; then CRC32 = 0 and ISIZE = 0 of the empty payload.
const EMPTY_BODY = [0x01, 0x00, 0x00, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0];
const MAGIC = "STARGZ";

function payload(tocOffset: number): Uint8Array {
  if (!Number.isSafeInteger(tocOffset) || tocOffset < 0) throw new RangeError(`invalid TOC offset ${tocOffset}`);
  return new TextEncoder().encode(tocOffset.toString(16).padStart(16, "0") + MAGIC);
}

/** The 51-byte eStargz footer pointing at `tocOffset`. */
export function buildFooter(tocOffset: number): Uint8Array {
  const out = new Uint8Array(FOOTER_SIZE);
  out.set(HEADER, 0);
  out.set([26, 0, 0x53, 0x47, 22, 0], 10); // XLEN=26, SI1='S', SI2='G', LEN=22
  out.set(payload(tocOffset), 16);
  out.set(EMPTY_BODY, 38);
  return out;
}

/** The 47-byte legacy stargz footer pointing at `tocOffset`. */
export function buildLegacyFooter(tocOffset: number): Uint8Array {
  const out = new Uint8Array(LEGACY_FOOTER_SIZE);
  out.set(HEADER, 0);
  out.set([22, 0], 10); // XLEN=22
  out.set(payload(tocOffset), 12);
  out.set(EMPTY_BODY, 34);
  return out;
}

/** Why `bytes` (exactly one footer's length) is not a footer of that kind, or its TOC offset. */
function tryParse(bytes: Uint8Array, legacy: boolean): number | string {
  for (let i = 0; i < 3; i++) if (bytes[i] !== HEADER[i]) return "no gzip header";
  if (bytes[3] !== 0x04) return `gzip flags are 0x${bytes[3].toString(16)}, expected FEXTRA only (0x04)`;
  const xlen = bytes[10] | (bytes[11] << 8);
  let p = 12;
  if (legacy) {
    if (xlen !== 22) return `extra field length ${xlen}, expected 22`;
  } else {
    if (xlen !== 26) return `extra field length ${xlen}, expected 26`;
    if (bytes[12] !== 0x53 || bytes[13] !== 0x47) return "extra subfield is not 'SG'";
    const len = bytes[14] | (bytes[15] << 8);
    if (len !== 22) return `'SG' subfield length ${len}, expected 22`;
    p = 16;
  }
  const text = String.fromCharCode(...bytes.subarray(p, p + 22));
  if (!text.endsWith(MAGIC)) return "extra field does not end in STARGZ";
  const hex = text.slice(0, 16);
  if (!/^[0-9a-fA-F]{16}$/.test(hex)) return `TOC offset ${JSON.stringify(hex)} is not 16 hex digits`;
  const body = bytes.subarray(p + 22);
  for (let i = 0; i < EMPTY_BODY.length; i++) {
    if (body[i] !== EMPTY_BODY[i]) return "footer's gzip member is not an empty stored block with zero CRC and size";
  }
  const offset = parseInt(hex, 16);
  if (!Number.isSafeInteger(offset)) return `TOC offset 0x${hex} is beyond 2^53`;
  return offset;
}

/**
 * Parses the footer from the blob's tail (the last min(51, size) bytes or more) and checks that the
 * TOC offset points inside the blob, before the footer. `name` is used in error messages.
 */
export function parseFooter(tail: Uint8Array, blobSize: number, name?: string): Footer {
  if (blobSize < LEGACY_FOOTER_SIZE || tail.length < LEGACY_FOOTER_SIZE) {
    throw new EStargzError("footer", `blob of ${blobSize} bytes is too small for a footer (at least ${LEGACY_FOOTER_SIZE})`, name);
  }
  const reasons: string[] = [];
  for (const legacy of [false, true]) {
    const size = legacy ? LEGACY_FOOTER_SIZE : FOOTER_SIZE;
    if (tail.length < size || blobSize < size) {
      reasons.push(`blob too small for the ${size}-byte footer`);
      continue;
    }
    const r = tryParse(tail.subarray(tail.length - size), legacy);
    if (typeof r === "string") {
      reasons.push(`${legacy ? "legacy" : "eStargz"} footer: ${r}`);
      continue;
    }
    const footerStart = blobSize - size;
    if (r >= footerStart) {
      throw new EStargzError(
        "footer",
        `footer points to a TOC at offset ${r}, outside the blob's data (the ${size}-byte footer starts at ${footerStart}, blob size ${blobSize})`,
        name,
      );
    }
    return { tocOffset: r, size, legacy };
  }
  throw new EStargzError("footer", `no eStargz footer found (${reasons.join("; ")})`, name);
}

/** Reads the last 51 bytes (or fewer for a tiny blob) of `source` and parses its footer. */
export async function readFooter(source: Source): Promise<Footer> {
  const n = Math.min(FOOTER_SIZE, source.size);
  const tail = await source.read(source.size - n, n);
  return parseFooter(tail, source.size, source.name);
}
