// The FUSE plumbing on a real kernel mount: the options fuse-native cannot set (use_ino, suid, nodev,
// default_permissions, not ro), exactly-one answers on error paths, xattr size probes, readdir types and
// pages, unmount, and the clean-up of a mount left by a killed process.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { lstat, mkdir, opendir, readdir, readFile, readlink, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { mountFs, isMountPoint, DIR_PAGE_ENTRIES, type Attr, type DirPage, type FsHandlers } from "../../src/fs/fuse.js";
import { FsError } from "../../src/util/errno.js";
import { cleanupMount, mountOptions, run, tempDir } from "../helpers/fuse.js";
import { rejects } from "../helpers/assert.js";

const T0 = Date.UTC(2024, 0, 2, 3, 4, 5);
const file = (ino: number, mode: number, size: number, nlink = 1): Attr =>
  ({ ino, mode, nlink, uid: 1000, gid: 1000, size, rdev: 0, mtime: T0 });

// A tiny fixed tree: /a and /b are hardlinks (inode 7), /s a symlink, /setuid 04755, /dev a char device,
// /bad answers a thrown plain Error (must be EIO), /slow answers after a while.
const content = Buffer.from("hello, fuse\n");
const tree: Record<string, Attr> = {
  "/": file(1, constants.S_IFDIR | 0o755, 0, 2),
  "/a": file(7, constants.S_IFREG | 0o644, content.length, 2),
  "/b": file(7, constants.S_IFREG | 0o644, content.length, 2),
  "/s": file(8, constants.S_IFLNK | 0o777, 1),
  "/setuid": file(9, constants.S_IFREG | 0o4755, 0),
  "/dev": { ...file(10, constants.S_IFCHR | 0o600, 0), rdev: (4 << 8) | 1 },
  "/bad": file(11, constants.S_IFREG | 0o644, 10),
};
// A page of `names` after `cookie`, cookies being positions (1 = after the first name).
function pageOf(names: string[], attrOf: (name: string) => Attr, cookie: number, size = DIR_PAGE_ENTRIES): DirPage {
  const part = names.slice(cookie, cookie + size);
  return { names: part, attrs: part.map(attrOf), cookies: part.map((_, i) => cookie + i + 1) };
}

const handlers: FsHandlers = {
  getattr(p) {
    const a = tree[p];
    if (!a) throw new FsError("ENOENT");
    return a;
  },
  async readdir(p, cookie) {
    if (p !== "/") throw new FsError("ENOTDIR");
    const names = Object.keys(tree).filter((n) => n !== "/").map((n) => n.slice(1));
    return pageOf(names, (n) => tree["/" + n], cookie);
  },
  open(p) {
    if (!tree[p]) throw new FsError("ENOENT");
    return 42;
  },
  async read(p, _fh, into, length, position) {
    if (p === "/bad") throw new Error("a bug in a handler");
    const part = content.subarray(position, position + length);
    part.copy(into);
    return part.length;
  },
  release() {},
  readlink(p) {
    if (p !== "/s") throw new FsError("EINVAL");
    return "a";
  },
  getxattr(p, name) {
    if (p === "/a" && name === "user.big") return Buffer.alloc(300, 1);
    if (p === "/a" && name === "user.x") return Buffer.from("y");
    return null;
  },
  listxattr(p) {
    return p === "/a" ? ["user.big", "user.x"] : [];
  },
  create() { throw new FsError("ENOENT"); },
  rmdir() { throw new FsError("ENOENT"); },
  access() {},
  statfs() {
    return { bsize: 4096, frsize: 4096, blocks: 10, bfree: 0, bavail: 0, files: 5, ffree: 0, favail: 0, fsid: 0, flag: 1, namemax: 255 };
  },
};
const opts = { entryTimeout: 1, attrTimeout: 1, negativeTimeout: 1, opTimeoutMs: 30_000 };

test("mounts with use_ino, suid, nodev and default_permissions; writes are EROFS; hardlinks share an inode; metadata is as answered", async () => {
  const dir = await tempDir("esgz-fuse-");
  try {
    const m = await mountFs(dir, handlers, opts);
    try {
      const o = await mountOptions(dir);
      assert.not.ok(o.includes("nosuid"), `no nosuid in ${o}`);
      assert.ok(o.includes("nodev"), `nodev in ${o}`);
      assert.ok(o.includes("default_permissions"), `default_permissions in ${o}`);
      const [a, b] = [await stat(join(dir, "a")), await stat(join(dir, "b"))];
      assert.is(a.ino, 7);
      assert.is(b.ino, 7);
      assert.is(a.nlink, 2);
      assert.is(a.uid, 1000);
      assert.is(a.mtimeMs, T0);
      assert.is((await stat(join(dir, "setuid"))).mode, constants.S_IFREG | 0o4755);
      const dev = await lstat(join(dir, "dev"));
      assert.ok(dev.isCharacterDevice());
      assert.is(dev.rdev, (4 << 8) | 1);
      assert.is(await readlink(join(dir, "s")), "a");
      assert.is(await readFile(join(dir, "a"), "utf8"), content.toString());
      // readdir carries types (ls -l through `find -printf %y` reads d_type without stat)
      const types = (await run("find", [dir, "-mindepth", "1", "-printf", "%f %y %i\n"])).trim().split("\n").sort();
      assert.equal(types, ["a f 7", "b f 7", "bad f 11", "dev c 10", "s l 8", "setuid f 9"]);
      const names = (await readdir(dir)).sort();
      assert.equal(names, ["a", "b", "bad", "dev", "s", "setuid"]);
      // a plain exception in a handler is EIO, answered once; the mount keeps serving
      await rejects(() => readFile(join(dir, "bad")), /EIO/);
      await rejects(() => stat(join(dir, "missing")), /ENOENT/);
      // changes are EROFS; creating a file reaches the handler (the ALS `use` signal needs it)
      await rejects(() => mkdir(join(dir, "d")), /EROFS/);
      await rejects(() => unlink(join(dir, "a")), /EROFS/);
      await rejects(() => run("setfattr", ["-n", "user.y", "-v", "1", join(dir, "a")]), /Read-only/);
      await rejects(() => writeFile(join(dir, "new"), "x"), /ENOENT/);
      // xattrs: size probe, ERANGE handled by getfattr's retry, ENODATA for others, list
      const big = await run("getfattr", ["--only-values", "-n", "user.big", join(dir, "a")]);
      assert.is(big.length, 300);
      assert.match(await run("getfattr", ["-d", join(dir, "a")]), /user\.x="y"/);
      await rejects(() => run("getfattr", ["-n", "user.none", join(dir, "a")]), /No such attribute/);
      assert.match(await run("stat", ["-f", "-c", "%b %S", dir]), /^10 4096/);
    } finally {
      await m.unmount();
    }
    assert.not.ok(await isMountPoint(dir));
  } finally {
    await cleanupMount(dir);
  }
});

