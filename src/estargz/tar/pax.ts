// PAX extended header records ("<len> <key>=<value>\n"). Values stay bytes: SCHILY.xattr.* values
// are binary, everything else is UTF-8 text.
import { EStargzError } from "../errors.js";

const utf8 = new TextDecoder("utf-8");

export function parsePaxRecords(data: Uint8Array, at: number): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  let p = 0;
  while (p < data.length) {
    if (data[p] === 0) break; // NUL padding after the last record
    let sp = p;
    let len = 0;
    while (sp < data.length && data[sp] >= 0x30 && data[sp] <= 0x39) len = len * 10 + data[sp++] - 0x30;
    if (sp === p || data[sp] !== 0x20 || len <= sp - p + 1 || p + len > data.length || data[p + len - 1] !== 0x0a) {
      throw new EStargzError("tar", `PAX header at input offset ${at}: malformed record at byte ${p}`);
    }
    const rec = data.subarray(sp + 1, p + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw new EStargzError("tar", `PAX header at input offset ${at}: record at byte ${p} has no key=value`);
    out.set(utf8.decode(rec.subarray(0, eq)), rec.slice(eq + 1));
    p += len;
  }
  return out;
}

export const paxText = (v: Uint8Array): string => utf8.decode(v);
