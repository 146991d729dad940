// The FUSE plumbing: fuse-native 2.2.6 (libfuse 2.9 high-level path API) behind async handlers.
//
// * fuse-native builds its `-o` string from a fixed list without `use_ino` (without it libfuse replaces
//   our inode numbers and hardlinks stop sharing one), `suid`, `nodev`, `default_permissions` or
//   `negative_timeout`: `StoreFuse` extends its option builder (one method) instead of forking the package.
// * `default_permissions`: the kernel checks every access against the owner and mode we answer, so a
//   user other than root or the mount's owner cannot create `use` or rmdir a layer (EACCES): fuse-native
//   does not tell a handler who is calling.
// * Every handler answers through its callback exactly once, on every path: `answer()` below.
// * readdir is paged: fuse-native 2.2.6 as rebuilt by scripts/fuse-native.mjs (a small C patch) hands
//   the handler the kernel's directory offset and passes each entry's offset to libfuse, which then
//   asks for the next page instead of holding the whole listing. With the package's prebuild (the
//   patch not built) the pages are joined and the directory goes to libfuse in one piece, as before.
// * fuse-native unmounts through `fusermount`, absent when fuse3 is installed: we unmount with
//   `umount` (root) or `fusermount3 -u`, then release the native thread's loop handle.
// * A mount left by a killed process (ENOTCONN on stat) is detached before mounting again.
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { execFile } from "node:child_process";
import { readFile, stat, writeFile } from "node:fs/promises";
import { promisify } from "node:util";
import { FsError, errnoOf } from "../util/errno.js";

const require = createRequire(import.meta.url);
// fuse-native is CommonJS without types; its binding is loaded once by node-gyp-build (cached by path).
const Fuse = require("fuse-native") as FuseNativeClass;
const binding = require("node-gyp-build")(dirname(require.resolve("fuse-native/package.json"))) as {
  fuse_native_unmount(mnt: string, thread: Buffer): void;
};
const execFileP = promisify(execFile);

/** What getattr/readdir return for one entry. Times in milliseconds since the epoch. */
export interface Attr {
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  rdev: number;
  mtime: number;
}

/** One page of a directory listing: entries, their attributes, and per entry the cookie that resumes after it. */
export interface DirPage {
  names: string[];
  attrs: Attr[];
  /** Opaque to the kernel, > 0 and < 2^53; handed back as `readdir`'s `cookie` (seekdir too). */
  cookies: number[];
}

/**
 * Most entries a `readdir` page holds: a kernel request takes at most 128 KiB of dirents (32 pages,
 * libfuse 2's default), ~3000 short names; `ls` (glibc's 32 KiB buffer) takes ~800. What does not fit
 * is asked for again from its cookie.
 */
export const DIR_PAGE_ENTRIES = 1024;

/** The handlers a file system implements. Throw `FsError` to answer an errno; anything else is EIO. */
export interface FsHandlers {
  getattr(path: string): Attr | Promise<Attr>;
  /**
   * The entries after `cookie` (0: from the start), at most DIR_PAGE_ENTRIES; an empty page ends the
   * listing. A cookie that is not one of this directory's answers an empty page.
   */
  readdir(path: string, cookie: number): DirPage | Promise<DirPage>;
  open(path: string, flags: number): number | Promise<number>;
  read(path: string, fh: number, into: Buffer, length: number, position: number): number | Promise<number>;
  release(path: string, fh: number): void | Promise<void>;
  readlink(path: string): string | Promise<string>;
  /** The value, or null for ENODATA. */
  getxattr(path: string, name: string): Buffer | null | Promise<Buffer | null>;
  listxattr(path: string): string[] | Promise<string[]>;
  create(path: string, mode: number): number | Promise<number>;
  rmdir(path: string): void | Promise<void>;
  access(path: string, mode: number): void | Promise<void>;
  statfs(path: string): StatFs | Promise<StatFs>;
}

