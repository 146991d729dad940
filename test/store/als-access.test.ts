// Who may do what on the store's mount, as another local user (nobody) would try it: the engine's
// reference signals (`use`, rmdir of a layer dir) are root's (the mount's owner's) alone, refused with
// EACCES without changing any reference; files under diff/ are read with the TOC's owners and modes
// (default_permissions); the mount is nodev.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { chmod, open, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { cleanupMount, mountOptions, run, startStore, tempDir, type StoreProcess } from "../helpers/fuse.js";
import { pushEStargzImage, refDir, type PushedEStargz } from "../helpers/podman.js";
import { packTree } from "../helpers/tartree.js";
import { rejects } from "../helpers/assert.js";

const NOBODY = ["--reuid=65534", "--regid=65534", "--clear-groups"];
const T = new Date(1_700_000_000_000);
let reg: TestRegistry;
let work: string;
let mnt: string;
let store: StoreProcess;
let img: PushedEStargz;

const layerDir = () => join(mnt, refDir(img.ref), img.layers[0].digest);
/** Runs `cmd` as nobody; resolves to its stdout, rejects with its stderr. */
const asNobody = (cmd: string, ...args: string[]) => run("setpriv", [...NOBODY, "--", cmd, ...args]);
const drops = () => store.logs().split('"msg":"idle layer dropped"').length - 1;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitForDrops(n: number): Promise<void> {
  for (let i = 0; i < 40 && drops() < n; i++) await sleep(250);
}

test.before(async () => {
  work = await tempDir("esgz-access-");
  // nobody must reach the mount point: search permission on every dir above it (temp dirs are 0700)
  for (let d = work; d !== "/"; d = dirname(d)) {
    const mode = (await stat(d)).mode & 0o7777;
    if ((mode & 0o001) === 0) await chmod(d, mode | 0o011);
  }
  mnt = join(work, "mnt");
  const tar = join(work, "layer.tar");
  const entry = (name: string, mode: number, type: "file" | "directory", data?: string) =>
    ({ name, mode, type, uid: 0, gid: 0, mtime: T, data: data === undefined ? undefined : Buffer.from(data) });
  await writeFile(tar, await packTree([
    entry("etc/", 0o755, "directory"),
    entry("etc/motd", 0o644, "file", "hello\n"),
    entry("etc/shadow", 0o600, "file", "root:secret\n"),
    entry("private/", 0o700, "directory"),
    entry("private/key", 0o644, "file", "key\n"),
  ]));
  reg = await startRegistry();
  img = await pushEStargzImage(reg, "test/access", "v1", [tar]);
  store = await startStore({ mountpoint: mnt, root: join(work, "root"), env: { ESGZ_IDLE_DROP_MS: "1000" } });
});

test.after(async () => {
  await store?.stop().catch(() => {});
  await cleanupMount(mnt).catch(() => {});
  await reg?.stop();
  await run("rm", ["-rf", work]).catch(() => {});
});

test("the mount is nodev, suid and default_permissions", async () => {
  const o = await mountOptions(mnt);
  assert.ok(o.includes("nodev"), o.join(","));
  assert.ok(o.includes("default_permissions"), o.join(","));
  assert.not.ok(o.includes("nosuid"), o.join(","));
});

test("another user's rmdir of a layer dir is EACCES and does not release root's reference", async () => {
  await run("stat", [layerDir()]);
  // root (podman) takes a reference
  await rejects(() => open(join(layerDir(), "use"), "w"), /ENOENT/);
  await rejects(() => asNobody("rmdir", layerDir()), /Permission denied/);
  await rejects(() => asNobody("rmdir", join(mnt, img.layers[0].digest)), /Permission denied/); // the :ref-less name too
  // still referenced: no idle drop past the grace period
  await sleep(2500);
  assert.is(drops(), 0, "layer dropped although root still references it");
  // root's release works: dropped within a sweep or two
  await rejects(() => run("rmdir", [layerDir()]), /No such file/);
  await waitForDrops(1);
  assert.is(drops(), 1);
});

test("another user's `use` is EACCES and takes no reference: the layer is dropped when idle", async () => {
  const before = drops();
  // the lookup opens the layer again (anyone may look); creating `use` is refused
  await rejects(() => asNobody("touch", join(layerDir(), "use")), /Permission denied/);
  await rejects(() => asNobody("sh", "-c", `: > "${join(layerDir(), "use")}"`), /Permission denied/);
  await waitForDrops(before + 1);
  assert.is(drops(), before + 1, "a reference taken by nobody kept the layer");
});

test("diff/ is read with the TOC's owners and modes; info and blob are readable by all", async () => {
  const diff = join(layerDir(), "diff");
  assert.is(await asNobody("cat", join(diff, "etc/motd")), "hello\n");
  await rejects(() => asNobody("cat", join(diff, "etc/shadow")), /Permission denied/);
  await rejects(() => asNobody("ls", join(diff, "private")), /Permission denied/);
  assert.match(await asNobody("cat", join(layerDir(), "info")), /compressed-diff-digest/);
  // root reads everything
  assert.is(await readFile(join(diff, "etc/shadow"), "utf8"), "root:secret\n");
  assert.is(await readFile(join(diff, "private/key"), "utf8"), "key\n");
});

test.run();
