// The store's file system, end to end at the file-system level: a real docker-registry, eStargz images
// made by the project's writer from the reference tree (every entry kind), `esgz-fast mount` as its own
// process, and the names containers/storage looks up — layer-digest and TOC-digest clients alike.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { mkdir, readFile, lstat, readlink, readdir, open, stat } from "node:fs/promises";
import { join } from "node:path";
import { fixtures, fixturesDir } from "../helpers/paths.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { cleanupMount, run, startStore, tempDir, type StoreProcess } from "../helpers/fuse.js";
import { estargzOf, pushEStargzImage, pushGzipImage, refDir, TOC_DIGEST, type PushedEStargz } from "../helpers/podman.js";
import { pushImage } from "../helpers/registry.js";
import { EStargzReader } from "../../src/estargz/reader.js";
import { readerDeps } from "../../src/estargz/deps.js";
import { MemorySource } from "../../src/estargz/source.js";
import { rejects } from "../helpers/assert.js";
import { isMountPoint } from "../../src/fs/fuse.js";

const TREE = join(fixturesDir, "tree.tar");
let reg: TestRegistry;
let work: string;
let ref: string; // the extracted reference tree
let mnt: string;
let store: StoreProcess;
let img: PushedEStargz;
let gzRef: string;

const sha = (b: Uint8Array) => "sha256:" + createHash("sha256").update(b).digest("hex");
const layerDir = () => join(mnt, refDir(img.ref), img.layers[0].digest);
const blobGets = async (digest: string) =>
  (await reg.accessLog()).filter((e) => e.method === "GET" && e.path.includes(`/blobs/${digest}`));

test.before(async () => {
  work = await tempDir("esgz-als-");
  ref = join(work, "ref");
  mnt = join(work, "mnt");
  await mkdir(ref);
  await run("tar", ["-xpf", TREE, "--xattrs", "--xattrs-include=*", "--numeric-owner", "-C", ref]);
  // plus a 3 MiB incompressible file, so the layer is bigger than any single read the store makes
  await run("sh", ["-c", `head -c 3145728 /dev/urandom > "${ref}/data/big.bin" && touch -d @1709528767 "${ref}/data/big.bin" "${ref}/data"`]);
  const tar = join(work, "tree.tar");
  await run("tar", ["--format=pax", "--xattrs", "--xattrs-include=*", "--numeric-owner", "--sort=name", "-C", ref, "-cf", tar, "."]);
  reg = await startRegistry();
  img = await pushEStargzImage(reg, "test/tree", "v1", [tar], { chunkSize: 64 << 10 });
  gzRef = (await pushGzipImage(reg, "test/plain", "v1", [TREE])).ref;
  store = await startStore({ mountpoint: mnt, root: join(work, "root") });
});

test.after(async () => {
  await store?.stop().catch(() => {});
  await cleanupMount(mnt).catch(() => {});
  await reg?.stop();
  await run("rm", ["-rf", work]).catch(() => {});
});

test("a layer is found by reference and digest; info says what the manifest and config say", async () => {
  const st = await stat(layerDir());
  assert.ok(st.isDirectory());
  assert.equal((await readdir(layerDir())).sort(), ["blob", "diff", "info"]);
  const info = JSON.parse(await readFile(join(layerDir(), "info"), "utf8"));
  assert.equal(info, {
    "compressed-diff-digest": img.layers[0].digest, "compressed-size": img.layers[0].size,
    "diff-digest": img.facts[0].diffId, "diff-size": img.facts[0].uncompressedSize, compression: 2,
  });
  assert.is((await stat(join(layerDir(), "blob"))).size, img.layers[0].size);
  // the engine's signals: create(use) and rmdir(layer) both answer ENOENT
  await rejects(() => open(join(layerDir(), "use"), "w"), /ENOENT/);
  await rejects(() => run("rmdir", [layerDir()]), /No such file/);
  await rejects(() => stat(join(layerDir(), "diff1")), /ENOENT/);
  await rejects(() => stat(join(layerDir(), "use")), /ENOENT/);
  assert.is(await readlink(join(mnt, "pool")), join(store.root, "pool"));
});

