// Generates large eStargz TOC JSON documents with every entry kind, for the TOC index tests and
// benchmark: dirs (some only implicit), regular files (empty, small, several per member with
// innerOffset, chunked with chunkSize 0 or explicit last sizes, > 2^31 bytes), symlinks, hardlinks
// (also chains), char/block devices, fifos, xattrs, owners, RFC 3339 times with fractions and
// offsets, unicode and \u-escaped names, unknown fields, duplicates and a prefetch landmark.
// Deterministic for a given seed. Written like the Go writer (tab-indented) unless `compact`.

export interface GeneratedToc {
  json: string;
  /** Offset of the TOC member in the imaginary blob (beyond every member offset). */
  tocOffset: number;
  entries: number;
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

const WORDS = ["usr", "lib", "bin", "share", "doc", "x86_64-linux-gnu", "python3", "site-packages", "locale", "man",
  "include", "etc", "ssl", "certs", "node_modules", "dist", "src", "zoneinfo", "Europe", "fonts"];
const ODD = ["ünï", "日本語", "emoji-😀", "space name", "quote\"s", "back\\slash", "tab\tname", "ctl\u0001x", "é", "Ω≈ç"];

/** JSON string literal, escaping non-ASCII characters as \uXXXX (surrogate pairs included) when `escapeAll`. */
function jsonString(s: string, escapeAll: boolean): string {
  if (!escapeAll) return JSON.stringify(s);
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c >= 0x7f || c === 0x22 || c === 0x5c || c === 0x2f) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += s[i];
  }
  return out + '"';
}

function hex(r: () => number, bytes: number): string {
  let s = "";
  for (let i = 0; i < bytes; i++) s += ((r() * 256) | 0).toString(16).padStart(2, "0");
  return s;
}

function base64(r: () => number, n: number): string {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (r() * 256) | 0;
  let bin = "";
  for (const x of b) bin += String.fromCharCode(x);
  return btoa(bin);
}

/** Mostly whole seconds from a few thousand package build times, as real layers have; some odd ones. */
function time(r: () => number, stamps: number[]): string {
  const roll = r();
  const sec = roll < 0.01 ? -Math.floor(r() * 2e9) : roll < 0.02 ? 2147483648 + Math.floor(r() * 4e9) : stamps[(r() * stamps.length) | 0];
  const d = new Date(sec * 1000);
  let s = d.toISOString().slice(0, 19);
  if (r() < 0.02) s += "." + String(Math.floor(r() * 1e9)).padStart(9, "0").slice(0, 1 + Math.floor(r() * 9));
  if (r() < 0.01) {
    // the same instant written with an offset
    const off = (Math.floor(r() * 14) * 60 + (r() < 0.5 ? 30 : 0)) * (r() < 0.5 ? 1 : -1);
    const local = new Date((sec + off * 60) * 1000).toISOString().slice(0, 19);
    const frac = s.length > 19 ? s.slice(19) : "";
    const a = Math.abs(off);
    return `${local}${frac}${off < 0 ? "-" : "+"}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`;
  }
  return s + "Z";
}

