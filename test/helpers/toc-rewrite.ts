// Rewrites the TOC of an eStargz blob (for reader tests): the data members of a real blob with a rewritten TOC (and a fresh
// footer), so a lying TOC can be given with a matching TOC digest.
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { checkBlob, type TocEntry } from "./esgz-check.js";
import { footer, tarHeader } from "./esgz-tamper.js";

/** The blob's data members + a TOC member holding `json` + footer; and the new TOC digest. */
export function withTocJson(blob: Buffer, json: Buffer): { blob: Buffer; tocDigest: string } {
  const { tocOffset } = checkBlob(blob);
  const pad = (512 - (json.length % 512)) % 512;
  const member = gzipSync(Buffer.concat([tarHeader("stargz.index.json", json.length), json, Buffer.alloc(pad + 1024)]));
  return {
    blob: Buffer.concat([blob.subarray(0, tocOffset), member, footer(tocOffset)]),
    tocDigest: `sha256:${createHash("sha256").update(json).digest("hex")}`,
  };
}

export function withToc(blob: Buffer, mutate: (entries: TocEntry[]) => void): { blob: Buffer; tocDigest: string } {
  const toc = checkBlob(blob).toc;
  mutate(toc.entries);
  return withTocJson(blob, Buffer.from(JSON.stringify(toc, null, "\t")));
}
