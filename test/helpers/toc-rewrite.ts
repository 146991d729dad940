// Rewrites the TOC of an eStargz blob (for reader tests): the data members of a real blob with a rewritten TOC (and a fresh
// footer), so a lying TOC can be given with a matching TOC digest.
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { checkBlob, type TocEntry } from "./esgz-check.js";

function tarHeader(name: string, size: number): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0);
  b.write("0000644\0", 100);
  b.write("0000000\0", 108);
  b.write("0000000\0", 116);
  b.write(size.toString(8).padStart(11, "0") + "\0", 124);
  b.write("00000000000\0", 136);
  b.write("0", 156);
  b.write("ustar\x0000", 257);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of b) sum += c;
  b.write(sum.toString(8).padStart(6, "0") + "\0 ", 148);
  return b;
}

export function footer(tocOffset: number): Buffer {
  const b = Buffer.alloc(51);
  Buffer.from([0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 26, 0, 0x53, 0x47, 22, 0]).copy(b, 0);
  b.write(tocOffset.toString(16).padStart(16, "0") + "STARGZ", 16, "latin1");
  Buffer.from([1, 0, 0, 0xff, 0xff]).copy(b, 38);
  return b;
}

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
