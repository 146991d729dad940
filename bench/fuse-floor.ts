// The floor under bench:store's figures: what Node + fuse-native + our FUSE wrapper (src/fs/fuse.ts,
// the store's mount options) cost with nothing behind them. One directory holding one file of
// `size` bytes (a 1 MiB random pattern repeated, so that the file's size does not show in the RSS);
// no registry, no TOC, no verification, no worker threads.
// bench/store.ts starts it as its own process (a process must not read the mount it serves) and times
// the same commands on it as on the store: spawn → first `ls`, a read of the file with the page cache
// dropped (every byte through FUSE requests answered from memory), and its peak RSS.
//
//   node dist/bench/fuse-floor.js MOUNTPOINT SIZE     prints "ready" once mounted; SIGTERM unmounts
import { randomFillSync } from "node:crypto";
import { constants } from "node:fs";
import { FsError } from "../src/util/errno.js";
import { mountFs, type Attr } from "../src/fs/fuse.js";

const [mountpoint, sizeArg] = process.argv.slice(2);
const size = Number(sizeArg);
const PATTERN = 1 << 20;
const pattern = randomFillSync(Buffer.allocUnsafe(PATTERN));
/** Copies [position, position + length) of the file into `into`; the count copied. */
function readAt(into: Buffer, length: number, position: number): number {
  const end = Math.min(size, position + length);
  let n = 0;
  for (let at = position; at < end;) {
    const from = at % PATTERN;
    const k = Math.min(end - at, PATTERN - from);
    pattern.copy(into, n, from, from + k);
    n += k;
    at += k;
  }
  return n;
}
const now = Date.now();
const dir: Attr = { ino: 1, mode: constants.S_IFDIR | 0o755, nlink: 2, uid: 0, gid: 0, size: 4096, rdev: 0, mtime: now };
const file: Attr = { ino: 2, mode: constants.S_IFREG | 0o444, nlink: 1, uid: 0, gid: 0, size, rdev: 0, mtime: now };
const NAME = "/big.bin";
const attr = (p: string): Attr => {
  if (p === "/") return dir;
  if (p === NAME) return file;
  throw new FsError("ENOENT");
};

const mounted = await mountFs(mountpoint, {
  getattr: attr,
  readdir: (_p, cookie) => (cookie === 0 ? { names: [NAME.slice(1)], attrs: [file], cookies: [1] } : { names: [], attrs: [], cookies: [] }),
  open: (p) => { attr(p); return 0; },
  read: (_p, _fh, into, length, position) => readAt(into, length, position),
  release: () => {},
  readlink: () => { throw new FsError("EINVAL"); },
  getxattr: () => null,
  listxattr: () => [],
  create: () => { throw new FsError("EROFS"); },
  rmdir: () => { throw new FsError("EROFS"); },
  access: (p) => { attr(p); },
  statfs: () => ({ bsize: 4096, frsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 2, ffree: 0, favail: 0, fsid: 0, flag: 0, namemax: 255 }),
}, { entryTimeout: 1, attrTimeout: 1, negativeTimeout: 1, opTimeoutMs: 15_000 }); // the store's defaults (stargz-store's)
process.stdout.write("ready\n");
process.once("SIGTERM", () => { void mounted.unmount().then(() => process.exit(0), () => process.exit(1)); });
