// The Additional Layer Store tree that containers/storage looks names up in (see spec/als.md):
//
//   /pool                                 symlink to <root>/pool
//   /<base64(ref)>/                        created on lookup: the reference is resolved on first use
//   /<base64(ref)>/<digest>/               layer dir; <digest> = compressed digest or TOC digest
//   /<base64(ref)>/<digest>/diff/...       the layer's tree in overlayfs lower-dir form
//   /<base64(ref)>/<digest>/info           JSON the engine indexes the layer by
//   /<base64(ref)>/<digest>/blob           the registry blob, byte for byte
//   /<base64(ref)>/<digest>/use            never exists; creating it takes a reference (ENOENT)
//   /<digest>/...                          the same without `:ref`, for layers already resolved
//
// Nothing is listed at the root or in a reference dir: the engine looks names up directly.
// `rmdir` of a layer dir releases a reference and also answers ENOENT.
// Everything outside diff/ belongs to the mount's owner (root), dirs 0755: with the mount's
// default_permissions the kernel refuses `use` and `rmdir` to anyone else (EACCES) before they get here.
import { constants } from "node:fs";
import type { Attr, DirPage, FsHandlers, StatFs } from "./fuse.js";
import { FsError } from "../util/errno.js";
import { LowerDir } from "./overlay.js";
import type { BlobHandle, LayerView } from "../layer/layer.js";

/** What the tree asks the store. Lookups that cannot be served throw FsError("ENOENT"). */
export interface LayerSource {
  /** Resolves a reference (decoded from the dir name); throws ENOENT if it cannot be served. */
  resolveRef(ref: string): void | Promise<void>;
  /** The layer under `ref` (null: the `:ref`-less layout) and `digest`; ENOENT if it cannot be served. */
  layer(ref: string | null, digest: string): LayerView | Promise<LayerView>;
  use(ref: string | null, digest: string): void;
  release(ref: string | null, digest: string): void;
  /** Target of the `/pool` symlink. */
  readonly poolDir: string;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const DIR = constants.S_IFDIR | 0o755;
const FILE = constants.S_IFREG | 0o444;
const LINK = constants.S_IFLNK | 0o777;
/** Synthetic nodes get inode numbers below this; layers get ranges above it. */
const LAYER_INO_START = 1 << 20;

/** Decodes a `<base64(ref)>` dir name: standard alphabet, padding kept, must round-trip exactly. */
export function decodeRefDir(name: string): string | null {
  if (!/^[A-Za-z0-9+]+={0,2}$/.test(name) || name.length % 4 !== 0) return null;
  const ref = Buffer.from(name, "base64").toString("utf8");
  if (Buffer.from(ref, "utf8").toString("base64") !== name) return null;
  if (!/^[\x21-\x7e]+$/.test(ref)) return null;
  return ref;
}

type Parsed =
  | { kind: "root" }
  | { kind: "pool" }
  | { kind: "ref"; ref: string }
  | { kind: "layer"; ref: string | null; digest: string }
  | { kind: "file"; ref: string | null; digest: string; name: "info" | "blob" | "use" }
  | { kind: "diff"; ref: string | null; digest: string; rel: string };

/** Names of `<base64(ref)>` dirs decoded so far (few: one per image), null for names that are not one. */
const refDirs = new Map<string, string | null>();
const ROOT: Parsed = { kind: "root" };

// Every FUSE request starts here, so no split/join of the whole path: the first two or three
// components are cut out where they end, the rest of a diff/ path is taken as it is.
function parse(path: string): Parsed {
  if (path === "/") return ROOT;
  let end = path.indexOf("/", 1);
  const first = path.slice(1, end < 0 ? undefined : end);
  if (end < 0 && first === "pool") return { kind: "pool" };
  let ref: string | null = null;
  let digest = first;
  if (!DIGEST.test(first)) {
    ref = refDirs.get(first) ?? null;
    if (!refDirs.has(first)) {
      ref = decodeRefDir(first);
      if (refDirs.size >= 1024) refDirs.clear();
      refDirs.set(first, ref);
    }
    if (ref === null) throw new FsError("ENOENT");
    if (end < 0) return { kind: "ref", ref };
    const start = end + 1;
    end = path.indexOf("/", start);
    digest = path.slice(start, end < 0 ? undefined : end);
    if (!DIGEST.test(digest)) throw new FsError("ENOENT");
  }
  if (end < 0) return { kind: "layer", ref, digest };
  const nameStart = end + 1;
  const slash = path.indexOf("/", nameStart);
  const name = path.slice(nameStart, slash < 0 ? undefined : slash);
  if (name === "diff") return { kind: "diff", ref, digest, rel: slash < 0 ? "" : path.slice(slash + 1) };
  if (slash < 0 && (name === "info" || name === "blob" || name === "use")) return { kind: "file", ref, digest, name };
  throw new FsError("ENOENT");
}

type Handle = { unhold: () => void } & (
  | { kind: "diff"; layer: LayerView; id: number }
  | { kind: "info"; layer: LayerView }
  | { kind: "blob"; blob: BlobHandle });

export interface AlsOptions {
  /** Called for reads that failed with something other than ENOENT (logged by the caller). */
  onReadError?: (path: string, err: unknown) => void;
}

/** The FUSE handlers of the whole store mount. */
export class AlsFs implements FsHandlers {
  private readonly started = Date.now();
  /** The mount's owner, who alone (with root) may write: take or release references. */
  private readonly uid = process.getuid?.() ?? 0;
  private readonly gid = process.getgid?.() ?? 0;
  private readonly synthetic = new Map<string, number>();
  private readonly layerInoBase = new Map<string, number>();
  private nextLayerIno = LAYER_INO_START;
  private readonly lowers = new WeakMap<LayerView, LowerDir>();
  private readonly handles = new Map<number, Handle>();
  private nextFh = 1;

