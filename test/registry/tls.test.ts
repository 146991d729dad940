// TLS from the registry client's side, in this process, on the paths the store test (test/store/
// tls.test.ts) does not take: a token service over HTTPS (the realm a loopback registry names,
// https://127.0.0.1:PORT; token GETs go on the client's own sockets, the refresh-token POST on undici)
// and an HTTPS registry behind a forward proxy (undici's proxy agent, CONNECT tunnels). Each is trusted
// through a certs.d directory made here, or not at all. The CA is made with openssl.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes, createHash } from "node:crypto";
import { copyFile, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { makeCa } from "../helpers/pki.js";
import { pushImage, startRegistry, type PushedImage, type TestRegistry } from "../helpers/registry.js";
import { startTokenServer, type TokenServer } from "../helpers/token-server.js";
import { startForwardProxy, type ForwardProxy } from "../helpers/forward-proxy.js";
import { run, tempDir } from "../helpers/fuse.js";
import { RegistryClient, RegistryError } from "../../src/registry/index.js";

const hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
let work: string;
let tokens: TokenServer;
let tokenReg: TestRegistry;
let plain: TestRegistry;
let tlsReg: TestRegistry;
let fwd: ForwardProxy;
let img: PushedImage;
let trusted: string; // a certs.d root with the CA for the token service and for registry.test
let empty: string; // a certs.d root with nothing in it
const layer = randomBytes(300_000);

async function rejects(p: Promise<unknown>, re: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, RegistryError, String(err));
    assert.match((err as Error).message, re);
    return;
  }
  assert.unreachable("expected an error");
}

test.before(async () => {
  work = await tempDir("esgz-tls-client-");
  const ca = await makeCa(work, "ca");
  const server = await ca.issue("server", { dns: ["registry.test"], ips: ["127.0.0.1"] });
  const caPem = await readFile(ca.cert, "utf8");
  tokens = await startTokenServer({ alice: { password: "pw", refreshToken: "rt-alice" } }, { tls: { cert: await readFile(server.cert, "utf8"), key: await readFile(server.key, "utf8") } });
  tokenReg = await startRegistry({ token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: tokens.rootCertBundle } });
  plain = await startRegistry();
  img = await pushImage(plain, "tls/app", "v1", { layers: [{ data: layer }] });
  tlsReg = await startRegistry({ dataDir: plain.dataDir, tls: { certificate: server.cert, key: server.key, harness: { ca: caPem } } });
  fwd = await startForwardProxy({ "registry.test": "127.0.0.1" });
  trusted = join(work, "certs.d");
  empty = join(work, "certs.d-empty");
  await mkdir(empty);
  for (const host of [new URL(tokens.realm).host, `registry.test:${new URL(tlsReg.url).port}`]) {
    await mkdir(join(trusted, host), { recursive: true });
    await copyFile(ca.cert, join(trusted, host, "ca.crt"));
  }
});

test.after(async () => {
  await tokens?.stop();
  await tokenReg?.stop();
  await tlsReg?.stop();
  await plain?.stop();
  await fwd?.stop();
  if (work) await run("rm", ["-rf", work]);
});

test("token service over HTTPS: trusted through certs.d for both grants; untrusted, the error names the certificate problem", async () => {
  const ref = `${tokenReg.host}/private/app:v1`;
  const pusher = new RegistryClient({ resolver: { certs_dirs: [trusted] }, credentials: async () => ({ username: "alice", password: "pw" }) });
  const refresh = new RegistryClient({ resolver: { certs_dirs: [trusted] }, credentials: async () => ({ identityToken: "rt-alice" }) });
  const untrusted = new RegistryClient({ resolver: { certs_dirs: [empty] }, credentials: async () => ({ username: "alice", password: "pw" }), blob: { max_retries: 0 } });
  try {
    tokens.requests.length = 0;
    const up = await pusher.uploadBlob(ref, layer);
    assert.is(hex(await refresh.fetchBlob(ref, up.digest)), hex(layer));
    assert.ok(tokens.requests.some((r) => r.method === "GET" && r.user === "alice"), "basic grant (GET)");
    assert.ok(tokens.requests.some((r) => r.method === "POST" && r.grantType === "refresh_token" && r.user === "alice"), "refresh-token grant (POST)");
    await rejects(untrusted.fetchBlob(ref, up.digest), new RegExp(`the TLS certificate of ${new URL(tokens.realm).host} is not trusted; a CA for it goes in ${empty}/127\\.0\\.0\\.1:\\d+/\\*\\.crt`));
  } finally {
    await Promise.all([pusher.close(), refresh.close(), untrusted.close()]);
  }
});

test("HTTPS registry behind a forward proxy: its certs.d CA applies inside the tunnel", async () => {
  const ref = `registry.test:${new URL(tlsReg.url).port}/tls/app:v1`;
  const opts = { proxy: { https: fwd.url, noProxy: "" }, blob: { max_retries: 0 } };
  const client = new RegistryClient({ ...opts, resolver: { certs_dirs: [trusted] } });
  const untrusted = new RegistryClient({ ...opts, resolver: { certs_dirs: [empty] } });
  try {
    const r = await client.resolveImage(ref);
    assert.is(r.manifestDigest, img.manifestDigest);
    const [a] = await client.readBlob(ref, r.layers[0].digest, [{ offset: 1000, length: 5000 }]);
    assert.is(hex(a), hex(layer.subarray(1000, 6000)));
    assert.ok(fwd.connects.includes(`registry.test:${new URL(tlsReg.url).port}`), "through the proxy");
    await rejects(untrusted.resolveImage(ref), /not trusted; a CA for it goes in/);
  } finally {
    await Promise.all([client.close(), untrusted.close()]);
  }
});

test.run();
