// TLS as the container tools do it, through the store: real docker-registry processes serving HTTPS
// with certificates from a CA made here (openssl), one of them requiring client certificates
// (`http.tls.clientcas`), read by `esgz-fast mount` with `[resolver] certs_dirs` pointing at a
// certs.d tree made here. Registries on loopback names are plain HTTP (stargz-store's rule), so the
// store reaches them as registry.esgz.test / other.esgz.test, which only the store's process resolves
// to 127.0.0.1: through nss_wrapper (LD_PRELOAD, NSS_WRAPPER_HOSTS), a Debian package made for tests.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { copyFile, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cleanupMount, run, startStore, tempDir, type StoreProcess } from "../helpers/fuse.js";
import { makeCa } from "../helpers/pki.js";
import { pushEStargzImage, refDir, type PushedEStargz } from "../helpers/podman.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { rejects } from "../helpers/assert.js";

const NAME = "registry.esgz.test";
const OTHER = "other.esgz.test"; // the same servers under a name certs.d has no directory for
const HELLO = "served over TLS\n";
let work: string;
let plain: TestRegistry; // pushed to; the TLS registries serve its storage
let tlsReg: TestRegistry;
let mtlsReg: TestRegistry;
let img: PushedEStargz;
let nssEnv: NodeJS.ProcessEnv;
let caPem: string;
const stores: StoreProcess[] = [];
const mounts: string[] = [];

const port = (r: TestRegistry) => r.host.slice(r.host.lastIndexOf(":") + 1);
const refOn = (name: string, r: TestRegistry) => `${name}:${port(r)}/tls/app:v1`;
const helloPath = (mnt: string, ref: string) => join(mnt, refDir(ref), img.layers[0].digest, "diff", "hello.txt");

async function storeWith(name: string, configToml: string, env: NodeJS.ProcessEnv = {}): Promise<StoreProcess> {
  const mnt = join(work, `mnt-${name}`);
  mounts.push(mnt);
  const s = await startStore({ mountpoint: mnt, root: join(work, `root-${name}`), configToml, env: { ...nssEnv, ...env } });
  stores.push(s);
  return s;
}

test.before(async () => {
  work = await tempDir("esgz-tls-");
  const hosts = join(work, "hosts");
  await writeFile(hosts, `127.0.0.1 ${NAME}\n127.0.0.1 ${OTHER}\n`);
  nssEnv = { LD_PRELOAD: "libnss_wrapper.so", NSS_WRAPPER_HOSTS: hosts };
  const check = spawnSync("getent", ["hosts", NAME], { env: { ...process.env, ...nssEnv }, encoding: "utf8" });
  if (!/^127\.0\.0\.1\s/.test(check.stdout)) throw new Error(`nss_wrapper does not resolve ${NAME} (is libnss-wrapper installed? scripts/setup.sh installs it): ${check.stderr}`);

  const serverCa = await makeCa(work, "server-ca");
  const clientCa = await makeCa(work, "client-ca");
  caPem = await readFile(serverCa.cert, "utf8");
  const server = await serverCa.issue("registry", { dns: [NAME, OTHER], ips: ["127.0.0.1"] });
  const client = await clientCa.issue("store", { client: true });
  const tree = join(work, "tree");
  await mkdir(tree);
  await writeFile(join(tree, "hello.txt"), HELLO);
  await run("tar", ["-C", tree, "-cf", join(work, "layer.tar"), "hello.txt"]);
  plain = await startRegistry();
  img = await pushEStargzImage(plain, "tls/app", "v1", [join(work, "layer.tar")]);
  tlsReg = await startRegistry({ dataDir: plain.dataDir, tls: { certificate: server.cert, key: server.key, harness: { ca: caPem } } });
  mtlsReg = await startRegistry({
    dataDir: plain.dataDir,
    tls: { certificate: server.cert, key: server.key, clientCas: [clientCa.cert], harness: { ca: caPem, cert: await readFile(client.cert, "utf8"), key: await readFile(client.key, "utf8") } },
  });

  // Two certs.d roots, searched in order: the first has nothing for these hosts, the second has
  // the CA for the TLS registry, and CA + client certificate for the mTLS one (under NAME only);
  // for the mTLS registry under OTHER, the CA alone.
  const first = join(work, "certs.d-first"), second = join(work, "certs.d");
  await mkdir(join(first, "unrelated.example"), { recursive: true });
  const dirOf = (name: string, r: TestRegistry) => join(second, `${name}:${port(r)}`);
  for (const d of [dirOf(NAME, tlsReg), dirOf(NAME, mtlsReg), dirOf(OTHER, mtlsReg)]) {
    await mkdir(d, { recursive: true });
    await copyFile(serverCa.cert, join(d, "ca.crt"));
  }
  await copyFile(client.cert, join(dirOf(NAME, mtlsReg), "client.cert"));
  await copyFile(client.key, join(dirOf(NAME, mtlsReg), "client.key"));
  await storeWith("certsd", `[resolver]\ncerts_dirs = [${JSON.stringify(first)}, ${JSON.stringify(second)}]\n`);
});