export interface StatFs {
  bsize: number; frsize: number; blocks: number; bfree: number; bavail: number;
  files: number; ffree: number; favail: number; fsid: number; flag: number; namemax: number;
}

export interface MountOptions {
  /** Seconds the kernel caches a name → entry / attributes / a missing name. */
  entryTimeout: number;
  attrTimeout: number;
  negativeTimeout: number;
  /** Deadline in ms of a request answered later (a promise), after which it is answered ETIMEDOUT; sized to the fetch timeouts. */
  opTimeoutMs: number;
  fsname?: string;
  debug?: boolean;
  /** Called with any handler failure that was not an FsError (answered EIO). */
  onError?: (op: string, path: string, err: unknown) => void;
  /** Told of every request: when it starts, and when it is answered (with its errno name on failure). */
  observer?: RequestObserver;
}

export interface RequestObserver {
  begin(): void;
  /** `startNs` = `process.hrtime.bigint()` at the start; `errno` = the error answered, if any. */
  end(op: string, startNs: bigint, errno?: string): void;
}

/** A mounted file system; `unmount()` detaches it and lets the process exit. */
export interface MountedFs {
  readonly mountpoint: string;
  unmount(): Promise<void>;
}

const EIO = -errnoOf("EIO");
const ERANGE = -errnoOf("ERANGE");
const ENODATA = -errnoOf("ENODATA");
const EROFS = -errnoOf("EROFS");
const ETIMEDOUT = -errnoOf("ETIMEDOUT");

function toStat(a: Attr): object {
  return {
    ino: a.ino, mode: a.mode, nlink: a.nlink, uid: a.uid, gid: a.gid, size: a.size, rdev: a.rdev,
    blksize: 4096, blocks: Math.ceil(a.size / 512), mtime: a.mtime, atime: a.mtime, ctime: a.mtime,
  };
}

/**
 * Mounts `handlers` at `mountpoint` (writes EROFS), with suid, nodev, use_ino and default_permissions,
 * after detaching a stale mount.
 */
