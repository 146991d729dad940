// The store under a real podman (isolated as spec/als.md describes): pull, run, save, push, rmi, on a
// two-layer eStargz image made by `esgz-fast convert` (registry → registry) from trees with every
// entry kind. The oracle for what a container must see is the same two layers pulled as a plain gzip image, which podman
// downloads and applies itself (the store answers ENOENT for those: the fallback path).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { mkdir, open, readFile, stat, symlink } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { cleanupMount, run, startStore, tempDir, type StoreProcess } from "../helpers/fuse.js";
import { isolatedPodman, pushGzipImage, type Podman } from "../helpers/podman.js";
import { runCli } from "../helpers/run-cli.js";
import { rejects } from "../helpers/assert.js";

let reg: TestRegistry;
let work: string;
let mnt: string;
let store: StoreProcess;
let podman: Podman;
/** The eStargz image `esgz-fast convert` made of the plain one. */
let esgz: { ref: string; layers: Array<{ digest: string; size: number; tocDigest: string }>; diffIds: string[] };
let gzRef: string;

// Layer 1: a shell and the tools the checks run inside the container (host binaries with their
// libraries), files that layer 2 deletes, overrides and hides; layer 2: whiteout, opaque dir,
// hardlinks, symlinks, xattrs, setuid/setgid/sticky, a fifo, owners, a 2 MiB file in 64 KiB chunks.
const MAKE_TREES = String.raw`
set -eu
L1=$1/l1; L2=$1/l2
mkdir -p $L1/bin $L1/etc/opaque-dir $L1/data $L2/etc/opaque-dir $L2/data/sub $L2/app $L2/tmp
for b in /bin/dash /usr/bin/find /usr/bin/getfattr /usr/bin/sha256sum /usr/bin/cat /usr/bin/sort /usr/bin/grep; do
  cp $b $L1/bin/; for l in $(ldd $b | awk '{print $3}' | grep ^/); do mkdir -p $L1$(dirname $l); cp -L $l $L1$l; done
done
mkdir -p $L1/lib64; cp -L /lib64/ld-linux-x86-64.so.2 $L1/lib64/
mv $L1/bin/dash $L1/bin/sh
echo base > $L1/etc/overridden.txt; echo doomed > $L1/etc/deleted.txt
echo a > $L1/etc/opaque-dir/a.txt; echo b > $L1/etc/opaque-dir/b.txt
echo keep > $L1/data/keep.txt
echo app > $L2/etc/overridden.txt; : > $L2/etc/.wh.deleted.txt
: > $L2/etc/opaque-dir/.wh..wh..opq; echo c > $L2/etc/opaque-dir/c.txt
head -c 2097152 /dev/urandom > $L2/data/big.bin
echo linked > $L2/data/hl-a; ln $L2/data/hl-a $L2/data/sub/hl-b
ln -s hl-a $L2/data/sym-rel; ln -s /etc/overridden.txt $L2/data/sym-abs; ln -s ../nowhere $L2/data/sym-dangling
echo x > $L2/data/xattr.txt; setfattr -n user.foo -v bar $L2/data/xattr.txt; setfattr -n user.bin -v 0x00ff10 $L2/data/xattr.txt
cp /usr/bin/true $L2/app/setuid; chmod 4755 $L2/app/setuid
echo g > $L2/app/setgid; chmod 2750 $L2/app/setgid
chmod 1777 $L2/tmp; mkfifo $L2/app/fifo
echo mine > $L2/app/owned; chown 1000:1001 $L2/app/owned
find $1 -exec touch -h -d '2024-01-02 03:04:05 UTC' {} +
for i in 1 2; do tar --format=pax --xattrs --xattrs-include='*' --numeric-owner --sort=name -C $1/l$i -cf $1/layer$i.tar .; done
`;

// What a container sees, printed by tools inside it (sorted, stable across the two images).
const LISTING = String.raw`
cd / && find /etc/overridden.txt /etc/opaque-dir /data /app /tmp -printf '%p %y %m %U %G %s %n %l\n' | sort
find /data /app /etc/opaque-dir /etc/overridden.txt -type f -exec sha256sum {} + | sort
find /data -samefile /data/hl-a | sort
getfattr -R -d -e hex -m '^user\.' /data 2>/dev/null | grep -v '^user\.overlay\.' || true
cat /etc/overridden.txt; cat /etc/deleted.txt 2>/dev/null || echo deleted-is-gone
`;

