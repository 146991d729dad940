// Authentication against real registries: htpasswd (Basic, credentials from an auth file) and token
// auth (Bearer tokens from a token service the test runs, scoped pull / pull+push, cached, fetched
// again when refused or expired, refresh-token grant for identity tokens).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes, createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pushImage, startRegistry, type PushedImage, type TestRegistry } from "../helpers/registry.js";
import { startTokenServer, type TokenServer } from "../helpers/token-server.js";
import { RegistryClient, RegistryError, fileCredentialProvider, type Credentials } from "../../src/registry/index.js";

const hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const alice = { user: "alice", password: "s3cret pw:1" };
let basicReg: TestRegistry;
let tokenReg: TestRegistry;
let tokens: TokenServer;
let dir: string;
let basicImg: PushedImage;
const layer = randomBytes(500_000);

async function rejects(p: Promise<unknown>, code: string, re: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, RegistryError, String(err));
    assert.is((err as RegistryError).code, code, (err as Error).message);
    assert.match((err as Error).message, re);
    return;
  }
  assert.unreachable(`expected a ${code} error`);
}

const fixed = (creds: Credentials | undefined) => async () => creds;

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), "esgz-auth-test-"));
  basicReg = await startRegistry({ htpasswd: alice });
  basicImg = await pushImage(basicReg, "team/app", "v1", { layers: [{ data: layer }], auth: alice });
  tokens = await startTokenServer({ alice: { password: alice.password, refreshToken: "rt-alice" } });
  tokenReg = await startRegistry({ token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: tokens.rootCertBundle } });
});
test.after(async () => {
  await basicReg?.stop();
  await tokenReg?.stop();
  await tokens?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("basic auth: credentials from $REGISTRY_AUTH_FILE; none or wrong ones refused with a clear error", async () => {
  const authFile = join(dir, "auth.json");
  await writeFile(authFile, JSON.stringify({ auths: { [basicReg.host]: { auth: Buffer.from(`${alice.user}:${alice.password}`).toString("base64") } } }));
  const client = new RegistryClient({ credentials: fileCredentialProvider({ env: { REGISTRY_AUTH_FILE: authFile, HOME: dir } }) });
  const anon = new RegistryClient({ credentials: fixed(undefined) });
  const wrong = new RegistryClient({ credentials: fixed({ username: "alice", password: "nope" }) });
  try {
    const r = await client.resolveImage(`${basicReg.host}/team/app:v1`);
    assert.is(r.manifestDigest, basicImg.manifestDigest);
    const [a, b] = await client.readBlob(r.ref, r.layers[0].digest, [{ offset: 0, length: 1000 }, { offset: 400_000, length: 99_999 }]);
    assert.is(hex(a), hex(layer.subarray(0, 1000)));
    assert.is(hex(b), hex(layer.subarray(400_000, 499_999)));
    // manifest (challenged, then with credentials), config, the ranged blob read: all on the fast path
    assert.equal([client.rangeSocketStats!.requests, client.rangeSocketStats!.fallbacks], [4, 0], "every GET went on the fast path");
    await rejects(anon.resolveImage(`${basicReg.host}/team/app:v1`), "auth", new RegExp(`registry ${basicReg.host}, repository team/app, manifest v1: .*requires basic credentials and none were found`));
    await rejects(wrong.resolveImage(`${basicReg.host}/team/app:v1`), "auth", new RegExp(`registry ${basicReg.host}, repository team/app, manifest v1: HTTP 401 .*UNAUTHORIZED`));
    const log = await basicReg.accessLog();
    assert.ok(log.some((e) => e.status === 401), "the registry challenged");
  } finally {
    await Promise.all([client.close(), anon.close(), wrong.close()]);
  }
});

test("token auth: pull+push scope for pushes, pull for reads, one token per scope while valid", async () => {
  const client = new RegistryClient({ credentials: fixed({ username: alice.user, password: alice.password }) });
  try {
    tokens.requests.length = 0;
    const ref = `${tokenReg.host}/private/app:v1`;
    const data = randomBytes(200_000);
    const up = await client.uploadBlob(ref, data);
    assert.is(up.how, "uploaded");
    const config = new TextEncoder().encode(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [up.digest] } }));
    const cfg = await client.uploadBlob(ref, config);
    const manifest = new TextEncoder().encode(JSON.stringify({
      schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: cfg.digest, size: config.length },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: up.digest, size: data.length }],
    }));
    await client.putManifest(ref, manifest, "application/vnd.oci.image.manifest.v1+json");
    const pushTokens = tokens.requests.length;
    assert.equal(tokens.requests[0], { method: "GET", user: "alice", scopes: ["repository:private/app:pull,push"] });
    assert.is(pushTokens, 1, "the push token was reused for every request of the push");

    const r = await client.resolveImage(ref);
    for (let i = 0; i < 5; i++) {
      const [piece] = await client.readBlob(ref, r.layers[0].digest, [{ offset: i * 1000, length: 1000 }]);
      assert.is(hex(piece), hex(data.subarray(i * 1000, (i + 1) * 1000)));
    }
    assert.equal(tokens.requests.slice(pushTokens), [{ method: "GET", user: "alice", scopes: ["repository:private/app:pull"] }], "one pull token for all reads");

    const before = tokens.requests.length;
    const mounted = await client.uploadBlob(`${tokenReg.host}/private/other:v1`, data, { mountFrom: ["private/app"] });
    assert.is(mounted.how, "mounted");
    assert.ok(tokens.requests.slice(before).some((r) => r.scopes.includes("repository:private/other:pull,push") && r.scopes.includes("repository:private/app:pull")),
      "the mount's token covers the source repository");
    const [m] = await client.readBlob(`${tokenReg.host}/private/other:v1`, up.digest, [{ offset: 199_000, length: 1000 }]);
    assert.is(hex(m), hex(data.subarray(199_000)));
    // Each read's GET (and the 401 that asked for the pull token) on the fast path, none handed to undici.
    assert.ok(client.rangeSocketStats!.requests >= 6, `${client.rangeSocketStats!.requests} fast-path requests`);
    assert.is(client.rangeSocketStats!.fallbacks, 0);

    const anon = new RegistryClient({ credentials: fixed(undefined) });
    try {
      await rejects(anon.resolveImage(ref), "auth", new RegExp(`registry ${tokenReg.host}, repository private/app, manifest v1: HTTP 401`));
      assert.equal(tokens.requests.at(-1), { method: "GET", user: undefined, scopes: ["repository:private/app:pull"] });
    } finally {
      await anon.close();
    }
  } finally {
    await client.close();
  }
});