export async function mountFs(mountpoint: string, handlers: FsHandlers, opts: MountOptions): Promise<MountedFs> {
  await detachStaleMount(mountpoint);
  const onError = opts.onError ?? (() => {});

  // Runs a handler and answers exactly once: value → cb(0, ...), FsError → its errno, else EIO.
  const observer = opts.observer;
  function answer<T>(op: string, path: string, run: () => T | Promise<T>, ok: (v: T) => void, fail: (errno: number) => void): void {
    let done = false;
    const t0 = observer ? process.hrtime.bigint() : 0n;
    observer?.begin();
    const settle = (f: () => void, errno?: string) => {
      if (done) return;
      done = true;
      observer?.end(op, t0, errno);
      f();
    };
    const onFail = (e: unknown) => settle(() => {
      if (e instanceof FsError) return fail(-e.errno);
      onError(op, path, e);
      fail(EIO);
    }, e instanceof FsError ? e.code : "EIO");
    try {
      const v = run();
      if (v instanceof Promise) {
        // Only a request answered later can hang, so only those get a deadline (fuse-native's own
        // would arm and clear a timer for every request, the many answered at once included).
        const timer = setTimeout(() => settle(() => {
          onError(op, path, new Error(`no answer within ${opts.opTimeoutMs} ms`));
          fail(ETIMEDOUT);
        }, "ETIMEDOUT"), opts.opTimeoutMs);
        v.then((x) => { clearTimeout(timer); settle(() => ok(x)); }, (e) => { clearTimeout(timer); onFail(e); });
      } else {
        settle(() => ok(v));
      }
    } catch (e) {
      onFail(e);
    }
  }

  type Cb = (err: number, ...rest: unknown[]) => void;
  const ops = {
    getattr: (p: string, cb: Cb) => answer("getattr", p, () => handlers.getattr(p), (a) => cb(0, toStat(a)), cb),
    fgetattr: (p: string, _fd: number, cb: Cb) => answer("fgetattr", p, () => handlers.getattr(p), (a) => cb(0, toStat(a)), cb),
    // Present so that fuse-native registers the op; the real work is in StoreFuse._op_readdir.
    readdir: (_p: string, cb: Cb) => cb(0, [], []),
    open: (p: string, flags: number, cb: Cb) => answer("open", p, () => handlers.open(p, flags), (fh) => cb(0, fh), cb),
    opendir: (p: string, _flags: number, cb: Cb) => answer("opendir", p, () => 0, (fh) => cb(0, fh), cb),
    read: (p: string, fh: number, buf: Buffer, len: number, pos: number, cb: Cb) =>
      answer("read", p, () => handlers.read(p, fh, buf, len, pos), (n) => cb(n), (e) => cb(e)),
    release: (p: string, fh: number, cb: Cb) => answer("release", p, () => handlers.release(p, fh), () => cb(0), cb),
    releasedir: (_p: string, _fh: number, cb: Cb) => cb(0),
    readlink: (p: string, cb: Cb) => answer("readlink", p, () => handlers.readlink(p), (t) => cb(0, t), cb),
    listxattr: (p: string, cb: Cb) => answer("listxattr", p, () => handlers.listxattr(p), (l) => cb(0, l), cb),
    create: (p: string, mode: number, cb: Cb) => answer("create", p, () => handlers.create(p, mode), (fh) => cb(0, fh), cb),
    rmdir: (p: string, cb: Cb) => answer("rmdir", p, () => handlers.rmdir(p), () => cb(0), cb),
    access: (p: string, mode: number, cb: Cb) => answer("access", p, () => handlers.access(p, mode), () => cb(0), cb),
    statfs: (p: string, cb: Cb) => answer("statfs", p, () => handlers.statfs(p), (s) => cb(0, s), cb),
    // Read-only: everything that would change the tree is EROFS. (Not the `ro` mount option: with it the
    // kernel answers open(O_CREAT) itself with EROFS, and the engine's `use` signal never arrives.)
    write: (_p: string, _fh: number, _b: Buffer, _l: number, _o: number, cb: Cb) => cb(EROFS),
    truncate: (_p: string, _s: number, cb: Cb) => cb(EROFS),
    ftruncate: (_p: string, _fh: number, _s: number, cb: Cb) => cb(EROFS),
    utimens: (_p: string, _a: number, _m: number, cb: Cb) => cb(EROFS),
    chmod: (_p: string, _m: number, cb: Cb) => cb(EROFS),
    chown: (_p: string, _u: number, _g: number, cb: Cb) => cb(EROFS),
    mknod: (_p: string, _m: number, _d: number, cb: Cb) => cb(EROFS),
    mkdir: (_p: string, _m: number, cb: Cb) => cb(EROFS),
    unlink: (_p: string, cb: Cb) => cb(EROFS),
    rename: (_s: string, _d: string, cb: Cb) => cb(EROFS),
    link: (_s: string, _d: string, cb: Cb) => cb(EROFS),
    symlink: (_s: string, _d: string, cb: Cb) => cb(EROFS),
    setxattr: (_p: string, _n: string, _v: Buffer, _pos: number, _f: number, cb: Cb) => cb(EROFS),
    removexattr: (_p: string, _n: string, cb: Cb) => cb(EROFS),
    // Present so that fuse-native registers the op; the real work is in StoreFuse._op_getxattr.
    getxattr: (_p: string, _n: string, _pos: number, cb: Cb) => cb(ENODATA),
  };

  class StoreFuse extends Fuse {
    // fuse-native's builder plus what it lacks.
    override _fuseOptions(): string {
      const base = super._fuseOptions();
      const extra = [
        "suid", "nodev", "use_ino", "allow_other", "default_permissions", "kernel_cache",
        `negative_timeout=${opts.negativeTimeout}`,
      ];
      // fuse-native skips a timeout of 0; the kernel default for it is 1 s, not 0, so pass it always.
      extra.push(`entry_timeout=${opts.entryTimeout}`, `attr_timeout=${opts.attrTimeout}`);
      return base ? `${base},${extra.join(",")}` : `-o${extra.join(",")}`;
    }

    // fuse-native copies the value into the kernel's buffer without checking its size; a value larger
    // than a non-zero buffer must be ERANGE (the caller retries with the size of a 0-byte probe).
    override _op_getxattr(signal: (err: number, buf?: ArrayBufferLike) => void, path: string, name: string, valueBuf: Buffer): void {
      answer("getxattr", path, () => handlers.getxattr(path, name), (v) => {
        if (!v) return signal(ENODATA, valueBuf.buffer);
        if (valueBuf.length === 0) return signal(v.length, valueBuf.buffer);
        if (v.length > valueBuf.length) return signal(ERANGE, valueBuf.buffer);
        v.copy(valueBuf);
        signal(v.length, valueBuf.buffer);
      }, (e) => signal(e, valueBuf.buffer));
    }

    // `offLow`/`offHigh`: the directory offset, from the patched binding only (see the header).
    override _op_readdir(signal: (err: number, names?: string[], stats?: Uint32Array[]) => void, path: string, offLow?: number, offHigh?: number): void {
      const page = typeof offLow === "number"
        ? () => handlers.readdir(path, offLow + (offHigh ?? 0) * 2 ** 32)
        : () => wholeDir(handlers, path);
      answer("readdir", path, page, (p) => signal(0, p.names, direntStats(p)), (e) => signal(e));
    }

    override _close(cb: (err: Error | null) => void): void {
      unmountPath(this.mnt).then(() => {
        binding.fuse_native_unmount(this.mnt, this._thread);
        cb(null);
      }, (err: Error) => cb(err));
    }
  }

  const fuse = new StoreFuse(mountpoint, ops, {
    fsname: opts.fsname ?? "esgz-fast",
    subtype: "esgz-fast",
    debug: opts.debug,
    timeout: false, // answer() keeps the deadline of requests answered later
  });
  await new Promise<void>((resolve, reject) => fuse.mount((err) => (err ? reject(err) : resolve())));
  let closing: Promise<void> | undefined;
  return {
    mountpoint: fuse.mnt,
    unmount: () => (closing ??= new Promise<void>((resolve, reject) => fuse.unmount((err) => (err ? reject(err) : resolve())))),
  };
}

