// A layer's file tree in overlayfs lower-dir form, as the kernel's overlayfs reads `diff/`:
//   * an OCI whiteout `.wh.NAME` is a character device NAME 0/0 (unless a real NAME is beside it),
//     and the `.wh.` entry itself is hidden;
//   * `.wh..wh..opq` is hidden and its directory answers trusted.overlay.opaque / user.overlay.opaque = y;
//   * the prefetch landmarks are hidden from the root;
//   * hardlinks share their target's inode number; everything else has its own, stable for the layer;
//   * a listing is paged (DIR_PAGE_ENTRIES), each entry's cookie its node id + 1: the next page starts at
//     that node's next sibling, so listing a directory of n entries costs O(n) in all and O(page) at once.
// Lookups go straight to the index (one hash lookup, plus one for the `.wh.` sibling on a miss), so the
// frequent probes of absent names cost nothing else.
import { constants } from "node:fs";
import { DIR_PAGE_ENTRIES, type Attr, type DirPage } from "./fuse.js";
import { FsError } from "../util/errno.js";

/** TOC entry types as `TocIndex.type` numbers them. */
export const T = { dir: 1, reg: 2, symlink: 3, hardlink: 4, char: 5, block: 6, fifo: 7 } as const;

/** What the presentation needs from a layer's TOC index: the subset of `TocIndex` (src/core/toc.ts) it reads. */
export interface TreeIndex {
  /** Node id of a path ("" = root, id 0), or -1. */
  lookup(path: string): number;
  /** 1 dir, 2 reg, 3 symlink, 4 hardlink, 5 char, 6 block, 7 fifo. */
  type(id: number): number;
  /** Raw TOC mode: permission bits including setuid/setgid/sticky. */
  mode(id: number): number;
  uid(id: number): number;
  gid(id: number): number;
  size(id: number): number;
  mtimeSec(id: number): number;
  mtimeNsec(id: number): number;
  devMajor(id: number): number;
  devMinor(id: number): number;
  /** Number of nodes (ids are 0 … count - 1). */
  readonly count: number;
  /** 2 + subdirectories for a directory, 1 + hardlinks to it for a file. */
  nlink(id: number): number;
  linkName(id: number): string;
  baseName(id: number): string;
  /** First child of a directory in TOC order, or -1. */
  firstChild(id: number): number;
  /** Next sibling in TOC order, or -1. */
  nextSibling(id: number): number;
  /** Parent directory's id (the root's is the root). */
  parent(id: number): number;
  /** A hardlink's final target; the id itself otherwise. */
  resolveHardlink(id: number): number;
  xattrs(id: number): Array<{ name: string; value: Uint8Array }>;
}

const WH = ".wh.";
const OPAQUE = ".wh..wh..opq";
const LANDMARKS = new Set([".prefetch.landmark", ".no.prefetch.landmark"]);
const OPAQUE_XATTRS = ["trusted.overlay.opaque", "user.overlay.opaque"];
const Y = Buffer.from("y");

const S_IF = [0, constants.S_IFDIR, constants.S_IFREG, constants.S_IFLNK, constants.S_IFREG, constants.S_IFCHR,
  constants.S_IFBLK, constants.S_IFIFO];

/** Linux makedev (glibc encoding), as a 32-bit value for small major/minor numbers. */
export function makedev(major: number, minor: number): number {
  return (((major & 0xfff) << 8) | (minor & 0xff) | ((minor & 0xfff00) << 12)) >>> 0;
}

/** A node of the presented tree: a real entry, or the device that stands for a whiteout. */
export interface Node {
  /** TOC entry id (the `.wh.` entry's for a whiteout; the target's for a hardlink). */
  id: number;
  whiteout: boolean;
}

export class LowerDir {
  /** `inoBase + id + 1` are this layer's inode numbers. */
  constructor(readonly index: TreeIndex, private readonly inoBase: number) {}

  /** The node at `rel` ("" = the diff root), or ENOENT. */
  resolve(rel: string): Node {
    const slash = rel.lastIndexOf("/");
    const base = rel.slice(slash + 1);
    if (base.startsWith(WH)) throw new FsError("ENOENT");
    if (slash < 0 && LANDMARKS.has(base)) throw new FsError("ENOENT");
    const id = this.index.lookup(rel);
    if (id >= 0) return { id: this.index.resolveHardlink(id), whiteout: false };
    if (rel === "") throw new FsError("ENOENT");
    const wh = this.index.lookup(slash < 0 ? WH + base : `${rel.slice(0, slash)}/${WH}${base}`);
    if (wh >= 0) return { id: wh, whiteout: true };
    throw new FsError("ENOENT");
  }