test("TOC-digest clients: lookup by TOC digest, info with toc-digest and expected-layer-diffid", async () => {
  const toc = img.facts[0].tocDigest;
  const dir = join(mnt, refDir(img.ref), toc);
  // Exactly upstream's fields: identified by the TOC digest alone, the config's diffID only as a hint,
  // no digest or size the store has not verified (containers/storage reads absent fields as unset).
  const info = JSON.parse(await readFile(join(dir, "info"), "utf8"));
  assert.equal(info, { "diff-size": -1, compression: 2, "toc-digest": toc, flags: { "expected-layer-diffid": img.facts[0].diffId } });
  // the :ref-less layout serves layers already resolved, under both digests
  assert.ok((await stat(join(mnt, toc, "diff"))).isDirectory());
  assert.ok((await stat(join(mnt, img.layers[0].digest, "diff", "etc"))).isDirectory());
});

test("what cannot be served answers ENOENT at once: plain gzip layers, unknown images, junk names", async () => {
  const gz = JSON.parse((await run("skopeo", ["inspect", "--tls-verify=false", "--raw", `docker://${gzRef}`]))).layers[0].digest;
  await rejects(() => stat(join(mnt, refDir(gzRef), gz)), /ENOENT/);
  await rejects(() => stat(join(mnt, refDir(`${reg.host}/test/none:v1`))), /ENOENT/);
  await rejects(() => stat(join(mnt, refDir(img.ref), "sha256:" + "0".repeat(64))), /ENOENT/);
  await rejects(() => stat(join(mnt, "not-base64!")), /ENOENT/);
  await rejects(() => stat(join(mnt, refDir(img.ref), "nodigest")), /ENOENT/);
  assert.equal(await readdir(mnt), []);
});

