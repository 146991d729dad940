// Reference normalisation, hosts config, credential files and challenge parsing: the pure parts of
// the client, checked against what container tools do with the same input.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseReference, formatReference, endpointsFor, fileCredentialProvider, authFilePaths, RegistryError, selectManifest, parsePlatform, type ImageIndex } from "../../src/registry/index.js";
import { parseChallenges } from "../../src/registry/auth.js";
import { backoffMs, retryAfterMs } from "../../src/registry/retry.js";
import { byterangesBoundary, MultipartSink } from "../../src/registry/multipart.js";
import { parseContentRange, rangeHeader, RangeWriter } from "../../src/registry/ranges.js";

const D = "sha256:" + "ab".repeat(32);

test("references are normalised like container tools do", () => {
  const cases: [string, string][] = [
    ["alpine", "docker.io/library/alpine:latest"],
    ["alpine:3.19", "docker.io/library/alpine:3.19"],
    ["library/alpine", "docker.io/library/alpine:latest"],
    ["user/app", "docker.io/user/app:latest"],
    ["index.docker.io/user/app", "docker.io/user/app:latest"],
    ["docker.io/alpine", "docker.io/library/alpine:latest"],
    ["localhost/app", "localhost/app:latest"],
    ["localhost:5000/a/b/c:v1", "localhost:5000/a/b/c:v1"],
    ["127.0.0.1:38000/ns/img", "127.0.0.1:38000/ns/img:latest"],
    ["quay.io/org/img:v1.2_3-x", "quay.io/org/img:v1.2_3-x"],
    [`ghcr.io/o/i@${D}`, `ghcr.io/o/i@${D}`],
    [`ghcr.io/o/i:tag@${D}`, `ghcr.io/o/i:tag@${D}`],
    [`alpine@${D}`, `docker.io/library/alpine@${D}`],
    ["docker://busybox", "docker.io/library/busybox:latest"],
    ["a__b/c-d--e/f.g", "docker.io/a__b/c-d--e/f.g:latest"],
  ];
  for (const [input, want] of cases) assert.is(formatReference(parseReference(input)), want, input);
  const r = parseReference(`localhost:5000/a/b:v1@${D}`);
  assert.equal({ ...r }, { registry: "localhost:5000", repository: "a/b", tag: "v1", digest: D });
});

test("invalid references are refused with a reason", () => {
  const cases: [string, RegExp][] = [
    ["", /empty/],
    ["Alpine", /lowercase/],
    ["example.com/Foo/bar", /lowercase/],
    ["alpine:", /tag ""/],
    ["alpine:-x", /tag/],
    [`alpine@sha256:${"a".repeat(63)}`, /digest/],
    ["alpine@md5:abc", /digest/],
    ["a//b", /empty path component/],
    ["a/b_/c", /component "b_"/],
    ["host.com:99999/a", /port 99999/],
    ["with space", /whitespace/],
    ["example.com/", /empty path component|no repository/],
    [`x/${"a".repeat(260)}`, /255/],
  ];
  for (const [input, re] of cases) {
    try {
      parseReference(input);
      assert.unreachable(`accepted ${JSON.stringify(input)}`);
    } catch (err) {
      assert.instance(err, RegistryError, input);
      assert.is((err as RegistryError).code, "reference");
      assert.match((err as Error).message, re, `${input}: ${(err as Error).message}`);
      assert.match((err as Error).message, /invalid image reference/);
    }
  }
});

test("endpoints: mirrors in order, then the host; plain HTTP for loopback and insecure; docker.io's API host", () => {
  const eps = endpointsFor("docker.io", {
    request_timeout_sec: 7,
    host: {
      "docker.io": {
        mirrors: [
          { host: "mirror.local:5000", insecure: true, header: { "X-Mirror": ["a", "b"] }, request_timeout_sec: 2 },
          { host: "https://cache.example.com" },
          { host: "127.0.0.1:6000" },
        ],
      },
    },
  });
  assert.equal(eps.map((e) => [e.origin, e.mirror, e.timeoutMs]), [
    ["http://mirror.local:5000", true, 2000],
    ["https://cache.example.com", true, 7000],
    ["http://127.0.0.1:6000", true, 7000],
    ["https://registry-1.docker.io", false, 7000],
  ]);
  assert.equal(eps[0].headers, { "x-mirror": "a, b" });
  assert.is(endpointsFor("localhost:5000")[0].origin, "http://localhost:5000");
  assert.is(endpointsFor("localhost")[0].origin, "http://localhost");
  assert.is(endpointsFor("quay.io")[0].origin, "https://quay.io");
  assert.is(endpointsFor("reg.lan:80", { host: { "reg.lan:80": { insecure: true } } })[0].origin, "http://reg.lan:80");
  assert.is(endpointsFor("x.io")[0].timeoutMs, 30000);
  assert.throws(() => endpointsFor("x.io", { host: { "x.io": { mirrors: [{ host: "a/b" }] } } }), /host "a\/b" must be host\[:port\]/);
  assert.throws(() => endpointsFor("x.io", { host: { "x.io": { mirrors: [{ host: "m", header: { "bad name": "v" } }] } } }), /invalid header name/);
});

