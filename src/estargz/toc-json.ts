// TOC entries as the writer produces them, and their JSON text exactly as Go's
// json.MarshalIndent(toc, "", "\t") writes it (field order, omitted zero fields, HTML-safe escapes,
// sorted xattr keys, base64 xattr values), so our TOCs are byte-compatible with the reference's.

export const TOC_TAR_NAME = "stargz.index.json";
export const PREFETCH_LANDMARK = ".prefetch.landmark";
export const NO_PREFETCH_LANDMARK = ".no.prefetch.landmark";
export const LANDMARK_CONTENTS = 0x0f;

export interface TocEntryJson {
  name: string;
  type: string;
  size?: number;
  modtime?: string;
  linkName?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  userName?: string;
  groupName?: string;
  offset?: number;
  innerOffset?: number;
  devMajor?: number;
  devMinor?: number;
  xattrs?: Map<string, Uint8Array>;
  digest?: string;
  chunkOffset?: number;
  chunkSize?: number;
  chunkDigest?: string;
}

const FIELDS = [
  "name", "type", "size", "modtime", "linkName", "mode", "uid", "gid", "userName", "groupName",
  "offset", "innerOffset", "devMajor", "devMinor", "xattrs", "digest", "chunkOffset", "chunkSize", "chunkDigest",
] as const;
// name and type are always written; everything else is omitempty
const ALWAYS = new Set(["name", "type"]);

/** A JSON string literal escaped the way Go's encoding/json does. */
export function goString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += "\\\\";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) {
      out += "\\u" + c.toString(16).padStart(4, "0");
    } else if (c >= 0xd800 && c <= 0xdfff) {
      // lone surrogates cannot come from UTF-8 decoding; keep pairs, replace strays like Go would
      const next = s.charCodeAt(i + 1);
      if (c < 0xdc00 && next >= 0xdc00 && next <= 0xdfff) {
        out += s[i] + s[i + 1];
        i++;
      } else out += "\ufffd";
    } else out += s[i];
  }
  return out + '"';
}

function b64(v: Uint8Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.length).toString("base64");
}

/** Go's sort order for map keys: by bytes of the UTF-8 encoding. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

export function tocJson(entries: TocEntryJson[]): string {
  const parts: string[] = ["{\n\t\"version\": 1,\n\t\"entries\": ["];
  entries.forEach((e, idx) => {
    const lines: string[] = [];
    for (const f of FIELDS) {
      const v = e[f];
      if (v === undefined) continue;
      if (!ALWAYS.has(f) && (v === 0 || v === "")) continue;
      if (f === "xattrs") {
        const m = v as Map<string, Uint8Array>;
        if (m.size === 0) continue;
        const keys = [...m.keys()].sort(byteOrder);
        const inner = keys.map((k) => `\t\t\t\t${goString(k)}: "${b64(m.get(k)!)}"`).join(",\n");
        lines.push(`\t\t\t"xattrs": {\n${inner}\n\t\t\t}`);
      } else if (typeof v === "number") {
        lines.push(`\t\t\t"${f}": ${v}`);
      } else {
        lines.push(`\t\t\t"${f}": ${goString(v as string)}`);
      }
    }
    parts.push(`${idx ? "," : ""}\n\t\t{\n${lines.join(",\n")}\n\t\t}`);
  });
  parts.push(entries.length ? "\n\t]\n}" : "]\n}");
  return parts.join("");
}

/** modtime as the reference formats it: RFC 3339 UTC seconds, omitted for 0 (unknown). */
export function formatModtime(seconds: number): string {
  if (seconds === 0 || !Number.isFinite(seconds)) return "";
  const d = new Date(seconds * 1000);
  if (Number.isNaN(d.getTime())) return "";
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Cleans a tar name the way the reference does: path.Clean("/" + name) without the leading "/". */
export function cleanEntryName(name: string): string {
  const out: string[] = [];
  for (const seg of name.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  return out.join("/");
}
