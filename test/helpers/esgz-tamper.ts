// Takes an eStargz blob apart into its gzip members and puts it back together, with node:zlib only
// (independent of the code under test), so tests can make precisely tampered copies: change a member's
// content and keep valid gzip, rewrite the TOC (offsets follow the recompressed members), or point a
// TOC entry at another member.
import { createHash } from "node:crypto";
import { gzipSync, inflateRawSync } from "node:zlib";
import { ustarHeader } from "./tartree.js";

export interface Member {
  /** Offset in the original blob. */
  offset: number;
  /** The member's bytes as they were (header, deflate data, trailer). */
  raw: Buffer;
  /** Its decompressed content. */
  data: Buffer;
}

export const sha256 = (b: Uint8Array): string => "sha256:" + createHash("sha256").update(b).digest("hex");

/** Splits a gzip stream into members (FEXTRA headers handled; the footer is the last member). */
export function splitMembers(blob: Buffer): Member[] {
  const out: Member[] = [];
  let p = 0;
  while (p < blob.length) {
    if (blob[p] !== 0x1f || blob[p + 1] !== 0x8b) throw new Error(`no gzip member at ${p}`);
    const flg = blob[p + 3];
    let q = p + 10;
    if (flg & 4) q += 2 + blob.readUInt16LE(q);
    if (flg & 8) q = blob.indexOf(0, q) + 1;
    if (flg & 16) q = blob.indexOf(0, q) + 1;
    if (flg & 2) q += 2;
    const r = inflateRawSync(blob.subarray(q), { info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    const end = q + r.engine.bytesWritten + 8;
    out.push({ offset: p, raw: blob.subarray(p, end), data: r.buffer });
    p = end;
  }
  return out;
}

export interface TocDoc {
  version: number;
  entries: Array<{ name: string; type: string; offset?: number; chunkDigest?: string; digest?: string; [k: string]: unknown }>;
}

/** The TOC JSON of the TOC member's content (tar header + JSON + padding + end blocks). */
export function tocOfMember(data: Buffer): { json: Buffer; doc: TocDoc } {
  const size = parseInt(data.subarray(124, 136).toString("latin1").replace(/\0.*$/, "").trim(), 8);
  const json = data.subarray(512, 512 + size);
  return { json, doc: JSON.parse(json.toString("utf8")) };
}

/** A ustar header of a regular file (mode 0644, owner 0, mtime 0). */
export function tarHeader(name: string, size: number): Buffer {
  return ustarHeader({ name, type: "0", mode: 0o644, uid: 0, gid: 0, size, mtimeSec: 0 });
}

export function tocMemberData(json: Buffer): Buffer {
  const pad = (512 - (json.length % 512)) % 512;
  return Buffer.concat([tarHeader("stargz.index.json", json.length), json, Buffer.alloc(pad), Buffer.alloc(1024)]);
}

export function footer(tocOffset: number): Buffer {
  const b = Buffer.alloc(51);
  Buffer.from([0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 26, 0, 0x53, 0x47, 22, 0]).copy(b, 0);
  b.write(tocOffset.toString(16).padStart(16, "0") + "STARGZ", 16, "latin1");
  Buffer.from([1, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]).copy(b, 38);
  return b;
}

export interface Rebuilt {
  blob: Buffer;
  digest: string;
  tocDigest: string;
  tocJson: Buffer;
  diffId: string;
  uncompressedSize: number;
}

/**
 * Reassembles a blob from `members` (all but the TOC member and the footer, whose contents may have been
 * changed): each member is kept byte for byte unless its `data` changed (then recompressed); the TOC's
 * offsets follow the members' new positions; `editToc` may change the TOC before it is written.
 */
export function rebuild(original: Member[], members: Member[], editToc?: (doc: TocDoc, newOffsetOf: (old: number) => number) => void): Rebuilt {
  const tocMember = original[original.length - 2];
  const { doc } = tocOfMember(tocMember.data);
  const parts: Buffer[] = [];
  const moved = new Map<number, number>();
  let pos = 0;
  for (let i = 0; i < members.length - 2; i++) {
    const m = members[i];
    const orig = original[i];
    const raw = m.data === orig.data ? orig.raw : gzipSync(m.data, { level: 9 });
    moved.set(orig.offset, pos);
    parts.push(raw);
    pos += raw.length;
  }
  const newOffsetOf = (old: number) => {
    const n = moved.get(old);
    if (n === undefined) throw new Error(`no member at ${old}`);
    return n;
  };
  for (const e of doc.entries) if (e.offset !== undefined) e.offset = newOffsetOf(e.offset);
  editToc?.(doc, newOffsetOf);
  const tocJson = Buffer.from(JSON.stringify(doc, null, "\t"));
  const tocData = tocMemberData(tocJson);
  const tocOffset = pos;
  parts.push(gzipSync(tocData, { level: 9 }), footer(tocOffset));
  const blob = Buffer.concat(parts);
  const plain = Buffer.concat([...members.slice(0, -2).map((m) => m.data), tocData]);
  return { blob, digest: sha256(blob), tocDigest: sha256(tocJson), tocJson, diffId: sha256(plain), uncompressedSize: plain.length };
}