export function generateToc(count: number, seed = 1, compact = false): GeneratedToc {
  const r = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[(r() * a.length) | 0];
  const dirs: string[] = [""];
  const regs: string[] = [];
  const links: string[] = [];
  const parts: string[] = [];
  let offset = 100;
  let memberShare = 0; // files left sharing the current member
  let inner = 0;
  let n = 0;
  let landmarkDone = false;
  const nl = compact ? "" : "\n\t\t";
  const ind = compact ? "" : "\n\t\t\t";
  const emit = (fields: string[]) => {
    parts.push(`{${fields.map((f) => ind + f).join(",")}${nl}}`);
    n++;
  };
  const stamps = Array.from({ length: 3000 }, () => 1.2e9 + Math.floor(r() * 5e8));
  const stamp = () => `"modtime": ${JSON.stringify(time(r, stamps))}`;
  const owners = [1000, 33, 65534, 101, 4294967295];
  const owner = (f: string[]) => {
    if (r() < 0.15) {
      const uid = owners[Math.floor(r() * r() * owners.length)];
      f.push(`"uid": ${uid}`, `"gid": ${uid === 33 ? 33 : 100}`);
      if (r() < 0.2) f.push(`"userName": ${JSON.stringify("user" + (uid % 7))}`, `"groupName": ${JSON.stringify("grp")}`);
    }
  };
  const extras = (f: string[]) => {
    if (r() < 0.02) {
      const xs: string[] = [];
      for (let i = 0, k = 1 + ((r() * 3) | 0); i < k; i++) xs.push(`${JSON.stringify(`user.k${i}`)}: ${JSON.stringify(base64(r, (r() * 40) | 0))}`);
      f.push(`"xattrs": {${xs.join(", ")}}`);
    }
    if (r() < 0.01) f.push(`"x-unknown": {"nested": [1, -2.5e3, true, false, null, "s\\n", {"a": []}]}`);
  };
  const name = (dir: string): string => {
    let base = r() < 0.03 ? pick(ODD) + "-" + n : pick(WORDS) + "-" + n;
    if (r() < 0.3) base += ".txt";
    return dir ? `${dir}/${base}` : base;
  };
  const written = (p: string, isDir: boolean): string => {
    const style = r();
    let w = style < 0.7 ? "./" + p : style < 0.85 ? p : style < 0.95 ? "/" + p : "./" + p.replace("/", "//");
    if (isDir && r() < 0.8) w += "/";
    return jsonString(w, r() < 0.05);
  };

  // Go writers put the landmark first (no-prefetch) or after the prioritised files (prefetch)
  emit([`"name": "./"`, `"type": "dir"`, stamp(), `"mode": 493`]);
  // tar order: a depth-first walk, entries of a directory after it, sometimes climbing back up
  const stack: string[] = [""];
  while (n < count) {
    const roll = r();
    if (r() < 0.04 && stack.length > 1) stack.length -= 1 + Math.floor(r() * (stack.length - 1));
    const dir = stack[stack.length - 1];
    if (!landmarkDone && n >= Math.floor(count / 3)) {
      landmarkDone = true;
      emit([`"name": ".prefetch.landmark"`, `"type": "reg"`, `"size": 1`, `"offset": ${offset}`,
        `"digest": "sha256:dc0e9c3658a1a3ed1ec94274d8b19925c93e1abb7ddba294923ad9bde30f8cb8"`,
        `"chunkDigest": "sha256:dc0e9c3658a1a3ed1ec94274d8b19925c93e1abb7ddba294923ad9bde30f8cb8"`]);
      offset += 80;
      continue;
    }
    if (roll < 0.12 && dirs.length < count / 4) {
      const p = r() < 0.1 ? `${name(dir)}/${pick(WORDS)}-implicit${n}/${pick(WORDS)}${n}` : name(dir);
      if (p.includes("-implicit")) {
        // its parents are never written: the index creates them
        const f = [`"name": ${written(p, true)}`, `"type": "dir"`, stamp(), `"mode": ${r() < 0.1 ? 1023 : 493}`];
        owner(f);
        emit(f);
      } else {
        const f = [`"name": ${written(p, true)}`, `"type": "dir"`, stamp(), `"mode": 493`];
        owner(f);
        extras(f);
        emit(f);
      }
      dirs.push(p);
      if (r() < 0.7 && stack.length < 12) stack.push(p);
    } else if (roll < 0.78) {
      const p = name(dir);
      const big = r() < 0.002;
      const size = r() < 0.05 ? 0 : big ? 2147483648 + Math.floor(r() * 3e9) : r() < 0.05 ? 100000 + Math.floor(r() * 500000) : Math.floor(r() * 20000) + 1;
      const digest = `sha256:${hex(r, 32)}`;
      const f = [`"name": ${written(p, false)}`, `"type": "reg"`, `"size": ${size}`, stamp(), `"mode": ${r() < 0.1 ? 493 : 420}`];
      owner(f);
      if (size === 0) {
        f.push(`"digest": "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"`);
        extras(f);
        emit(f);
        regs.push(p);
        continue;
      }
      const chunk = big ? 1 << 30 : size > 65536 && r() < 0.5 ? 65536 : 0;
      if (!chunk && size < 4096 && memberShare === 0 && r() < 0.2) {
        memberShare = 2 + ((r() * 4) | 0);
        inner = 0;
      }
      if (memberShare > 0 && !chunk && size < 4096) {
        f.push(`"offset": ${offset}`);
        if (inner) f.push(`"innerOffset": ${inner}`);
        inner += 512 + Math.ceil(size / 512) * 512;
        if (--memberShare === 0) offset += 200 + size;
      } else {
        if (memberShare > 0) {
          memberShare = 0;
          offset += 300;
        }
        f.push(`"offset": ${offset}`);
        offset += 40 + Math.floor((chunk || size) / 3);
      }
      f.push(`"digest": ${JSON.stringify(digest)}`);
      if (chunk) f.push(`"chunkSize": ${chunk}`);
      f.push(`"chunkDigest": ${JSON.stringify(chunk ? `sha256:${hex(r, 32)}` : digest)}`);
      extras(f);
      emit(f);
      regs.push(p);
      for (let at = chunk; chunk && at < size; at += chunk) {
        const last = at + chunk >= size;
        const c = [`"name": ${written(p, false)}`, `"type": "chunk"`, `"offset": ${offset}`, `"chunkOffset": ${at}`];
        if (!last || r() < 0.5) c.push(`"chunkSize": ${last ? size - at : chunk}`);
        c.push(`"chunkDigest": "sha256:${hex(r, 32)}"`);
        offset += 40 + Math.floor(Math.min(chunk, size - at) / 3);
        emit(c);
      }
    } else if (roll < 0.9) {
      const p = name(dir);
      const f = [`"name": ${written(p, false)}`, `"type": "symlink"`, stamp(), `"linkName": ${jsonString(r() < 0.5 ? "../" + pick(WORDS) : "/" + pick(WORDS) + "/" + pick(ODD), r() < 0.1)}`, `"mode": 511`];
      owner(f);
      emit(f);
      links.push(p);
    } else if (roll < 0.95 && regs.length > 0) {
      const p = name(dir);
      const target = r() < 0.2 && links.length && r() < 0.5 ? null : pick(regs);
      const t = target ?? regs[0];
      const f = [`"name": ${written(p, false)}`, `"type": "hardlink"`, stamp(), `"linkName": ${written(t, false)}`, `"mode": 420`];
      owner(f);
      emit(f);
      if (r() < 0.3) {
        // a hardlink to the hardlink: resolves to the same file
        const q = name(dir);
        emit([`"name": ${written(q, false)}`, `"type": "hardlink"`, `"linkName": ${written(p, false)}`, `"mode": 420`]);
      }
    } else if (roll < 0.97) {
      const p = name(dir);
      const t = r() < 0.5 ? "char" : "block";
      emit([`"name": ${written(p, false)}`, `"type": "${t}"`, stamp(), `"mode": 420`, `"devMajor": ${(r() * 300) | 0}`, `"devMinor": ${(r() * 300) | 0}`]);
    } else if (roll < 0.98) {
      emit([`"name": ${written(name(dir), false)}`, `"type": "fifo"`, stamp(), `"mode": 420`]);
    } else if (regs.length > 10) {
      // a duplicate: a later regular file of an existing name wins
      const p = pick(regs);
      emit([`"name": ${written(p, false)}`, `"type": "reg"`, `"size": 7`, stamp(), `"mode": 384`, `"offset": ${offset}`,
        `"digest": "sha256:${hex(r, 32)}"`]);
      offset += 60;
    }
  }
  const sep = compact ? "," : ",\n\t\t";
  const json = compact
    ? `{"version":1,"entries":[${parts.join(sep)}]}`
    : `{\n\t"version": 1,\n\t"entries": [\n\t\t${parts.join(sep)}\n\t]\n}`;
  return { json, tocOffset: offset + 1000, entries: n };
}