const warnings = (stderr: string) => stderr.split("\n").filter((l) => /warn|error|Additional layer|GC doesn/i.test(l));

test.before(async () => {
  work = await tempDir("esgz-podman-e2e-");
  mnt = join(work, "mnt");
  await mkdir(join(work, "trees"));
  await run("sh", ["-c", MAKE_TREES, "sh", join(work, "trees")]);
  reg = await startRegistry();
  const tars = [join(work, "trees", "layer1.tar"), join(work, "trees", "layer2.tar")];
  gzRef = (await pushGzipImage(reg, "e2e/plain", "v1", tars)).ref;
  // The eStargz image is made as a user makes one: `esgz-fast convert` registry → registry.
  const ref = `${reg.host}/e2e/app:v1`;
  const conv = await runCli(["convert", "--json", "--chunk-size", String(64 << 10), gzRef, ref]);
  assert.is(conv.code, 0, conv.stderr);
  const layers = (JSON.parse(conv.stdout) as { layers: Array<{ to: string; size: number; diffId: string; tocDigest: string }> }).layers;
  esgz = { ref, layers: layers.map((l) => ({ digest: l.to, size: l.size, tocDigest: l.tocDigest })), diffIds: layers.map((l) => l.diffId) };
  store = await startStore({ mountpoint: mnt, root: join(work, "root"), logLevel: "info" });
  podman = await isolatedPodman(reg.host, mnt);
});

test.after(async () => {
  await podman?.cleanup();
  await store?.stop().catch(() => {});
  await cleanupMount(mnt).catch(() => {});
  await reg?.stop();
  await run("rm", ["-rf", work]).catch(() => {});
});

test("pull: layers come from the store, no layer blob downloaded whole, no warning", async () => {
  const { stderr } = await podman.run(["pull", "--tls-verify=false", esgz.ref]);
  assert.equal(warnings(stderr), [], stderr);
  const log = await reg.accessLog();
  for (const l of esgz.layers) {
    const whole = log.filter((e) => e.method === "GET" && e.path.endsWith(`/blobs/${l.digest}`) && e.bytes >= l.size);
    assert.equal(whole, [], `layer ${l.digest} was not downloaded whole`);
  }
  assert.match(store.logs(), /"msg":"layer opened"/);
});

test("run: contents and metadata in the container match the same layers pulled normally", async () => {
  const { stderr: gzErr } = await podman.run(["pull", "--tls-verify=false", gzRef]); // the fallback path
  assert.equal(warnings(gzErr), [], gzErr);
  const lazyRun = await podman.run(["run", "--rm", esgz.ref, "/bin/sh", "-c", LISTING]);
  const lazy = lazyRun.stdout;
  assert.is(lazyRun.stderr, "", "the tools in the container ran without errors");
  const plain = (await podman.run(["run", "--rm", gzRef, "/bin/sh", "-c", LISTING])).stdout;
  assert.is(lazy, plain);
  // and the listing says what the trees say
  assert.match(lazy, /^\/app\/setuid f 4755 0 0 /m);
  assert.match(lazy, /^\/app\/setgid f 2750 0 0 /m);
  assert.match(lazy, /^\/app\/owned f 644 1000 1001 /m);
  assert.match(lazy, /^\/tmp d 1777 /m);
  assert.match(lazy, /^\/app\/fifo p /m);
  assert.match(lazy, /^\/data\/hl-a f 644 0 0 7 2 /m);
  assert.match(lazy, /^\/data\/sym-rel l 777 0 0 \d+ 1 hl-a$/m);
  assert.match(lazy, /^\/data\/sub\/hl-b$/m);
  assert.match(lazy, /user\.foo=0x626172/);
  assert.match(lazy, /^\/etc\/opaque-dir\/c\.txt f/m);
  assert.not.match(lazy, /opaque-dir\/a\.txt/);
  assert.match(lazy, /^app\ndeleted-is-gone$/m);
  const big = createHash("sha256").update(await readFile(join(work, "trees", "l2", "data", "big.bin"))).digest("hex");
  assert.match(lazy, new RegExp(`^${big}  /data/big.bin$`, "m"));
});

