// `esgz-fast demo`: the main job, end to end, on an embedded default — everything real, nothing
// mocked, all on loopback and in temp dirs that are removed afterwards:
//   1. builds the sample image (src/demo/sample.ts) and pushes it as a plain gzip image to a real
//      docker-registry started on a free 127.0.0.1 port;
//   2. converts it registry → registry with `esgz-fast convert`;
//   3. starts `esgz-fast mount` as its own process (as podman meets it);
//   4. `podman run`s the eStargz image through the store (when podman is installed);
//   5. reads through the mount and shows, from the registry's own access log, how few of the
//      layer's bytes were fetched; prints `info` and checks `blob` against the layer digest.
// The store runs with `no_background_fetch = true` so that the figures show what reading fetched,
// not what the background fill of the layer did meanwhile.
import { execFile } from "node:child_process";
import { access, mkdir, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { arch, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { digestOf as sha256, RegistryClient } from "../registry/index.js";
import { unmountPath } from "../fs/fuse.js";
import { appLayer, baseLayer, DATA_FILE_SIZE, GREETING, type SampleLayer } from "./sample.js";
import { startLocalRegistry, type AccessEntry, type LocalRegistry } from "./registry.js";
import { cliPath, startStoreProcess, type StoreProcess } from "./store.js";
import { isolatedPodman, type Podman } from "./podman.js";

const execFileP = promisify(execFile);
const gzipP = promisify(gzip);

export interface DemoOptions {
  /** Where the report goes (default stdout). */
  out?: NodeJS.WritableStream;
  /** Skip the podman step even when podman is installed. */
  noPodman?: boolean;
}

const mib = (n: number) => `${(n / 1048576).toFixed(n < 1048576 ? 2 : 1)} MiB`;
const ms = (t0: number) => `${Math.round(performance.now() - t0)} ms`;
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";

async function onPath(cmd: string): Promise<boolean> {
  return execFileP("sh", ["-c", `command -v ${cmd}`]).then(() => true, () => false);
}

/** Pushes the sample layers as a plain (not eStargz) gzip image; the starting point of a real user. */
async function pushPlainImage(client: RegistryClient, ref: string, layers: SampleLayer[]): Promise<number> {
  const descs = [];
  for (const l of layers) {
    const gz = await gzipP(l.tar, { level: 1 }); // the starting image only: fast beats small
    await client.uploadBlob(ref, gz);
    descs.push({ mediaType: OCI_LAYER, digest: sha256(gz), size: gz.byteLength });
  }
  const config = new TextEncoder().encode(JSON.stringify({
    architecture: arch() === "arm64" ? "arm64" : "amd64", os: "linux",
    rootfs: { type: "layers", diff_ids: layers.map((l) => sha256(l.tar)) },
    config: { Cmd: ["/bin/sh"], Env: ["PATH=/bin:/usr/bin"] },
  }));
  await client.uploadBlob(ref, config);
  const manifest = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2, mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: sha256(config), size: config.byteLength },
    layers: descs,
  }));
  await client.putManifest(ref, manifest, OCI_MANIFEST);
  return descs.reduce((s, d) => s + d.size, 0);
}

interface ConvertedLayer { from: string; to: string; size: number; tocDigest: string; diffId: string; uncompressedSize: number }

/** Layer-blob bytes the registry sent since `since`, per digest, split by who asked. */
function fetched(log: AccessEntry[], since: number, digest: string): { store: number; storeRequests: number; others: number } {
  let store = 0, storeRequests = 0, others = 0;
  for (const e of log.slice(since)) {
    if (e.method !== "GET" || !e.path.includes(`/blobs/${digest}`)) continue;
    if (e.userAgent.startsWith("esgz-fast")) { store += e.bytes; storeRequests++; } else others += e.bytes;
  }
  return { store, storeRequests, others };
}