test("readdir is paged: the handler is asked from the kernel's offset, a page at a time, and every name comes once", async () => {
  const dir = await tempDir("esgz-fuse-pages-");
  const names = Array.from({ length: 10_000 }, (_, i) => `entry-${i}`);
  const entryAttr = (n: string): Attr => file(100 + Number(n.slice(6)), constants.S_IFREG | 0o644, 0);
  const calls: Array<{ cookie: number; n: number }> = [];
  const paged: FsHandlers = {
    ...handlers,
    getattr: (p) => (p === "/" ? tree["/"] : entryAttr(p.slice(1))),
    readdir(_p, cookie) {
      const page = pageOf(names, entryAttr, cookie, 500);
      calls.push({ cookie, n: page.names.length });
      return page;
    },
  };
  try {
    const m = await mountFs(dir, paged, opts);
    try {
      // reading the first entry asks for the first page only (not the whole directory)
      const d = await opendir(dir);
      assert.ok((await d.read())?.name.startsWith("entry-"));
      await d.close();
      assert.ok(calls.length <= 2, `${calls.length} calls for the first entry`);
      calls.length = 0;
      const listed = await readdir(dir);
      assert.is(listed.length, names.length);
      assert.equal([...listed].sort(), [...names].sort());
      // many calls, each from the offset the previous one reached; none asked to hold it all
      assert.ok(calls.length >= names.length / 500, `${calls.length} calls`);
      assert.is(calls[0].cookie, 0);
      assert.ok(calls.slice(1).every((c) => c.cookie > 0), "later calls resume from an offset");
      assert.is(calls.at(-1)!.n, 0, "an empty page ends the listing");
      // dirents carry the type and inode number of the page they came from
      const found = (await run("find", [dir, "-mindepth", "1", "-name", "entry-9999", "-printf", "%y %i"])).trim();
      assert.is(found, "f 10099");
    } finally {
      await m.unmount();
    }
  } finally {
    await cleanupMount(dir);
  }
});

test("a request answered later that never is gets ETIMEDOUT at the deadline, named in onError; the mount keeps serving", async () => {
  const dir = await tempDir("esgz-fuse-");
  const failures: string[] = [];
  try {
    const slow: FsHandlers = { ...handlers, read: (p, fh, into, len, pos) => (p === "/bad" ? new Promise<number>(() => {}) : handlers.read(p, fh, into, len, pos)) };
    const m = await mountFs(dir, slow, { ...opts, opTimeoutMs: 500, onError: (op, path, err) => failures.push(`${op} ${path}: ${(err as Error).message}`) });
    try {
      await rejects(() => readFile(join(dir, "bad")), /ETIMEDOUT|timed out/);
      // (the kernel may have asked for the file's pages in more than one read)
      assert.ok(failures.length > 0 && failures.every((f) => f === "read /bad: no answer within 500 ms"), failures.join("; "));
      assert.is(await readFile(join(dir, "a"), "utf8"), content.toString());
    } finally {
      await m.unmount();
    }
  } finally {
    await cleanupMount(dir);
  }
});

test("a mount left by a killed process is detached and mounted again", async () => {
  const dir = await tempDir("esgz-fuse-stale-");
  const child = fileURLToPath(new URL("./fuse-child.js", import.meta.url));
  try {
    const p = spawn(process.execPath, [child, dir], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve, reject) => {
      p.stdout!.on("data", (d: Buffer) => { if (d.toString().includes("mounted")) resolve(); });
      p.on("exit", (code) => reject(new Error(`child exited ${code} before mounting`)));
    });
    assert.ok(await isMountPoint(dir));
    p.kill("SIGKILL");
    await new Promise((r) => p.on("exit", r));
    await rejects(() => stat(dir), /ENOTCONN/);
    const m = await mountFs(dir, handlers, opts);
    try {
      assert.is((await stat(join(dir, "a"))).ino, 7);
    } finally {
      await m.unmount();
    }
  } finally {
    await cleanupMount(dir);
  }
});

test.run();