test.after(async () => {
  for (const s of stores) await s.stop().catch(() => {});
  for (const m of mounts) await cleanupMount(m).catch(() => {});
  await tlsReg?.stop();
  await mtlsReg?.stop();
  await plain?.stop();
  if (work) await run("rm", ["-rf", work]).catch(() => {});
});

test("HTTPS registry with its CA in certs.d: the layer is served", async () => {
  const [store] = stores;
  assert.is(await readFile(helloPath(store.mountpoint, refOn(NAME, tlsReg)), "utf8"), HELLO);
  const gets = (await tlsReg.accessLog()).filter((e) => e.method === "GET" && e.path.includes("/tls/app/"));
  assert.ok(gets.some((e) => e.path.includes("/blobs/")), "the TLS registry served the layer");
});

test("HTTPS registry whose CA nobody trusts: ENOENT, and the log names the certificate problem", async () => {
  const [store] = stores;
  const ref = refOn(OTHER, tlsReg);
  await rejects(() => stat(helloPath(store.mountpoint, ref)), /ENOENT/);
  const line = store.logs().split("\n").find((l) => l.includes('"cannot resolve image; answering ENOENT"') && l.includes(ref));
  assert.ok(line, store.logs().slice(-3000));
  const error = JSON.parse(line!).error as string;
  assert.match(error, /certificate/);
  assert.match(error, /not trusted; a CA for it goes in \S+\/certs\.d-first\/other\.esgz\.test:\d+\/\*\.crt/);
});

test("mTLS registry: served with the client certificate from certs.d, refused without one", async () => {
  const [store] = stores;
  assert.is(await readFile(helloPath(store.mountpoint, refOn(NAME, mtlsReg)), "utf8"), HELLO);
  const ref = refOn(OTHER, mtlsReg); // its certs.d directory has the CA, no client certificate
  await rejects(() => stat(helloPath(store.mountpoint, ref)), /ENOENT/);
  const line = store.logs().split("\n").find((l) => l.includes('"cannot resolve image; answering ENOENT"') && l.includes(ref));
  assert.ok(line, store.logs().slice(-3000));
  assert.match(JSON.parse(line!).error as string, /alert bad certificate \(other\.esgz\.test:\d+ refused the TLS handshake; a client certificate for it goes in \S+\/certs\.d\/other\.esgz\.test:\d+\/\*\.cert \+ \*\.key\)/);
});

test("the system CA bundle is trusted ($SSL_CERT_FILE names it, as for Go): no certs.d needed", async () => {
  const bundle = join(work, "system-bundle.pem");
  await writeFile(bundle, caPem);
  const store = await storeWith("system", `[resolver]\ncerts_dirs = [${JSON.stringify(join(work, "certs.d-none"))}]\n`, { SSL_CERT_FILE: bundle });
  assert.is(await readFile(helloPath(store.mountpoint, refOn(OTHER, tlsReg)), "utf8"), HELLO);
});

test.run();