  constructor(private readonly source: LayerSource, private readonly opts: AlsOptions = {}) {}

  private ino(key: string): number {
    let n = this.synthetic.get(key);
    if (n === undefined) {
      n = this.synthetic.size + 2; // 1 is the root
      if (n >= LAYER_INO_START) n = LAYER_INO_START - 1; // 1M synthetic names: share one rather than collide with layers
      this.synthetic.set(key, n);
    }
    return n;
  }

  private dirAttr(ino: number): Attr {
    return { ino, mode: DIR, nlink: 2, uid: this.uid, gid: this.gid, size: 0, rdev: 0, mtime: this.started };
  }

  private fileAttr(ino: number, size: number): Attr {
    return { ino, mode: FILE, nlink: 1, uid: this.uid, gid: this.gid, size, rdev: 0, mtime: this.started };
  }

  // Inode range per layer digest, stable for the life of the process (a dropped layer that comes back
  // gets the same numbers). The kernel uses 32-bit numbers here.
  private lower(digest: string, layer: LayerView): LowerDir {
    let l = this.lowers.get(layer);
    if (l) return l;
    let base = this.layerInoBase.get(digest);
    if (base === undefined) {
      base = this.nextLayerIno;
      this.nextLayerIno += layer.index.count + 1;
      if (this.nextLayerIno > 0xffffffff) throw new FsError("EIO", "inode numbers exhausted");
      this.layerInoBase.set(digest, base);
    }
    l = new LowerDir(layer.index, base);
    this.lowers.set(layer, l);
    return l;
  }

  private withLayer<T>(ref: string | null, digest: string, f: (layer: LayerView) => T): T | Promise<T> {
    const l = this.source.layer(ref, digest);
    return l instanceof Promise ? l.then(f) : f(l);
  }

  getattr(path: string): Attr | Promise<Attr> {
    const p = parse(path);
    switch (p.kind) {
      case "root": return this.dirAttr(1);
      case "pool": return { ino: this.ino("/pool"), mode: LINK, nlink: 1, uid: this.uid, gid: this.gid, size: Buffer.byteLength(this.source.poolDir), rdev: 0, mtime: this.started };
      case "ref": {
        const r = this.source.resolveRef(p.ref);
        const a = this.dirAttr(this.ino(path));
        return r instanceof Promise ? r.then(() => a) : a;
      }
      case "layer": return this.withLayer(p.ref, p.digest, () => this.dirAttr(this.ino(path)));
      case "file":
        if (p.name === "use") throw new FsError("ENOENT");
        return this.withLayer(p.ref, p.digest, (layer) => this.fileAttr(this.ino(path), p.name === "info" ? layer.info.length : layer.blobSize));
      case "diff": return this.withLayer(p.ref, p.digest, (layer) => {
        const lower = this.lower(p.digest, layer);
        return lower.attr(lower.resolve(p.rel));
      });
    }
  }

  readdir(path: string, cookie: number): DirPage | Promise<DirPage> {
    const p = parse(path);
    const none: DirPage = { names: [], attrs: [], cookies: [] };
    switch (p.kind) {
      case "root": return none;
      case "ref": {
        const r = this.source.resolveRef(p.ref);
        return r instanceof Promise ? r.then(() => none) : none;
      }
      case "layer": return this.withLayer(p.ref, p.digest, (layer) => {
        // three entries: cookies 1, 2, 3
        const attrs = [
          this.dirAttr(this.ino(`${path}/diff`)),
          this.fileAttr(this.ino(`${path}/info`), layer.info.length),
          this.fileAttr(this.ino(`${path}/blob`), layer.blobSize),
        ];
        const from = Number.isInteger(cookie) && cookie >= 0 ? cookie : attrs.length;
        return { names: ["diff", "info", "blob"].slice(from), attrs: attrs.slice(from), cookies: [1, 2, 3].slice(from) };
      });
      case "diff": return this.withLayer(p.ref, p.digest, (layer) => this.lower(p.digest, layer).readdir(p.rel, cookie));
      default: throw new FsError("ENOTDIR");
    }
  }