test("token auth: anonymous pull where allowed; a refused token is replaced; an expired one is not sent", async () => {
  const pusher = new RegistryClient({ credentials: fixed({ username: alice.user, password: alice.password }) });
  const anon = new RegistryClient({ credentials: fixed(undefined) });
  try {
    const data = randomBytes(100_000);
    const ref = `${tokenReg.host}/public/lib:v1`;
    const up = await pusher.uploadBlob(ref, data);
    tokens.requests.length = 0;
    tokens.staleNext = true; // the first token is already expired: the registry answers 401 to it
    const [a] = await anon.readBlob(ref, up.digest, [{ offset: 10, length: 20 }]);
    assert.is(hex(a), hex(data.subarray(10, 30)));
    assert.is(tokens.requests.length, 2, "refused token replaced once");
    assert.ok(tokens.requests.every((r) => r.user === undefined && r.scopes[0] === "repository:public/lib:pull"));
    assert.ok(anon.rangeSocketStats!.requests >= 2 && anon.rangeSocketStats!.fallbacks === 0, "the refused token's 401 came on the fast path");

    tokens.expiresIn = 1; // tokens now live 1 s (minus a margin): the client must fetch a new one before use
    const short = new RegistryClient({ credentials: fixed(undefined) });
    try {
      await short.readBlob(ref, up.digest, [{ offset: 0, length: 5 }]);
      const n = tokens.requests.length;
      await new Promise((r) => setTimeout(r, 1100));
      const [b] = await short.readBlob(ref, up.digest, [{ offset: 50, length: 50 }]);
      assert.is(hex(b), hex(data.subarray(50, 100)));
      assert.is(tokens.requests.length, n + 1, "a new token after expiry");
    } finally {
      tokens.expiresIn = 300;
      await short.close();
    }
  } finally {
    await Promise.all([pusher.close(), anon.close()]);
  }
});

test("token auth: identity token traded with the refresh_token grant", async () => {
  const client = new RegistryClient({ credentials: fixed({ identityToken: "rt-alice" }) });
  const bad = new RegistryClient({ credentials: fixed({ identityToken: "rt-wrong" }) });
  try {
    const data = randomBytes(10_000);
    tokens.requests.length = 0;
    const up = await client.uploadBlob(`${tokenReg.host}/private/idt:v1`, data);
    assert.is(hex(await client.fetchBlob(`${tokenReg.host}/private/idt:v1`, up.digest)), hex(data));
    assert.ok(tokens.requests.length >= 1 && tokens.requests.every((r) => r.method === "POST" && r.grantType === "refresh_token" && r.user === "alice"));
    await rejects(bad.blobExists(`${tokenReg.host}/private/idt:v1`, up.digest), "auth", /token service .* refused the credentials \(HTTP 401/);
  } finally {
    await Promise.all([client.close(), bad.close()]);
  }
});

test.run();