  attr(node: Node): Attr {
    const ix = this.index;
    const id = node.id;
    const ino = this.inoBase + id + 1;
    const mtime = ix.mtimeSec(id) * 1000 + Math.floor(ix.mtimeNsec(id) / 1e6);
    if (node.whiteout) {
      return { ino, mode: constants.S_IFCHR, nlink: 1, uid: ix.uid(id), gid: ix.gid(id), size: 0, rdev: 0, mtime };
    }
    const type = ix.type(id);
    const isDev = type === T.char || type === T.block;
    return {
      ino, mode: (S_IF[type] ?? 0) | (ix.mode(id) & 0o7777), nlink: ix.nlink(id), uid: ix.uid(id), gid: ix.gid(id),
      size: type === T.reg ? ix.size(id) : type === T.symlink ? Buffer.byteLength(ix.linkName(id)) : type === T.dir ? 4096 : 0,
      rdev: isDev ? makedev(ix.devMajor(id), ix.devMinor(id)) : 0, mtime,
    };
  }

  /**
   * A page of a directory's presented entries (without . and ..) after `cookie`: 0, or the cookie of an
   * entry of this directory (its node id + 1); anything else is an empty page. A `.wh.NAME` shows as
   * NAME unless a real NAME is beside it (one lookup per whiteout, not a set of every name).
   */
  readdir(rel: string, cookie: number): DirPage {
    const dir = this.resolve(rel);
    const ix = this.index;
    if (dir.whiteout || ix.type(dir.id) !== T.dir) throw new FsError("ENOTDIR");
    const page: DirPage = { names: [], attrs: [], cookies: [] };
    let child: number;
    if (cookie === 0) child = ix.firstChild(dir.id);
    else if (Number.isInteger(cookie) && cookie > 1 && cookie <= ix.count && ix.parent(cookie - 1) === dir.id) child = ix.nextSibling(cookie - 1);
    else return page;
    const prefix = rel === "" ? "" : `${rel}/`;
    for (; child !== -1 && page.names.length < DIR_PAGE_ENTRIES; child = ix.nextSibling(child)) {
      const name = ix.baseName(child);
      let node: Node;
      let shown = name;
      if (name.startsWith(WH)) {
        shown = name.slice(WH.length);
        if (name === OPAQUE || shown === "" || ix.lookup(prefix + shown) >= 0) continue;
        node = { id: child, whiteout: true };
      } else {
        if (dir.id === 0 && LANDMARKS.has(name)) continue;
        node = { id: ix.resolveHardlink(child), whiteout: false };
      }
      page.names.push(shown);
      page.attrs.push(this.attr(node));
      page.cookies.push(child + 1);
    }
    return page;
  }

  readlink(rel: string): string {
    const n = this.resolve(rel);
    if (n.whiteout || this.index.type(n.id) !== T.symlink) throw new FsError("EINVAL");
    return this.index.linkName(n.id);
  }

  private opaque(rel: string, node: Node): boolean {
    if (node.whiteout || this.index.type(node.id) !== T.dir) return false;
    return this.index.lookup(rel === "" ? OPAQUE : `${rel}/${OPAQUE}`) >= 0;
  }

  getxattr(rel: string, name: string): Buffer | null {
    const n = this.resolve(rel);
    if (OPAQUE_XATTRS.includes(name)) return this.opaque(rel, n) ? Y : null;
    if (n.whiteout) return null;
    const v = this.index.xattrs(n.id).find((x) => x.name === name)?.value;
    return v ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : null;
  }

  listxattr(rel: string): string[] {
    const n = this.resolve(rel);
    const names = n.whiteout ? [] : this.index.xattrs(n.id).map((x) => x.name);
    if (this.opaque(rel, n)) names.push(...OPAQUE_XATTRS);
    return names;
  }

  /** The regular file's entry id behind `rel` (hardlinks resolved), for reads. */
  regular(rel: string): number {
    const n = this.resolve(rel);
    if (n.whiteout) throw new FsError("EACCES");
    const t = this.index.type(n.id);
    if (t === T.dir) throw new FsError("EISDIR");
    if (t !== T.reg) throw new FsError("EACCES");
    return n.id;
  }
}
