// A process that mounts a one-directory file system and waits to be killed (for the stale-mount test).
import { constants } from "node:fs";
import { mountFs } from "../../src/fs/fuse.js";
import { FsError } from "../../src/util/errno.js";

const dir = process.argv[2];
const root = { ino: 1, mode: constants.S_IFDIR | 0o755, nlink: 2, uid: 0, gid: 0, size: 0, rdev: 0, mtime: 0 };
const none = (): never => { throw new FsError("ENOENT"); };
await mountFs(dir, {
  getattr: (p) => (p === "/" ? root : none()),
  readdir: () => ({ names: [], attrs: [], cookies: [] }),
  open: none, read: none, release: () => {}, readlink: none, getxattr: () => null, listxattr: () => [],
  create: none, rmdir: none, access: () => {},
  statfs: () => ({ bsize: 4096, frsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, favail: 0, fsid: 0, flag: 1, namemax: 255 }),
}, { entryTimeout: 1, attrTimeout: 1, negativeTimeout: 1, opTimeoutMs: 30_000 });
process.stdout.write("mounted\n");
setInterval(() => {}, 1 << 30);
