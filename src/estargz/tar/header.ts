// Tar header blocks: parsing of the USTAR / GNU / V7 fixed fields and encoding of the few headers the
// writer creates itself (landmarks, the TOC). Our own parser rather than tar-stream because the
// writer copies every input header block byte-for-byte into the eStargz blob, so it needs the raw
// blocks (PAX and GNU extension headers included) alongside the parsed fields.
import { EStargzError } from "../errors.js";

export const BLOCK = 512;

const utf8 = new TextDecoder("utf-8");

/** A NUL-terminated string field. */
export function str(b: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && b[end] !== 0) end++;
  return utf8.decode(b.subarray(off, end));
}

/** A numeric field: octal text (NUL/space padded) or GNU base-256 (high bit of the first byte set). */
export function num(b: Uint8Array, off: number, len: number, field: string, at: number): number {
  if (b[off] & 0x80) {
    if (b[off] === 0xff) throw new EStargzError("tar", `header at input offset ${at}: negative base-256 ${field}`);
    let v = b[off] & 0x7f;
    for (let i = 1; i < len; i++) {
      v = v * 256 + b[off + i];
      if (!Number.isSafeInteger(v)) throw new EStargzError("tar", `header at input offset ${at}: base-256 ${field} is too large`);
    }
    return v;
  }
  let s = "";
  for (let i = off; i < off + len; i++) {
    const c = b[i];
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  s = s.trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw new EStargzError("tar", `header at input offset ${at}: ${field} field ${JSON.stringify(s)} is not octal`);
  const v = parseInt(s, 8);
  if (!Number.isSafeInteger(v)) throw new EStargzError("tar", `header at input offset ${at}: ${field} is too large`);
  return v;
}

export function isZeroBlock(b: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

/** Checks the header checksum (unsigned sum, or the signed sum some old tars wrote). */
export function checkChecksum(b: Uint8Array, at: number): void {
  const stored = num(b, 148, 8, "checksum", at);
  let unsigned = 0, signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : b[i];
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  if (stored !== unsigned && stored !== signed) {
    throw new EStargzError("tar", `header at input offset ${at}: checksum ${stored} does not match the computed ${unsigned} (not a tar, or corrupt)`);
  }
}

/** The fixed fields of one header block, before PAX / GNU long-name overrides. */
export interface RawHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkName: string;
  uname: string;
  gname: string;
  devMajor: number;
  devMinor: number;
}

export function parseHeaderBlock(b: Uint8Array, at: number): RawHeader {
  checkChecksum(b, at);
  const magic = str(b, 257, 6);
  const version = String.fromCharCode(b[263], b[264]);
  const ustar = magic === "ustar" && version === "00"; // POSIX ustar / pax: has the prefix field
  const gnu = magic === "ustar" && version === " \0"; // GNU: bytes 345.. hold atime/ctime, not a prefix
  let name = str(b, 0, 100);
  if (ustar) {
    const prefix = str(b, 345, 155);
    if (prefix) name = `${prefix}/${name}`;
  }
  const hasDev = ustar || gnu;
  return {
    name,
    mode: num(b, 100, 8, "mode", at),
    uid: num(b, 108, 8, "uid", at),
    gid: num(b, 116, 8, "gid", at),
    size: num(b, 124, 12, "size", at),
    mtime: num(b, 136, 12, "mtime", at),
    typeflag: String.fromCharCode(b[156]),
    linkName: str(b, 157, 100),
    uname: hasDev ? str(b, 265, 32) : "",
    gname: hasDev ? str(b, 297, 32) : "",
    devMajor: hasDev ? num(b, 329, 8, "devmajor", at) : 0,
    devMinor: hasDev ? num(b, 337, 8, "devminor", at) : 0,
  };
}

function putOctal(b: Uint8Array, off: number, len: number, v: number): void {
  const s = v.toString(8).padStart(len - 1, "0");
  if (s.length > len - 1) throw new RangeError(`value ${v} does not fit a ${len}-byte tar field`);
  for (let i = 0; i < s.length; i++) b[off + i] = s.charCodeAt(i);
  b[off + len - 1] = 0;
}

/**
 * A USTAR header for a regular file the writer adds itself (landmarks, the TOC): mode, owner and
 * mtime 0, like the reference writer's. `name` must be ASCII and under 100 bytes.
 */
export function encodeRegHeader(name: string, size: number): Uint8Array {
  const b = new Uint8Array(BLOCK);
  if (name.length >= 100 || !/^[\x20-\x7e]+$/.test(name)) throw new RangeError(`unsupported name ${name}`);
  for (let i = 0; i < name.length; i++) b[i] = name.charCodeAt(i);
  putOctal(b, 100, 8, 0);
  putOctal(b, 108, 8, 0);
  putOctal(b, 116, 8, 0);
  putOctal(b, 124, 12, size);
  putOctal(b, 136, 12, 0);
  b[156] = 0x30; // '0'
  b.set([0x75, 0x73, 0x74, 0x61, 0x72, 0, 0x30, 0x30], 257); // "ustar\0" "00"
  putOctal(b, 329, 8, 0);
  putOctal(b, 337, 8, 0);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : b[i];
  const cs = sum.toString(8).padStart(6, "0");
  for (let i = 0; i < 6; i++) b[148 + i] = cs.charCodeAt(i);
  b[154] = 0;
  b[155] = 0x20;
  return b;
}

/** Bytes of padding after a payload of `size` bytes. */
export const padding = (size: number): number => (BLOCK - (size % BLOCK)) % BLOCK;
