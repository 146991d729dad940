// An independent check of an eStargz blob with node:zlib and node:crypto only (no code from
// src/estargz): footer → TOC member → TOC JSON; every reg/chunk entry's member inflates to bytes whose
// sha256 is its chunkDigest; files' chunks add up to their digest.
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";

export interface TocEntry {
  name: string;
  type: string;
  size?: number;
  offset?: number;
  innerOffset?: number;
  chunkOffset?: number;
  chunkSize?: number;
  chunkDigest?: string;
  digest?: string;
  [k: string]: unknown;
}

export interface CheckedBlob {
  tocOffset: number;
  tocJson: Buffer;
  toc: { version: number; entries: TocEntry[] };
  /** cleaned name → whole content, for every regular file with data */
  contents: Map<string, Buffer>;
}

const sha = (b: Uint8Array) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
export const clean = (n: string) => n.split("/").filter((s) => s && s !== ".").join("/");

export function checkBlob(blob: Buffer): CheckedBlob {
  const footer = blob.subarray(blob.length - 51);
  const extra = footer.subarray(16, 38).toString("latin1");
  if (footer[0] !== 0x1f || footer[1] !== 0x8b || footer.subarray(12, 14).toString() !== "SG" || !extra.endsWith("STARGZ")) {
    throw new Error("no eStargz footer");
  }
  const tocOffset = parseInt(extra.slice(0, 16), 16);
  const member = gunzipSync(blob.subarray(tocOffset, blob.length - 51));
  if (member.subarray(0, 17).toString() !== "stargz.index.json") throw new Error("TOC member does not start with stargz.index.json");
  const size = parseInt(member.subarray(124, 136).toString().replace(/\0.*$/, "").trim(), 8);
  const tocJson = member.subarray(512, 512 + size);
  const toc = JSON.parse(tocJson.toString());
  const offsets = [...new Set(toc.entries.filter((e: TocEntry) => e.offset).map((e: TocEntry) => e.offset!))].sort((a, b) => (a as number) - (b as number)) as number[];
  const nextOffset = (o: number) => offsets.find((x) => x > o) ?? tocOffset;
  const contents = new Map<string, Buffer>();
  const parts = new Map<string, Buffer[]>();
  const digests = new Map<string, string>();
  const sizes = new Map<string, number>();
  for (const e of toc.entries as TocEntry[]) {
    if (e.type === "reg") {
      digests.set(clean(e.name), e.digest!);
      sizes.set(clean(e.name), e.size ?? 0);
      parts.set(clean(e.name), []);
    }
    if ((e.type === "reg" && e.size) || e.type === "chunk") {
      const data = gunzipSync(blob.subarray(e.offset!, nextOffset(e.offset!)));
      const fileSize = sizes.get(clean(e.name))!;
      const len = e.chunkSize || fileSize - (e.chunkOffset ?? 0);
      const inner = e.innerOffset ?? 0;
      const chunk = data.subarray(inner, inner + len);
      if (chunk.length !== len) throw new Error(`${e.name}@${e.chunkOffset ?? 0}: member too short`);
      if (sha(chunk) !== e.chunkDigest) throw new Error(`${e.name}@${e.chunkOffset ?? 0}: chunkDigest mismatch`);
      parts.get(clean(e.name))!.push(chunk);
    }
  }
  for (const [name, ps] of parts) {
    const all = Buffer.concat(ps);
    if (all.length !== sizes.get(name)) throw new Error(`${name}: chunks add up to ${all.length}, size ${sizes.get(name)}`);
    if (sha(all) !== digests.get(name)) throw new Error(`${name}: digest mismatch`);
    contents.set(name, all);
  }
  return { tocOffset, tocJson, toc, contents };
}
