// A streaming tar entry reader that keeps each entry's raw header blocks (including PAX 'x' and GNU
// 'L'/'K' extension headers) so the writer can copy them unchanged, and resolves the effective
// fields the way Go's archive/tar does (PAX > GNU long names > ustar prefix+name).
import { EStargzError } from "../errors.js";
import { BLOCK, isZeroBlock, padding, parseHeaderBlock, str } from "./header.js";
import { type ByteInput, readExact } from "./input.js";
import { parsePaxRecords, paxText } from "./pax.js";

export type EntryType = "reg" | "dir" | "symlink" | "hardlink" | "char" | "block" | "fifo";

export interface TarEntry {
  /** All header blocks of this entry, extension headers and their data included, as in the input. */
  raw: Uint8Array;
  /** Offset in the (uncompressed) input of `raw`'s first byte. */
  headerOffset: number;
  /** Offset in the input of the payload's first byte. */
  payloadOffset: number;
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Payload size (0 for header-only types). */
  size: number;
  /** Seconds since the epoch, rounded to the nearest second as the reference does; 0 = unknown. */
  mtime: number;
  linkName: string;
  devMajor: number;
  devMinor: number;
  xattrs: Map<string, Uint8Array>;
}

// Extension-header data larger than this is refused: real PAX/GNU headers are tiny, and the whole
// extension data is held in memory.
const MAX_EXT = 16 << 20;

function typeOf(flag: string, name: string, at: number): EntryType {
  switch (flag) {
    case "0": case "7": return "reg";
    case "\0": return name.endsWith("/") ? "dir" : "reg";
    case "1": return "hardlink";
    case "2": return "symlink";
    case "3": return "char";
    case "4": return "block";
    case "5": return "dir";
    case "6": return "fifo";
  }
  throw new EStargzError("tar", `entry ${JSON.stringify(name)} at input offset ${at}: unsupported tar entry type ${JSON.stringify(flag)}`);
}

function paxMtime(v: string): number {
  const m = /^(-?)(\d+)(?:\.(\d*))?$/.exec(v);
  if (!m) return NaN;
  let s = Number(m[2]);
  if (m[3] && m[3].length && Number(`0.${m[3]}`) >= 0.5) s += 1;
  return m[1] ? -s : s;
}

export class TarReader {
  private remaining = 0; // unread payload bytes of the current entry
  private pad = 0; // padding after it
  private global = new Map<string, Uint8Array>();
  private done = false;

  constructor(private readonly input: ByteInput) {}

  /** Global PAX headers ('g') are passed through as raw bytes: callers copy them to the output. */
  pendingGlobal: Uint8Array[] = [];

  /** The next entry, or null at the end of the archive. Skips what is left of the previous payload. */
  async next(): Promise<TarEntry | null> {
    if (this.done) return null;
    if (this.remaining + this.pad > 0) {
      const want = this.remaining + this.pad;
      const n = await this.input.skip(want);
      if (n !== want) throw new EStargzError("tar", `input tar ends inside a payload (at offset ${this.input.position})`);
      this.remaining = this.pad = 0;
    }
    const headerOffset = this.input.position;
    const raw: Uint8Array[] = [];
    let pax: Map<string, Uint8Array> | null = null;
    let longName: string | null = null;
    let longLink: string | null = null;
    for (;;) {
      const at = this.input.position;
      const first = await this.input.read(BLOCK);
      if (first.length === 0 && raw.length === 0) {
        // end of input without the end-of-archive blocks: accepted, as GNU tar does
        this.done = true;
        return null;
      }
      if (first.length !== BLOCK) throw new EStargzError("tar", `input tar ends inside a header (at offset ${at})`);
      if (isZeroBlock(first)) {
        if (raw.length) throw new EStargzError("tar", `extension header at input offset ${headerOffset} is followed by the end of the archive`);
        this.done = true;
        return null;
      }
      const block = first.slice();
      const h = parseHeaderBlock(block, at);
      raw.push(block);
      const flag = h.typeflag;
      if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
        if (h.size > MAX_EXT) throw new EStargzError("limit", `extension header at input offset ${at} claims ${h.size} bytes (limit ${MAX_EXT})`);
        const padded = h.size + padding(h.size);
        const data = (await readExact(this.input, padded, "an extension header")).slice();
        const body = data.subarray(0, h.size);
        if (flag === "g") {
          // a global header stands on its own in the stream: copy it out, apply its records
          for (const [k, v] of parsePaxRecords(body, at)) this.global.set(k, v);
          raw.pop();
          this.pendingGlobal.push(concat([block, data]));
          continue;
        }
        raw.push(data);
        if (flag === "x") pax = parsePaxRecords(body, at);
        else if (flag === "L") longName = str(body, 0, body.length);
        else longLink = str(body, 0, body.length);
        continue;
      }
      const records = new Map([...this.global, ...(pax ?? [])]);
      const text = (k: string): string | undefined => {
        const v = records.get(k);
        return v === undefined ? undefined : paxText(v);
      };
      const numeric = (k: string, fallback: number): number => {
        const v = text(k);
        if (v === undefined) return fallback;
        const n = Number(v);
        if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new EStargzError("tar", `PAX ${k}=${JSON.stringify(v)} for the entry at input offset ${at} is not a valid number`);
        return n;
      };
      const name = text("path") ?? longName ?? h.name;
      const type = typeOf(flag, name, at);
      let mtime = h.mtime;
      const pm = text("mtime");
      if (pm !== undefined) {
        mtime = paxMtime(pm);
        if (Number.isNaN(mtime)) throw new EStargzError("tar", `PAX mtime=${JSON.stringify(pm)} at input offset ${at} is not a number`);
      }
      const xattrs = new Map<string, Uint8Array>();
      for (const [k, v] of records) if (k.startsWith("SCHILY.xattr.")) xattrs.set(k.slice(13), v);
      const size = type === "reg" ? numeric("size", h.size) : 0;
      const entry: TarEntry = {
        raw: concat(raw),
        headerOffset,
        payloadOffset: this.input.position,
        name,
        type,
        mode: h.mode,
        uid: numeric("uid", h.uid),
        gid: numeric("gid", h.gid),
        uname: text("uname") ?? h.uname,
        gname: text("gname") ?? h.gname,
        size,
        mtime,
        linkName: text("linkpath") ?? longLink ?? h.linkName,
        devMajor: h.devMajor,
        devMinor: h.devMinor,
        xattrs,
      };
      this.remaining = size;
      this.pad = padding(size);
      return entry;
    }
  }

  /** Reads the next `n` payload bytes of the current entry (n ≤ what remains). */
  async readPayload(n: number): Promise<Uint8Array> {
    if (n > this.remaining) throw new RangeError(`payload read of ${n} bytes, only ${this.remaining} left`);
    const b = await readExact(this.input, n, "a file's payload");
    this.remaining -= n;
    return b;
  }

  /** Reads the padding after a fully read payload. */
  async readPadding(): Promise<Uint8Array> {
    if (this.remaining !== 0) throw new RangeError("payload not fully read");
    const b = await readExact(this.input, this.pad, "a payload's padding");
    this.pad = 0;
    return b;
  }
}

export function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