/** Every page of a directory, joined: for the package's prebuild, whose libfuse call takes all at once. */
async function wholeDir(handlers: FsHandlers, path: string): Promise<DirPage> {
  const all: DirPage = { names: [], attrs: [], cookies: [] };
  for (let cookie = 0; ;) {
    const p = await handlers.readdir(path, cookie);
    if (p.names.length === 0) return all;
    for (let i = 0; i < p.names.length; i++) {
      all.names.push(p.names[i]);
      all.attrs.push(p.attrs[i]);
    }
    cookie = p.cookies[p.cookies.length - 1]; // (all.cookies stays empty: libfuse gets no offsets here)
  }
}

/** Words of a readdir entry's stat array: fuse-native's 18 (getStatArray's layout), then the entry's offset. */
const DIRENT_WORDS = 20;

/**
 * The page's stat arrays for fuse-native: views of one buffer (not an ArrayBuffer per entry). A dirent
 * carries only the inode number and the type, so only mode and ino are filled; words 18-19 are the
 * entry's offset (0 when the page has no cookies), read by the patched binding.
 */
function direntStats(p: DirPage): Uint32Array[] {
  const words = new Uint32Array(p.names.length * DIRENT_WORDS);
  const out = new Array<Uint32Array>(p.names.length);
  for (let i = 0; i < p.names.length; i++) {
    const at = i * DIRENT_WORDS;
    words[at] = p.attrs[i].mode;
    words[at + 7] = p.attrs[i].ino;
    const cookie = p.cookies[i] ?? 0;
    words[at + 18] = cookie % 2 ** 32;
    words[at + 19] = Math.floor(cookie / 2 ** 32);
    out[i] = words.subarray(at, at + DIRENT_WORDS);
  }
  return out;
}