// containers/storage ≥ 1.54 (podman ≥ 5.1, CRI-O) looks layers up by TOC digest. Debian 12's podman is
// 4.3, so the walk is replayed as the engine makes it: info (checked as the engine reads it), diff/,
// blob, the `use` reference; the diff/ dirs as overlayfs lower dirs run the same listing as the
// podman run above; the blob is what the engine checks at export; rmdir releases.
test("the TOC-digest path as containers/storage ≥ 5.1 walks it: info, diff/, blob, use, overlay lower dirs, release", async () => {
  const dirs = esgz.layers.map((l) => join(mnt, Buffer.from(esgz.ref).toString("base64"), l.tocDigest));
  for (const [i, dir] of dirs.entries()) {
    const info = JSON.parse(await readFile(join(dir, "info"), "utf8"));
    assert.equal(info, { "diff-size": -1, compression: 2, "toc-digest": esgz.layers[i].tocDigest, flags: { "expected-layer-diffid": esgz.diffIds[i] } });
    assert.ok((await stat(join(dir, "diff"))).isDirectory());
    assert.is((await stat(join(dir, "blob"))).size, esgz.layers[i].size);
    await rejects(() => open(join(dir, "use"), "w"), /ENOENT/);
  }
  // A container's root as the engine mounts it: the diff/ dirs as lower dirs (through short links, as
  // containers/storage makes them: a digest's ':' would split lowerdir), an upper dir, a /dev/null.
  const [merged, upper, wd] = ["merged", "upper", "overlay-work"].map((d) => join(work, d));
  for (const d of [merged, upper, wd]) await mkdir(d);
  for (const [i, dir] of dirs.entries()) await symlink(join(dir, "diff"), join(work, `l${i}`));
  await run("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${join(work, "l1")}:${join(work, "l0")},upperdir=${upper},workdir=${wd}`, merged]);
  try {
    await run("sh", ["-c", `mkdir -p "${merged}/dev" && mknod -m 666 "${merged}/dev/null" c 1 3`]);
    const lazy = await run("chroot", [merged, "/bin/sh", "-c", LISTING]);
    const plain = (await podman.run(["run", "--rm", gzRef, "/bin/sh", "-c", LISTING])).stdout;
    assert.is(lazy, plain);
  } finally {
    await run("umount", [merged]);
  }
  // At export the engine gunzips `blob` and checks it against expected-layer-diffid.
  for (const [i, dir] of dirs.entries()) {
    const blob = await readFile(join(dir, "blob"));
    assert.is("sha256:" + createHash("sha256").update(blob).digest("hex"), esgz.layers[i].digest);
    assert.is("sha256:" + createHash("sha256").update(gunzipSync(blob)).digest("hex"), esgz.diffIds[i]);
    await rejects(() => run("rmdir", [dir]), /No such file/);
  }
});

test("save: every layer of the docker archive hashes to its diffID", async () => {
  const out = join(work, "saved");
  await mkdir(out);
  await podman.run(["save", "--format", "docker-archive", "-o", join(out, "img.tar"), esgz.ref]);
  await run("tar", ["-xf", join(out, "img.tar"), "-C", out]);
  const manifest = JSON.parse(await readFile(join(out, "manifest.json"), "utf8"));
  const layers: string[] = manifest[0].Layers;
  assert.is(layers.length, 2);
  const got = await Promise.all(layers.map(async (l) => "sha256:" + createHash("sha256").update(await readFile(join(out, l))).digest("hex")));
  assert.equal(got, esgz.diffIds);
});

test("push to another repository: succeeds, and the pushed image runs", async () => {
  const dest = `${reg.host}/e2e/pushed:v1`;
  const { stderr } = await podman.run(["push", "--tls-verify=false", esgz.ref, `docker://${dest}`]);
  assert.equal(warnings(stderr), [], stderr);
  await podman.run(["rmi", dest]).catch(() => {});
  await podman.run(["pull", "--tls-verify=false", dest]);
  const out = (await podman.run(["run", "--rm", dest, "/bin/cat", "/etc/overridden.txt", "/data/hl-a"])).stdout;
  assert.is(out, "app\nlinked\n");
});

test("rmi is clean, and a later pull through the same mount works", async () => {
  const { stderr } = await podman.run(["rmi", esgz.ref]);
  assert.equal(warnings(stderr), [], stderr);
  const again = await podman.run(["pull", "--tls-verify=false", esgz.ref]);
  assert.equal(warnings(again.stderr), [], again.stderr);
  assert.is((await podman.run(["run", "--rm", esgz.ref, "/bin/cat", "/data/keep.txt"])).stdout, "keep\n");
});

test.run();
