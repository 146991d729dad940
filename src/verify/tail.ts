// The small read before the big one: the footer and the TOC member from the blob's tail, so the
// one sequential pass knows what to expect. Each failure is attributed to the check it belongs to.
import { createHash } from "node:crypto";
import { EStargzError } from "../estargz/errors.js";
import { FOOTER_SIZE, parseFooter, type Footer } from "../estargz/footer.js";
import type { Source } from "../estargz/source.js";
import { StreamInput } from "../estargz/tar/input.js";
import { TarReader } from "../estargz/tar/reader.js";
import { TOC_TAR_NAME } from "../estargz/toc-json.js";
import { BlobInflater, GzipFailure } from "./members.js";
import { TocFailure, buildToc, type TocView } from "./toc-view.js";

/** A TOC member or TOC JSON bigger than this is refused (memory exhaustion). */
export const MAX_TOC_BYTES = 256 << 20;

export interface Tail {
  footer?: Footer;
  /** Why there is no usable footer. */
  footerError?: string;
  /** The TOC JSON bytes as stored, and their sha256. */
  tocJson?: Uint8Array;
  tocDigest?: string;
  /** Failure reading the TOC member (gzip or tar inside it), or a malformed TOC. */
  tocError?: { message: string; position?: number };
  toc?: TocView;
}

export async function readTail(blob: Source): Promise<Tail> {
  const n = Math.min(FOOTER_SIZE, blob.size);
  let footer: Footer;
  try {
    footer = parseFooter(await blob.read(blob.size - n, n), blob.size);
  } catch (err) {
    if (err instanceof EStargzError && err.code === "footer") return { footerError: err.message };
    throw err;
  }
  const tail: Tail = { footer };
  const memberLen = blob.size - footer.size - footer.tocOffset;
  if (memberLen > MAX_TOC_BYTES) {
    tail.tocError = { message: `TOC member of ${memberLen} bytes is over the ${MAX_TOC_BYTES}-byte limit` };
    return tail;
  }
  const compressed = await blob.read(footer.tocOffset, memberLen);
  const parts: Uint8Array[] = [];
  let total = 0;
  let inf: BlobInflater | undefined;
  try {
    inf = new BlobInflater({
      output(b) {
        total += b.length;
        if (total > MAX_TOC_BYTES + 4096) throw new GzipFailure(`TOC member inflates to over ${MAX_TOC_BYTES} bytes`, footer.tocOffset);
        parts.push(b.slice());
      },
      member() {},
    }, footer.tocOffset);
    inf.push(compressed);
    inf.end();
  } catch (err) {
    if (!(err instanceof GzipFailure)) throw err;
    tail.footerError = `the footer's TOC offset ${footer.tocOffset} does not lead to a valid gzip member up to the footer: ${err.message} at blob offset ${err.position}`;
    return tail;
  } finally {
    inf?.dispose();
  }
  let json: Uint8Array;
  try {
    async function* one() { yield* parts; }
    const tar = new TarReader(new StreamInput(one()));
    const e = await tar.next();
    if (!e || e.name !== TOC_TAR_NAME || e.type !== "reg") {
      tail.footerError = `the member at the footer's TOC offset ${footer.tocOffset} holds ${e ? `tar entry ${JSON.stringify(e.name)}` : "no tar entry"}, not ${TOC_TAR_NAME}`;
      return tail;
    }
    if (e.size > MAX_TOC_BYTES) {
      tail.tocError = { message: `TOC JSON of ${e.size} bytes is over the ${MAX_TOC_BYTES}-byte limit` };
      return tail;
    }
    json = (await tar.readPayload(e.size)).slice();
    const after = await tar.next();
    if (after) {
      tail.footerError = `the TOC member holds tar entry ${JSON.stringify(after.name)} after ${TOC_TAR_NAME}: the TOC must be the last entry`;
      return tail;
    }
  } catch (err) {
    if (!(err instanceof EStargzError)) throw err;
    tail.footerError = `the member at the footer's TOC offset ${footer.tocOffset} is not a tar entry of the TOC: ${err.message}`;
    return tail;
  }
  tail.tocJson = json;
  tail.tocDigest = "sha256:" + createHash("sha256").update(json).digest("hex");
  try {
    tail.toc = buildToc(json, footer.tocOffset);
  } catch (err) {
    if (!(err instanceof TocFailure)) throw err;
    tail.tocError = { message: err.message, position: err.position >= 0 ? err.position : undefined };
  }
  return tail;
}