/** Runs the demo; resolves to the exit code (0: every check passed). */
export async function runDemo(opts: DemoOptions = {}): Promise<number> {
  const out = opts.out ?? process.stdout;
  const say = (s = "") => out.write(s + "\n");
  if (!(await onPath("docker-registry"))) throw new Error("docker-registry is not installed: run scripts/setup.sh first");
  await access("/dev/fuse").catch(() => { throw new Error("/dev/fuse is missing: the store needs FUSE"); });
  const withPodman = !opts.noPodman && (await onPath("podman")) && (await onPath("runc"));

  const work = await mkdtemp(join(tmpdir(), "esgz-demo-"));
  const mnt = join(work, "mnt");
  let reg: LocalRegistry | undefined;
  let store: StoreProcess | undefined;
  let podman: Podman | undefined;
  const client = new RegistryClient();
  const cleanup = async () => {
    await podman?.cleanup().catch(() => {});
    if (store) await store.stop().catch(() => {});
    await unmountPath(mnt).catch(() => {});
    await reg?.stop().catch(() => {});
    await client.close().catch(() => {});
    await rm(work, { recursive: true, force: true }).catch(() => {});
  };
  // ^C mid-demo still unmounts and stops the registry.
  const onSignal = () => { void cleanup().finally(() => process.exit(130)); };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  // What the store said last, for a failed check or step (its log is JSON lines on stderr).
  const storeLogTail = () => {
    const lines = store?.logs().trimEnd().split("\n") ?? [];
    if (lines.length) process.stderr.write(`the store's last log lines:\n${lines.slice(-30).join("\n")}\n`);
  };
  let failures = 0;
  const check = (ok: boolean, what: string) => { say(`     ${ok ? "ok  " : "FAIL"} ${what}`); if (!ok) failures++; };
  try {
    say("esgz-fast demo: lazy pulling of an eStargz image, end to end, on this machine");
    say();
    let t0 = performance.now();
    const layers = [await baseLayer(), await appLayer()];
    reg = await startLocalRegistry();
    const plainRef = `${reg.host}/demo/app:gzip`;
    const ref = `${reg.host}/demo/app:esgz`;
    const plainBytes = await pushPlainImage(client, plainRef, layers);
    say(`1. sample image (embedded): ${layers.map((l) => `${l.name} layer ${l.files.length} files ${mib(l.tar.byteLength)}`).join(", ")}`);
    say(`   docker-registry (pid ${reg.pid}) on ${reg.host}; pushed ${plainRef} as plain gzip (${mib(plainBytes)})  [${ms(t0)}]`);

    t0 = performance.now();
    say(`2. esgz-fast convert ${plainRef} ${ref}`);
    const conv = await execFileP(process.execPath, [cliPath, "convert", "--json", plainRef, ref], { maxBuffer: 16 << 20 });
    const converted = (JSON.parse(conv.stdout) as { layers: ConvertedLayer[] }).layers;
    for (const [i, l] of converted.entries()) say(`   ${layers[i].name}: ${l.to}  ${mib(l.size)}  toc ${l.tocDigest.slice(0, 19)}…`);
    say(`   [${ms(t0)}]`);

    t0 = performance.now();
    await mkdir(mnt);
    store = await startStoreProcess({
      mountpoint: mnt, root: join(work, "store"), logLevel: "info",
      configToml: "no_background_fetch = true\n",
    });
    say(`3. esgz-fast mount -root ${join(work, "store")} ${mnt}   (pid ${store.pid}, ready in ${Math.round(store.readyMs)} ms)`);
    const app = converted[1];
    const appDir = join(mnt, Buffer.from(ref).toString("base64"), app.to);
    let mark = (await reg.accessLog()).length;

    if (withPodman) {
      t0 = performance.now();
      podman = await isolatedPodman(reg.host, mnt);
      const cmd = "cat /app/hello.txt; sha256sum /app/data/part-07.bin";
      say(`4. podman run --rm ${ref} sh -c '${cmd}'`);
      const r = await podman.run(["run", "--rm", ref, "sh", "-c", cmd]);
      for (const line of r.stdout.trimEnd().split("\n")) say(`   | ${line}`);
      say(`   [${ms(t0)}, pull included]`);
      const part07 = layers[1].files.find((f) => f.path === "/app/data/part-07.bin")!;
      check(r.stdout.startsWith(GREETING) && r.stdout.includes(sha256(part07.data).slice(7)), "the container saw the right bytes");
      const log = await reg.accessLog();
      for (const [i, l] of converted.entries()) {
        const f = fetched(log, mark, l.to);
        say(`     ${layers[i].name} layer: podman downloaded ${mib(f.others)}, the store fetched ${mib(f.store)} of ${mib(l.size)} (${(100 * f.store / l.size).toFixed(1)} %) in ${f.storeRequests} range request${f.storeRequests === 1 ? "" : "s"}`);
      }
      mark = log.length;
    } else {
      say(`4. podman run: skipped (${opts.noPodman ? "--no-podman" : "podman or runc not installed"})`);
    }

    t0 = performance.now();
    say(`5. reading through the mount: ${appDir.replace(mnt, "<mnt>")}/diff/`);
    const names = (await readdir(join(appDir, "diff", "app", "data"))).sort();
    say(`   ls app/data: ${names.length} files (${names[0]} … ${names[names.length - 1]}), ${mib(names.length * DATA_FILE_SIZE)}`);
    const target = "/app/data/part-12.bin";
    const bytes = await readFile(join(appDir, "diff", target));
    const want = layers[1].files.find((f) => f.path === target)!;
    say(`   read ${target.slice(1)}: ${mib(bytes.byteLength)}, ${sha256(bytes).slice(0, 23)}…  [${ms(t0)}]`);
    check(Buffer.compare(bytes, Buffer.from(want.data)) === 0, `${target.slice(1)} equals the file that went into the image`);
    const f = fetched(await reg.accessLog(), mark, app.to);
    say(`     the store fetched ${mib(f.store)} of the ${mib(app.size)} layer for it (${f.storeRequests} range request${f.storeRequests === 1 ? "" : "s"})`);

    const info = JSON.parse(await readFile(join(appDir, "info"), "utf8")) as Record<string, unknown>;
    say(`   info: ${JSON.stringify(info)}`);
    check(info["compressed-diff-digest"] === app.to && info["compressed-size"] === app.size && info["diff-digest"] === app.diffId && info["diff-size"] === app.uncompressedSize,
      "info names the layer's digest, size, diffID and uncompressed size");

    t0 = performance.now();
    const blob = await readFile(join(appDir, "blob"));
    const blobDigest = sha256(blob);
    say(`   blob: ${mib(blob.byteLength)}, ${blobDigest}  [${ms(t0)}, the whole layer fetched and verified now]`);
    check(blobDigest === app.to && (await stat(join(appDir, "blob"))).size === app.size, "blob is the registry's bytes, digest for digest");
    say();
    say(failures ? `${failures} check(s) failed` : "every check passed; cleaning up (unmount, stop the registry, remove temp dirs)");
    if (failures) storeLogTail();
    return failures ? 1 : 0;
  } catch (err) {
    storeLogTail();
    throw err;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await cleanup();
  }
}
