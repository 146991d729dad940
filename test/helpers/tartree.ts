// Test trees as tars, built with tar-stream (independent of our own tar parser), and tar listings
// read back with tar-stream, for comparing what goes into the writer with what comes out. Plus raw
// ustar headers for tars of many thousands of entries, where tar-stream's per-entry cost adds up.
import tar from "tar-stream";
import { createHash } from "node:crypto";

export interface TreeEntry {
  name: string;
  type: "file" | "directory" | "symlink" | "link" | "character-device" | "block-device" | "fifo";
  mode: number;
  uid: number;
  gid: number;
  uname?: string;
  gname?: string;
  mtime: Date;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  data?: Uint8Array;
  /** PAX records (xattrs as SCHILY.xattr.*). */
  pax?: Record<string, string>;
}

/** A deterministic pseudo-random generator (xorshift32). */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

/** Bytes that compress a little (text-ish runs mixed with noise). */
export function bytes(n: number, r: () => number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = r() < 0.7 ? 97 + (i % 13) : Math.floor(r() * 256);
  return out;
}

/** A random tree with every entry kind; regular file sizes from `sizes`. */
export function randomTree(seed: number, sizes: number[]): TreeEntry[] {
  const r = rng(seed);
  const mtime = new Date(Date.UTC(2023, 0, 1 + Math.floor(r() * 300), 1, 2, 3));
  const base = { mode: 0o755, uid: 0, gid: 0, mtime };
  const out: TreeEntry[] = [
    { ...base, name: "./", type: "directory" },
    { ...base, name: "./a/", type: "directory", uid: 1000, gid: 1000, uname: "user", gname: "group" },
    { ...base, name: "./a/b/", type: "directory", uid: 1000, gid: 1000, uname: "user", gname: "group" },
    { ...base, name: "./dev/", type: "directory" },
    { ...base, name: "./sticky/", type: "directory", mode: 0o1777 },
  ];
  sizes.forEach((size, i) => {
    out.push({
      ...base, name: `./a/${i % 2 ? "b/" : ""}file-${i}.bin`, type: "file", mode: i === 0 ? 0o4755 : 0o644,
      uid: i % 3 ? 1000 : 0, gid: i % 3 ? 1000 : 0, uname: i % 3 ? "user" : "root", gname: i % 3 ? "group" : "root",
      data: bytes(size, r),
      pax: i === 1 ? { "SCHILY.xattr.user.k": "v", "SCHILY.xattr.security.capability": "\u0001\u0000\u0000\u0002" } : undefined,
    });
  });
  const longName = `./a/${"long-segment-".repeat(12)}end.txt`;
  out.push(
    { ...base, name: longName, type: "file", mode: 0o600, data: bytes(77, r) },
    { ...base, name: "./a/ünïcode name.txt", type: "file", mode: 0o644, data: bytes(3, r) },
    { ...base, name: "./a/empty", type: "file", mode: 0o644, data: new Uint8Array(0) },
    { ...base, name: "./a/hardlink", type: "link", mode: 0o644, linkname: "./a/file-0.bin" },
    { ...base, name: "./a/sym", type: "symlink", mode: 0o777, linkname: "../dangling/target" },
    { ...base, name: "./dev/null", type: "character-device", mode: 0o666, devmajor: 1, devminor: 3 },
    { ...base, name: "./dev/loop0", type: "block-device", mode: 0o660, devmajor: 7, devminor: 0 },
    { ...base, name: "./dev/pipe", type: "fifo", mode: 0o644 },
    { ...base, name: "./a/.wh.gone", type: "file", mode: 0o644, data: new Uint8Array(0) },
    { ...base, name: "./a/b/.wh..wh..opq", type: "file", mode: 0o644, data: new Uint8Array(0) },
  );
  return out;
}

export async function packTree(entries: TreeEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    const { data, pax, ...h } = e;
    await new Promise<void>((resolve, reject) => {
      const header = { ...h, size: data?.length ?? 0, pax } as tar.Header;
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (data) pack.entry(header, Buffer.from(data), cb);
      else pack.entry(header, cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export interface ListedEntry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
  size: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: Record<string, string>;
  sha256: string;
}

/** Every entry of a plain tar, read with tar-stream. */
export async function listTar(data: Uint8Array): Promise<ListedEntry[]> {
  const ex = tar.extract();
  const out: ListedEntry[] = [];
  const feeding = (async () => {
    ex.end(Buffer.from(data));
  })();
  for await (const entry of ex) {
    const h = entry.header as tar.Header & { pax?: Record<string, string> };
    const hash = createHash("sha256");
    for await (const c of entry) hash.update(c as Buffer);
    const xattrs: Record<string, string> = {};
    for (const [k, v] of Object.entries((h.pax ?? {}) as Record<string, string>)) if (k.startsWith("SCHILY.xattr.")) xattrs[k.slice(13)] = v;
    out.push({
      name: h.name, type: String(h.type), mode: h.mode ?? 0, uid: h.uid ?? 0, gid: h.gid ?? 0,
      uname: h.uname ?? "", gname: h.gname ?? "", mtime: h.mtime ? h.mtime.getTime() : 0, size: h.size ?? 0,
      linkname: h.linkname ?? "", devmajor: h.devmajor ?? 0, devminor: h.devminor ?? 0, xattrs,
      sha256: hash.digest("hex"),
    });
  }
  await feeding;
  return out;
}

/** One plain ustar header (no PAX records): a name of at most 100 bytes, numbers in octal. */
export function ustarHeader(e: { name: string; type: "0" | "5"; mode: number; uid: number; gid: number; size: number; mtimeSec: number }): Buffer {
  const b = Buffer.alloc(512);
  const octal = (v: number, width: number, at: number) => b.write(v.toString(8).padStart(width - 1, "0") + "\0", at, "latin1");
  b.write(e.name, 0, "utf8");
  octal(e.mode, 8, 100);
  octal(e.uid, 8, 108);
  octal(e.gid, 8, 116);
  octal(e.size, 12, 124);
  octal(e.mtimeSec, 12, 136);
  b.write(e.type, 156, "latin1");
  b.write("ustar\0" + "00", 257, "latin1");
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of b) sum += c;
  b.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
  return b;
}