test("credentials: container tools' file order, auth/username/identitytoken, most specific key", async () => {
  const dir = await mkdtemp(join(tmpdir(), "esgz-creds-"));
  try {
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const env = { REGISTRY_AUTH_FILE: join(dir, "regauth.json"), XDG_RUNTIME_DIR: join(dir, "xdg"), HOME: join(dir, "home") } as NodeJS.ProcessEnv;
    assert.equal(authFilePaths({ env }), [join(dir, "regauth.json"), join(dir, "xdg", "containers", "auth.json"), "/run/containers/0/auth.json", join(dir, "home", ".docker", "config.json")]);
    await mkdir(join(dir, "xdg", "containers"), { recursive: true });
    await mkdir(join(dir, "home", ".docker"), { recursive: true });
    await writeFile(env.REGISTRY_AUTH_FILE!, JSON.stringify({ auths: { "a.io": { auth: b64("first:pw1") } } }));
    await writeFile(join(dir, "xdg", "containers", "auth.json"), JSON.stringify({ auths: {
      "a.io": { auth: b64("second:pw2") },
      "b.io": { auth: b64("bee:pass:with:colons") },
      "b.io/team": { username: "teamuser", password: "teampw" },
    } }));
    await writeFile(join(dir, "home", ".docker", "config.json"), JSON.stringify({ auths: {
      "https://index.docker.io/v1/": { auth: b64("hubuser:hubpw") },
      "c.io": { identitytoken: "refresh-me" },
      "b.io": { auth: b64("never:used") },
    } }));
    const files = [env.REGISTRY_AUTH_FILE!, join(dir, "xdg", "containers", "auth.json"), join(dir, "home", ".docker", "config.json")];
    const get = fileCredentialProvider({ files });
    assert.equal(await get("a.io", "x/y"), { username: "first", password: "pw1" });
    assert.equal(await get("b.io", "other"), { username: "bee", password: "pass:with:colons" });
    assert.equal(await get("b.io", "team/app"), { username: "teamuser", password: "teampw" });
    assert.equal(await get("docker.io", "library/alpine"), { username: "hubuser", password: "hubpw" });
    assert.equal(await get("c.io", "z"), { identityToken: "refresh-me" });
    assert.is(await get("nobody.io", "z"), undefined);
    await writeFile(env.REGISTRY_AUTH_FILE!, "{not json");
    try {
      await get("a.io", "x");
      assert.unreachable();
    } catch (err) {
      assert.match((err as Error).message, /regauth\.json: not valid JSON/);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("WWW-Authenticate challenges, Retry-After, backoff bounds, range headers", () => {
  assert.equal(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"'), [
    { scheme: "bearer", params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:library/alpine:pull" } },
  ]);
  assert.equal(parseChallenges('Basic realm="x, y", Bearer realm=http://t/tok,service=s'), [
    { scheme: "basic", params: { realm: "x, y" } },
    { scheme: "bearer", params: { realm: "http://t/tok", service: "s" } },
  ]);
  assert.is(retryAfterMs("3"), 3000);
  assert.is(retryAfterMs(new Date(Date.now() + 5000).toUTCString(), Date.now()) ! > 3000, true);
  assert.is(retryAfterMs(undefined), undefined);
  const policy = { maxRetries: 5, minWaitMs: 30, maxWaitMs: 1000, budgetMs: 10000 };
  assert.is(backoffMs(policy, 1, () => 0), 15);
  assert.is(backoffMs(policy, 1, () => 1), 30);
  assert.is(backoffMs(policy, 3, () => 1), 120);
  assert.is(backoffMs(policy, 20, () => 1), 1000);
  assert.equal(rangeHeader([{ offset: 100, length: 10 }, { offset: 0, length: 10 }, { offset: 105, length: 20 }, { offset: 10, length: 5 }]).header, "bytes=0-14,100-124");
  assert.equal(parseContentRange("bytes 5-9/100"), { start: 5, end: 9, total: 100 });
  assert.equal(parseContentRange("bytes 5-9/*"), { start: 5, end: 9, total: undefined });
  assert.is(parseContentRange("bytes 9-5/100"), undefined);
  // found by the fuzz suite: offsets beyond 2^53 rounded to a neighbour ("…993" read as …992)
  assert.is(parseContentRange("bytes 0-9007199254740993/*"), undefined);
  assert.is(parseContentRange("bytes 9007199254740993-9007199254740993/9007199254740994"), undefined);
  assert.is(parseContentRange("bytes 0-99/50"), undefined, "a range past its blob's end");
  assert.is(parseContentRange("bytes 0-99/100")?.end, 99);
  assert.is(byterangesBoundary('multipart/byteranges; boundary="abc"'), "abc");
  assert.is(byterangesBoundary("multipart/byteranges; boundary=3d6b6a416f9b5"), "3d6b6a416f9b5");
  assert.is(byterangesBoundary("application/octet-stream"), undefined);
});

test("multipart/byteranges parsed whatever the piece sizes; malformed and truncated bodies refused", () => {
  const blob = new Uint8Array(5000).map((_, i) => (i * 31 + 7) & 255);
  const part = (a: number, b: number) => `--XYZ\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes ${a}-${b}/5000\r\n\r\n`;
  const enc = (s: string) => new TextEncoder().encode(s);
  const body = Buffer.concat([enc("\r\n" + part(10, 99)), blob.subarray(10, 100), enc("\r\n" + part(4000, 4999)), blob.subarray(4000), enc("\r\n--XYZ--\r\n")]);
  for (const piece of [1, 2, 3, 7, 64, 1000, body.length]) {
    const a = new Uint8Array(90), b = new Uint8Array(50), c = new Uint8Array(1000);
    const w = new RangeWriter([{ offset: 10, length: 90, into: a }, { offset: 4500, length: 50, into: b }, { offset: 4000, length: 1000, into: c }]);
    const sink = new MultipartSink("XYZ", w, 5000, () => "");
    for (let i = 0; i < body.length; i += piece) sink.data(body.subarray(i, i + piece));
    sink.end();
    assert.ok(w.complete(), `piece ${piece}`);
    assert.equal([...a], [...blob.subarray(10, 100)], `piece ${piece}`);
    assert.equal([...b], [...blob.subarray(4500, 4550)]);
    assert.equal([...c], [...blob.subarray(4000)]);
  }
  const feed = (bytes: Uint8Array) => {
    const w = new RangeWriter([{ offset: 10, length: 90, into: new Uint8Array(90) }]);
    const sink = new MultipartSink("XYZ", w, 5000, () => "");
    sink.data(bytes);
    sink.end();
  };
  assert.throws(() => feed(body.subarray(0, 120)), /multipart body ended \d+ bytes into a part \(truncated\)/);
  assert.throws(() => feed(enc("--XYZ\r\nContent-Type: x\r\n\r\nabc")), /part 1 without Content-Range/);
  assert.throws(() => feed(Buffer.concat([enc(part(10, 99).replace("/5000", "/6000")), blob.subarray(10, 100)])), /total 6000 differs from the blob size 5000/);
  assert.throws(() => feed(Buffer.concat([enc(part(10, 99)), blob.subarray(10, 100), enc("\r\n")])), /without the closing boundary/);
});

test("platform selection from an index", () => {
  const m = (os: string, architecture: string, variant?: string) => ({
    mediaType: "application/vnd.oci.image.manifest.v1+json", digest: "sha256:" + `${os}${architecture}${variant ?? ""}`.padEnd(64, "0").replace(/[^0-9a-f]/g, "1").slice(0, 64), size: 1,
    platform: { os, architecture, ...(variant ? { variant } : {}) },
  });
  const index: ImageIndex = { schemaVersion: 2, manifests: [m("linux", "amd64"), m("linux", "arm", "v6"), m("linux", "arm", "v7"), m("linux", "arm64", "v8"), m("windows", "amd64")] };
  assert.is(selectManifest(index, parsePlatform("linux/amd64")), index.manifests[0]);
  assert.is(selectManifest(index, parsePlatform("linux/arm/v7")), index.manifests[2]);
  assert.is(selectManifest(index, parsePlatform("linux/arm64")), index.manifests[3]);
  assert.is(selectManifest(index, parsePlatform("windows/amd64")), index.manifests[4]);
  assert.throws(() => selectManifest(index, parsePlatform("linux/s390x")), /no manifest for platform linux\/s390x in the index \(has: linux\/amd64, linux\/arm\/v6/);
});

test.run();
