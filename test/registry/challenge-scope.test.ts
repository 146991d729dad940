// One repository of a host answers a bogus Bearer challenge (realm "file:///etc/shadow", or no URL at
// all), injected by the fault proxy in front of a real registry: that repository's requests fail with
// an error naming the realm, and every other repository of the same host keeps pulling — anonymously
// from a registry without auth, with its real tokens from a token-auth registry.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes, createHash } from "node:crypto";
import { pushImage, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { startFaultProxy, type FaultProxy } from "../helpers/fault-proxy.js";
import { startTokenServer, type TokenServer } from "../helpers/token-server.js";
import { RegistryClient, RegistryError } from "../../src/registry/index.js";

const hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const data = randomBytes(100_000);
let openReg: TestRegistry;
let tokenReg: TestRegistry;
let tokens: TokenServer;
const proxies: FaultProxy[] = [];

/** The proxy answers every request for `/v2/<repository>/…` with 401 and this challenge. */
function bogusChallenge(proxy: FaultProxy, repository: string, challenge: string): void {
  proxy.rules.push({ match: (r) => r.path.startsWith(`/v2/${repository}/`), fault: { kind: "status", status: 401, headers: { "www-authenticate": challenge } }, times: 1000 });
}

async function refused(p: Promise<unknown>, re: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, RegistryError, String(err));
    assert.is((err as RegistryError).code, "auth", (err as Error).message);
    assert.match((err as Error).message, re);
    return;
  }
  assert.unreachable("expected the bogus challenge to be refused");
}

test.before(async () => {
  openReg = await startRegistry();
  tokens = await startTokenServer({ alice: { password: "pw" } });
  tokenReg = await startRegistry({ token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: tokens.rootCertBundle } });
});
test.after(async () => {
  for (const p of proxies) await p.stop();
  await openReg?.stop();
  await tokenReg?.stop();
  await tokens?.stop();
});

test("registry without auth: a file:// realm on one repository is refused there; the host's other repositories still pull anonymously", async () => {
  const good = await pushImage(openReg, "team/good", "v1", { layers: [{ data }] });
  await pushImage(openReg, "team/evil", "v1", { layers: [{ data }] });
  const proxy = await startFaultProxy(openReg.url);
  proxies.push(proxy);
  bogusChallenge(proxy, "team/evil", 'Bearer realm="file:///etc/shadow",service="x"');
  bogusChallenge(proxy, "team/junk", 'Bearer realm="http://[not-a-host",service="x"');
  const client = new RegistryClient({ credentials: async () => undefined });
  try {
    const evil = client.resolveImage(`${proxy.host}/team/evil:v1`);
    await refused(evil, new RegExp(`^registry ${proxy.host}, repository team/evil, manifest v1: Bearer challenge names token realm "file:///etc/shadow", which is not an http\\(s\\) URL; refused$`));
    await refused(client.resolveImage(`${proxy.host}/team/junk:v1`), /repository team\/junk, manifest v1: Bearer challenge names token realm "http:\/\/\[not-a-host", which is not a URL; refused/);

    const r = await client.resolveImage(`${proxy.host}/team/good:v1`);
    assert.is(r.manifestDigest, good.manifestDigest);
    const [bytes] = await client.readBlob(r.ref, r.layers[0].digest, [{ offset: 10, length: 5000 }]);
    assert.is(hex(bytes), hex(data.subarray(10, 5010)));
    assert.ok(proxy.seen.filter((s) => s.path.startsWith("/v2/team/good/")).every((s) => s.headers.authorization === undefined), "still asked anonymously");

    // refused again, with the same clear error, each time it is asked (nothing was learnt from it)
    await refused(client.resolveImage(`${proxy.host}/team/evil:v1`), /token realm "file:\/\/\/etc\/shadow", which is not an http\(s\) URL; refused/);
    assert.is(hex((await client.readBlob(r.ref, r.layers[0].digest, [{ offset: 0, length: 100 }]))[0]), hex(data.subarray(0, 100)));
  } finally {
    await client.close();
  }
});

test("token-auth registry: a bogus challenge on one repository does not replace the realm the others get their tokens from", async () => {
  const pusher = new RegistryClient({ credentials: async () => ({ username: "alice", password: "pw" }) });
  const up = await pusher.uploadBlob(`${tokenReg.host}/public/lib:v1`, data);
  await pusher.close();
  const proxy = await startFaultProxy(tokenReg.url);
  proxies.push(proxy);
  bogusChallenge(proxy, "public/evil", 'Bearer realm="file:///etc/shadow",service="x",scope="repository:public/evil:pull"');
  const client = new RegistryClient({ credentials: async () => undefined });
  try {
    tokens.requests.length = 0;
    await refused(client.readBlob(`${proxy.host}/public/evil:v1`, up.digest, [{ offset: 0, length: 10 }]), /repository public\/evil, blob sha256:[0-9a-f]{64}: Bearer challenge names token realm "file:\/\/\/etc\/shadow"/);
    const [a] = await client.readBlob(`${proxy.host}/public/lib:v1`, up.digest, [{ offset: 99_000, length: 1000 }]);
    assert.is(hex(a), hex(data.subarray(99_000)));
    assert.equal(tokens.requests, [{ method: "GET", user: undefined, scopes: ["repository:public/lib:pull"] }], "one anonymous token, from the registry's real realm");
    await refused(client.readBlob(`${proxy.host}/public/evil:v1`, up.digest, [{ offset: 0, length: 10 }]), /not an http\(s\) URL; refused/);
    const [b] = await client.readBlob(`${proxy.host}/public/lib:v1`, up.digest, [{ offset: 0, length: 10 }]);
    assert.is(hex(b), hex(data.subarray(0, 10)));
    assert.is(tokens.requests.length, 1, "the token was kept");
  } finally {
    await client.close();
  }
});

test.run();