  open(path: string, flags: number): number | Promise<number> {
    if ((flags & 3) !== constants.O_RDONLY) throw new FsError("EROFS");
    const p = parse(path);
    const add = (h: DistributiveOmit<Handle, "unhold">, layer: LayerView) => {
      const fh = this.nextFh++;
      this.handles.set(fh, { ...h, unhold: layer.hold() } as Handle);
      return fh;
    };
    switch (p.kind) {
      case "file":
        if (p.name === "use") throw new FsError("ENOENT");
        return this.withLayer(p.ref, p.digest, (layer) =>
          add(p.name === "info" ? { kind: "info", layer } : { kind: "blob", blob: layer.openBlob() }, layer));
      case "diff":
        return this.withLayer(p.ref, p.digest, (layer) => add({ kind: "diff", layer, id: this.lower(p.digest, layer).regular(p.rel) }, layer));
      case "root": case "ref": case "layer": throw new FsError("EISDIR");
      default: throw new FsError("EACCES");
    }
  }

  read(path: string, fh: number, into: Buffer, length: number, position: number): number | Promise<number> {
    const h = this.handles.get(fh);
    if (!h) throw new FsError("EBADF");
    if (h.kind === "info") {
      const info = h.layer.info;
      if (position >= info.length) return 0;
      const n = Math.min(length, info.length - position);
      into.set(info.subarray(position, position + n));
      return n;
    }
    const out = into.subarray(0, length);
    const r = h.kind === "diff" ? h.layer.readFile(h.id, out, position, length) : h.blob.read(out, position, length);
    if (typeof r === "number") return r;
    return r.catch((e: unknown) => {
      if (!(e instanceof FsError)) this.opts.onReadError?.(path, e);
      throw e instanceof FsError ? e : new FsError("EIO", (e as Error).message);
    });
  }

  release(_path: string, fh: number): void {
    const h = this.handles.get(fh);
    this.handles.delete(fh);
    h?.unhold();
  }

  readlink(path: string): string | Promise<string> {
    const p = parse(path);
    if (p.kind === "pool") return this.source.poolDir;
    if (p.kind !== "diff") throw new FsError("EINVAL");
    return this.withLayer(p.ref, p.digest, (layer) => this.lower(p.digest, layer).readlink(p.rel));
  }

  getxattr(path: string, name: string): Buffer | null | Promise<Buffer | null> {
    const p = parse(path);
    if (p.kind !== "diff") {
      return this.after(p, () => null);
    }
    return this.withLayer(p.ref, p.digest, (layer) => this.lower(p.digest, layer).getxattr(p.rel, name));
  }

  listxattr(path: string): string[] | Promise<string[]> {
    const p = parse(path);
    if (p.kind !== "diff") return this.after(p, () => []);
    return this.withLayer(p.ref, p.digest, (layer) => this.lower(p.digest, layer).listxattr(p.rel));
  }

  // Runs `f` once the node behind a non-diff path is known to exist (ENOENT otherwise).
  private after<T>(p: Parsed, f: () => T): T | Promise<T> {
    let exists: unknown;
    if (p.kind === "ref") exists = this.source.resolveRef(p.ref);
    else if (p.kind === "file" && p.name === "use") throw new FsError("ENOENT");
    else if (p.kind === "layer" || p.kind === "file") exists = this.source.layer(p.ref, p.digest);
    return exists instanceof Promise ? exists.then(f) : f();
  }

  // The engine's reference signal: open(<layer>/use, O_CREAT) takes one and answers ENOENT.
  create(path: string, _mode: number): number | Promise<number> {
    const p = parse(path);
    if (p.kind !== "file" || p.name !== "use") throw new FsError("EROFS");
    return this.withLayer(p.ref, p.digest, () => {
      this.source.use(p.ref, p.digest);
      throw new FsError("ENOENT");
    });
  }

  // The engine's release signal: rmdir(<layer dir>) drops one reference and answers ENOENT.
  rmdir(path: string): void {
    const p = parse(path);
    if (p.kind === "layer") {
      this.source.release(p.ref, p.digest);
      throw new FsError("ENOENT");
    }
    throw new FsError("EROFS");
  }

  access(path: string, mode: number): void | Promise<void> {
    if (mode & constants.W_OK) throw new FsError("EROFS");
    const a = this.getattr(path);
    return a instanceof Promise ? a.then(() => undefined) : undefined;
  }

  statfs(_path: string): StatFs {
    return { bsize: 4096, frsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, favail: 0, fsid: 0, flag: 1, namemax: 255 };
  }
}