// Walks the extracted reference tree and checks each entry against diff/ in overlayfs form.
test("diff/ is the layer in overlayfs lower-dir form: metadata, contents, links, devices, whiteouts, opaque dirs, xattrs", async () => {
  const diff = join(layerDir(), "diff");
  const gets0 = (await blobGets(img.layers[0].digest)).length;
  const walk = async (rel: string): Promise<string[]> => {
    const out: string[] = [];
    for (const name of await readdir(join(ref, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      out.push(r);
      if ((await lstat(join(ref, r))).isDirectory()) out.push(...(await walk(r)));
    }
    return out;
  };
  const inodes = new Map<number, string>();
  let checked = 0;
  for (const rel of await walk("")) {
    const base = rel.split("/").pop()!;
    const want = await lstat(join(ref, rel));
    if (base === ".wh..wh..opq") {
      const parent = join(diff, rel.slice(0, -base.length - 1));
      assert.is(await run("getfattr", ["--only-values", "-n", "trusted.overlay.opaque", parent]), "y");
      await rejects(() => lstat(join(diff, rel)), /ENOENT/);
      continue;
    }
    if (base.startsWith(".wh.")) {
      const wh = await lstat(join(diff, rel.slice(0, -base.length) + base.slice(4)));
      assert.ok(wh.isCharacterDevice(), `${rel} is a whiteout device`);
      assert.is(wh.rdev, 0);
      await rejects(() => lstat(join(diff, rel)), /ENOENT/);
      continue;
    }
    const got = await lstat(join(diff, rel));
    assert.is(got.mode.toString(8), want.mode.toString(8), `${rel} mode`);
    assert.is(got.uid, want.uid, `${rel} uid`);
    assert.is(got.gid, want.gid, `${rel} gid`);
    assert.is(got.nlink, want.nlink, `${rel} nlink`);
    assert.is(Math.floor(got.mtimeMs / 1000), Math.floor(want.mtimeMs / 1000), `${rel} mtime`);
    if (want.isFile()) {
      assert.is(got.size, want.size, `${rel} size`);
      assert.is(sha(await readFile(join(diff, rel))), sha(await readFile(join(ref, rel))), `${rel} content`);
    }
    if (want.isSymbolicLink()) assert.is(await readlink(join(diff, rel)), await readlink(join(ref, rel)));
    if (want.isCharacterDevice() || want.isBlockDevice()) assert.is(got.rdev, want.rdev, `${rel} rdev`);
    // hardlinks share one inode, as in the reference tree
    const seen = inodes.get(want.ino);
    if (seen !== undefined) assert.is(got.ino, (await lstat(join(diff, seen))).ino, `${rel} shares ${seen}'s inode`);
    else inodes.set(want.ino, rel);
    checked++;
  }
  assert.ok(checked > 30, `checked ${checked} entries`);
  // xattrs and readdir types, all at once, through the tools
  // getfattr records (file → user.* xattrs, overlay markers aside) and `find` types/modes, both trees
  const dump = async (root: string) => {
    const attrs = await run("sh", ["-c", `cd "${root}" && getfattr -R -d -m '^user\\.' -e hex . 2>/dev/null || true`]);
    const records: Record<string, string[]> = {};
    for (const block of attrs.split("\n\n")) {
      const [head, ...lines] = block.trim().split("\n");
      const kept = lines.filter((l) => l && !l.startsWith("user.overlay."));
      if (head && kept.length) records[head] = kept;
    }
    const types = (await run("sh", ["-c", `cd "${root}" && find . -printf '%p %y %m\\n' | sort`])).split("\n");
    return { records, types };
  };
  const [a, b] = [await dump(ref), await dump(diff)];
  assert.ok(Object.keys(a.records).length > 0, "the reference tree has user xattrs");
  assert.equal(b.records, a.records);
  // expected differences: `.wh.` entries hidden, the whiteout shown as a 0/0 char device
  assert.equal(b.types.filter((l) => l !== "./etc/removed c 0"), a.types.filter((l) => !l.includes("/.wh.")));
  assert.ok(b.types.includes("./etc/removed c 0"));
  // landmarks hidden; nothing fetched whole
  assert.not.ok((await readdir(diff)).some((n) => n.includes("landmark")));
  const gets = await blobGets(img.layers[0].digest);
  assert.ok(gets.length > gets0 || gets0 > 0, "chunks were fetched by range");
  for (const g of gets) assert.ok(g.bytes < img.layers[0].size, `no whole-blob GET (${g.bytes} of ${img.layers[0].size} bytes)`);
});

test("blob: the registry's bytes, at any offset and as a whole", async () => {
  const blob = await readFile(join(layerDir(), "blob"));
  assert.is(blob.length, img.layers[0].size);
  assert.is(sha(blob), img.layers[0].digest);
  const fh = await open(join(layerDir(), "blob"));
  try {
    const part = Buffer.alloc(1000);
    await fh.read(part, 0, 1000, 12345);
    assert.ok(part.equals(img.blobs[0].subarray(12345, 13345)));
  } finally {
    await fh.close();
  }
});

test("a killed store leaves a stale mount; the restarted store cleans it and serves from its disk cache", async () => {
  const diff = join(layerDir(), "diff");
  await readFile(join(diff, "data/chunky.bin")); // all verified chunks are on disk by now (background fetch)
  await new Promise((r) => setTimeout(r, 1000)); // disk writes are asynchronous
  await store.kill();
  await rejects(() => stat(mnt), /ENOTCONN|ECONNABORTED/);
  store = await startStore({ mountpoint: mnt, root: store.root });
  const before = (await blobGets(img.layers[0].digest)).length;
  for (const f of ["data/big.bin", "data/chunky.bin", "bin/tool", "etc/config", "data/text.txt", "data/exact-64k.bin"]) {
    assert.is(sha(await readFile(join(diff, f))), sha(await readFile(join(ref, f))), f);
  }
  const after = await blobGets(img.layers[0].digest);
  // the TOC is read again (footer + TOC member, one tail read); no chunk is fetched again
  assert.ok(after.length - before <= 1, `at most the tail read after restart, got ${after.length - before} GETs`);
});

test("an idle layer is dropped after the grace period and comes back transparently on the next lookup", async () => {
  await store.stop();
  store = await startStore({ mountpoint: mnt, root: store.root, env: { ESGZ_IDLE_DROP_MS: "1000" } });
  const file = join(layerDir(), "diff", "etc/config");
  const want = sha(await readFile(join(ref, "etc/config")));
  assert.is(sha(await readFile(file)), want);
  // the engine's reference keeps it: use, then wait past the grace period
  await rejects(() => open(join(layerDir(), "use"), "w"), /ENOENT/);
  await new Promise((r) => setTimeout(r, 2500));
  assert.not.match(store.logs(), /idle layer dropped/);
  // released: dropped within a sweep or two
  await rejects(() => run("rmdir", [layerDir()]), /No such file/);
  for (let i = 0; i < 40 && !/idle layer dropped/.test(store.logs()); i++) await new Promise((r) => setTimeout(r, 250));
  assert.match(store.logs(), /idle layer dropped/);
  // an engine's symlink into diff/ keeps working: the layer opens again on lookup
  assert.is(sha(await readFile(file)), want);
  assert.is(store.logs().split('"msg":"layer opened"').length - 1, 2);
});

test("a lying registry: a TOC that is not the annotated one is ENOENT, a corrupt chunk is EIO, the rest keeps working", async () => {
  const tar = join(work, "tree.tar");
  // (1) the manifest's TOC digest annotation does not match the blob's TOC
  const lie = await estargzOf(tar, 96 << 10);
  const lying = await pushImage(reg, "test/lie", "v1", {
    layers: [{ data: lie.blob, annotations: { [TOC_DIGEST]: "sha256:" + "1".repeat(64) } }],
    config: { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [lie.facts.diffId] } },
  });
  await rejects(() => stat(join(mnt, refDir(lying.ref), lying.layers[0].digest)), /ENOENT/);
  // (2) the registry serves a blob whose chunk bytes were changed after the push
  const bad = await pushEStargzImage(reg, "test/corrupt", "v1", [tar], { chunkSize: 128 << 10 });
  const digest = bad.layers[0].digest;
  const reader = await EStargzReader.open(new MemorySource(bad.blobs[0]), readerDeps(), { tocDigest: bad.facts[0].tocDigest });
  const id = reader.index.lookup("data/big.bin");
  const at = reader.index.chunkMemberOffset(id, 2) + 100;
  const file = join(reg.dataDir, "docker/registry/v2/blobs/sha256", digest.slice(7, 9), digest.slice(7), "data");
  const fh = await open(file, "r+");
  try {
    const b = Buffer.alloc(16);
    await fh.read(b, 0, 16, at);
    for (let i = 0; i < 16; i++) b[i] ^= 0x5a;
    await fh.write(b, 0, 16, at);
  } finally {
    await fh.close();
  }
  const dir = join(mnt, refDir(bad.ref), digest);
  await rejects(() => readFile(join(dir, "diff", "data/big.bin")), /EIO/);
  assert.is(sha(await readFile(join(dir, "diff", "etc/config"))), sha(await readFile(join(ref, "etc/config"))));
  const fd = await open(join(dir, "diff", "data/big.bin"));
  try {
    const first = Buffer.alloc(65536);
    await fd.read(first, 0, first.length, 0); // chunk 0 is intact and served
    assert.ok(first.equals((await readFile(join(ref, "data/big.bin"))).subarray(0, 65536)));
  } finally {
    await fd.close();
  }
  // the blob, read whole, does not hash to its digest: the last read fails
  await rejects(() => readFile(join(dir, "blob")), /EIO/);
  // other layers are unaffected
  assert.is(sha(await readFile(join(layerDir(), "diff", "data/big.bin"))), sha(await readFile(join(ref, "data/big.bin"))));
  const refused = /chunk sha256:[0-9a-f]{64} \(blob offset \d+\): .*(digest|inflate)/;
  assert.match(await store.logsWith(refused), refused);
});

test("a Go-made layer with a prefetch landmark: the landmark range is prefetched before the first read is answered", async () => {
  const f = fixtures().find((x) => x.blob === "estargz-prio.tar.gz")!;
  const data = await readFile(f.path);
  const pushed = await pushImage(reg, "test/prio", "v1", {
    layers: [{ data, annotations: { [TOC_DIGEST]: f.tocDigest, "io.containers.estargz.uncompressed-size": String(f.uncompressedSize) } }],
    config: { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [f.diffId] } },
  });
  const reader = await EStargzReader.open(new MemorySource(data), readerDeps(), { tocDigest: f.tocDigest });
  const prefetchEnd = reader.index.prefetchEnd;
  assert.ok(prefetchEnd > 0, "the fixture has a prefetch landmark");
  const dir = join(mnt, refDir(pushed.ref), f.blobDigest);
  assert.is((await readFile(join(dir, "diff", "etc/config"))).length, reader.index.size(reader.index.lookup("etc/config")));
  const prefetched = new RegExp(`"msg":"prefetch done"[^\\n]*"layer":"${f.blobDigest}","bytes":${prefetchEnd}`);
  assert.match(await store.logsWith(prefetched), prefetched);
  const info = JSON.parse(await readFile(join(dir, "info"), "utf8"));
  assert.is(info["diff-size"], f.uncompressedSize);
});

test("SIGTERM unmounts cleanly and the store exits 0", async () => {
  assert.is(await store.stop(), 0);
  assert.not.ok(await isMountPoint(mnt));
  assert.match(store.logs(), /"msg":"unmounted"/);
});

test.run();