/** Unmounts a FUSE mount point: normal unmount, lazily if it is busy (e.g. an overlay still uses it). */
export async function unmountPath(mnt: string): Promise<void> {
  const asRoot = process.getuid?.() === 0;
  try {
    if (asRoot) await execFileP("umount", [mnt]);
    else await execFileP("fusermount3", ["-u", mnt]);
  } catch {
    if (!(await isMountPoint(mnt))) return;
    if (asRoot) await execFileP("umount", ["-l", mnt]);
    else await execFileP("fusermount3", ["-uz", mnt]);
  }
}

/** True if `path` is the mount point of some mount (from /proc/self/mountinfo). */
export async function isMountPoint(path: string): Promise<boolean> {
  return (await mountDevice(path)) !== undefined;
}

/** The "major:minor" device of the mount at `path` (the last one mounted there), if any. */
async function mountDevice(path: string): Promise<string | undefined> {
  const info = await readFile("/proc/self/mountinfo", "utf8");
  let dev: string | undefined;
  for (const line of info.split("\n")) {
    const f = line.split(" ");
    if (f[4] !== undefined && unescapeMountinfo(f[4]) === path) dev = f[2];
  }
  return dev;
}

// A dead daemon's connection can stay open: libfuse 2 opens /dev/fuse without O_CLOEXEC, so a child it
// spawned (an `umount`, a container monitor) may still hold it, and then any request on the mount,
// umount's own statfs included, waits forever. Aborting the connection through fusectl ends that.
async function abortConnection(dev: string): Promise<void> {
  const minor = dev.split(":")[1];
  const ctl = "/sys/fs/fuse/connections";
  try {
    await stat(`${ctl}/${minor}`);
  } catch {
    await execFileP("mount", ["-t", "fusectl", "fusectl", ctl]).catch(() => {});
  }
  await writeFile(`${ctl}/${minor}/abort`, "1").catch(() => {});
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * Detaches a mount left at `mnt` by a store that died (its stat fails with ENOTCONN). A live mount
 * (another store still serving) is an error: two stores must not share a mount point.
 */
export async function detachStaleMount(mnt: string): Promise<void> {
  const dev = await mountDevice(mnt);
  if (dev === undefined) return;
  try {
    // A connection whose daemon died while a child held its fd never answers: treat silence as dead.
    let timer: NodeJS.Timeout | undefined;
    const silent = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error("no answer"), { code: "ENOTCONN" })), 3000);
    });
    await Promise.race([stat(mnt), silent]).finally(() => clearTimeout(timer));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOTCONN" || code === "ECONNABORTED") {
      if (process.getuid?.() === 0) await abortConnection(dev);
      await unmountPath(mnt);
      return;
    }
    throw e;
  }
  throw new Error(`mount point ${mnt} is already mounted and alive; stop the store serving it first`);
}

// The parts of fuse-native's class we use (it has no type declarations).
interface FuseNativeInstance {
  readonly mnt: string;
  readonly _thread: Buffer;
  _fuseOptions(): string;
  _op_getxattr(signal: (err: number, buf?: ArrayBufferLike) => void, path: string, name: string, valueBuf: Buffer, position: number): void;
  _op_readdir(signal: (err: number, names?: string[], stats?: Uint32Array[]) => void, path: string, offLow?: number, offHigh?: number): void;
  _close(cb: (err: Error | null) => void): void;
  mount(cb: (err: Error | null) => void): void;
  unmount(cb: (err: Error | null) => void): void;
}
interface FuseNativeClass {
  new (mnt: string, ops: object, opts: object): FuseNativeInstance;
}
