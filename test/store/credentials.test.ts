// Registry credentials through the store, end to end: a real docker-registry with htpasswd (bcrypt)
// auth holding a private eStargz image, `esgz-fast mount` as its own process, and the two ways an
// operator gets credentials to it besides the auth files: from the engine (containers/image runs
// `additional-layer-store-auth-helper` = `esgz-fast store-helper`, which talks to the store's
// credential socket), and docker credential helpers named by the auth files. Proxies in front of the
// registry (test/helpers/fault-proxy.ts) record what reached a mirror, the registry, and the blob
// storage a redirect points at. The password must never show in the store's logs, metrics or files.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFile, spawnSync } from "node:child_process";
import { connect as http2Connect, createServer as createHttp2Server, constants as h2 } from "node:http2";
import { chmod, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import { cleanupMount, run, startStore, tempDir, type StoreProcess } from "../helpers/fuse.js";
import { pushEStargzImage, refDir, type PushedEStargz } from "../helpers/podman.js";
import { freePort, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { startFaultProxy, type FaultProxy } from "../helpers/fault-proxy.js";
import { cliPath } from "../helpers/run-cli.js";
import { rejects } from "../helpers/assert.js";
import { decodeRequest, encodeRequest, decodeResponse } from "../../src/store/credential-rpc.js";

const PASSWORD = "pw-Zq81-never-logged";
const alice = { user: "alice", password: PASSWORD };
const basic = (user: string, pw: string) => "Basic " + Buffer.from(`${user}:${pw}`).toString("base64");
const SECRETS = [PASSWORD, Buffer.from(`alice:${PASSWORD}`).toString("base64")];
const HELLO = "a private layer\n";
let work: string;
let reg: TestRegistry;
let img: PushedEStargz;
const stores: StoreProcess[] = [];
const mounts: string[] = [];
const proxies: FaultProxy[] = [];

const refOn = (host: string) => `${host}/private/app:v1`;
const helloPath = (mnt: string, ref: string) => join(mnt, refDir(ref), img.layers[0].digest, "diff", "hello.txt");
const isBlobGet = (r: { method: string; path: string }) => r.method === "GET" && r.path.includes("/blobs/sha256:");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// An ENOENT answer is cached by the kernel for the store's entry_timeout (1 s): a lookup of the same
// name must wait that long to reach the store again.
const pastNegativeCache = () => sleep(1200);

async function storeWith(name: string, opts: { configToml?: string; env?: NodeJS.ProcessEnv; args?: string[]; addr?: string } = {}): Promise<StoreProcess> {
  const mnt = join(work, `mnt-${name}`);
  mounts.push(mnt);
  const s = await startStore({
    mountpoint: mnt, root: join(work, `root-${name}`), configToml: opts.configToml, args: opts.args, addr: opts.addr,
    // No auth file of this machine's: HOME is the test's, no XDG_RUNTIME_DIR, REGISTRY_AUTH_FILE as given.
    env: { HOME: work, XDG_RUNTIME_DIR: "", REGISTRY_AUTH_FILE: join(work, "no-auth.json"), DOCKER_CONFIG: join(work, "no-docker"), ...opts.env },
  });
  stores.push(s);
  return s;
}

/** `esgz-fast store-helper ARGS` with `input` on stdin. */
function storeHelper(args: string[], input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = execFile(process.execPath, [cliPath, "store-helper", ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
    });
    c.stdin!.end(input);
  });
}

/** What containers/image writes to the auth helper's stdin for a pull of `ref` (omitempty fields). */
const containersImageJson = (ref: string, user: string, password: string) => JSON.stringify({ [ref]: { username: user, password } });

function lineOf(store: StoreProcess, msg: string, has: string): Record<string, unknown> | undefined {
  const l = store.logs().split("\n").find((x) => x.includes(`"msg":"${msg}"`) && x.includes(has));
  return l ? JSON.parse(l) : undefined;
}

/** The line, once the store's stderr has brought it here (it is written before the answer it goes with). */
async function waitForLine(store: StoreProcess, msg: string, has: string): Promise<Record<string, unknown> | undefined> {
  for (let i = 0; i < 200; i++) {
    const l = lineOf(store, msg, has);
    if (l) return l;
    await sleep(25);
  }
  return undefined;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...await filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** The password, plain or in a Basic header, appears nowhere the store writes. */
async function assertNoSecret(store: StoreProcess, metricsUrl: string): Promise<void> {
  const places: [string, string][] = [["the log", store.logs()], ["the metrics", await (await fetch(metricsUrl)).text()]];
  const files = await filesUnder(store.root);
  assert.ok(files.length > 0, "the store wrote files under --root");
  for (const f of files) places.push([f, (await readFile(f)).toString("latin1")]);
  for (const [where, text] of places) for (const s of SECRETS) assert.not.ok(text.includes(s), `a credential in ${where}`);
}

test.before(async () => {
  work = await tempDir("esgz-creds-store-");
  const tree = join(work, "tree");
  await mkdir(tree);
  await writeFile(join(tree, "hello.txt"), HELLO);
  await run("tar", ["-C", tree, "-cf", join(work, "layer.tar"), "hello.txt"]);
  reg = await startRegistry({ htpasswd: alice });
  img = await pushEStargzImage(reg, "private/app", "v1", [join(work, "layer.tar")], { auth: alice });
});

test.after(async () => {
  for (const s of stores) await s.stop().catch(() => {});
  for (const m of mounts) await cleanupMount(m).catch(() => {});
  for (const p of proxies) await p.stop().catch(() => {});
  await reg?.stop();
  if (work) await run("rm", ["-rf", work]).catch(() => {});
});

test("engine credentials: ENOENT before, served after `esgz-fast store-helper`; only the registry's own origin gets them", async () => {
  const front = await startFaultProxy(reg.url); // the registry, as the reference names it
  const mirror = await startFaultProxy(reg.url); // a mirror that asks for credentials too
  const storage = await startFaultProxy(reg.url, { addHeaders: { authorization: basic(alice.user, alice.password) } }); // blob storage behind a redirect
  proxies.push(front, mirror, storage);
  front.rules.push({ match: isBlobGet, fault: { kind: "redirect", location: (p) => `${storage.url}${p}` }, times: 1000 });
  // The auth file holds a wrong password: the engine's credentials must win over it.
  const authFile = join(work, "wrong-auth.json");
  await writeFile(authFile, JSON.stringify({ auths: { [front.host]: { auth: Buffer.from("alice:stale-password").toString("base64") } } }));
  const port = await freePort();
  const store = await storeWith("engine", {
    configToml: `[[resolver.host."${front.host}".mirrors]]\nhost = "${mirror.host}"\n`,
    env: { REGISTRY_AUTH_FILE: authFile },
    args: ["-metrics-address", `127.0.0.1:${port}`],
  });
  const ref = refOn(front.host);
  const sock = join(store.root, "store.sock");
  // A pull straight from the mirror's host gave credentials for that host: still, as a mirror, it
  // gets none (stargz-store's rule: engine credentials only for the reference's own host).
  assert.equal(await storeHelper([sock], containersImageJson(refOn(mirror.host), alice.user, alice.password)), { code: 0, stdout: "", stderr: "" });

  await rejects(() => stat(helloPath(store.mountpoint, ref)), /ENOENT/);
  const refused = await waitForLine(store, "cannot resolve image; answering ENOENT", ref); // the log comes through a pipe, after the answer
  assert.ok(refused, store.logs().slice(-3000));
  assert.match(String(refused!.error), new RegExp(`registry ${front.host}, repository private/app, manifest v1: HTTP 401 .*UNAUTHORIZED`));

  const r = await storeHelper([sock], containersImageJson(ref, alice.user, alice.password));
  assert.equal(r, { code: 0, stdout: "", stderr: "" });
  assert.equal((await waitForLine(store, "credentials received from the engine", front.host))?.repositories, [`${front.host}/private/app`]);
  await pastNegativeCache();
  assert.is(await readFile(helloPath(store.mountpoint, ref), "utf8"), HELLO);

  assert.ok(front.seen.some((q) => q.headers.authorization === basic(alice.user, alice.password)), "the registry got the engine's credentials");
  assert.ok(mirror.seen.length > 0, "the mirror was asked first");
  assert.ok(mirror.seen.every((q) => q.headers.authorization === undefined), "never to the mirror");
  assert.ok(storage.seen.some(isBlobGet), "the blob came from the redirect's target");
  assert.ok(storage.seen.every((q) => q.headers.authorization === undefined), "never to another origin after a redirect");
  await assertNoSecret(store, `http://127.0.0.1:${port}/metrics`);
});

test("credential helpers on PATH: credHelpers, and credsStore after a missing helper was logged and skipped", async () => {
  const viaHelpers = await startFaultProxy(reg.url);
  const viaStore = await startFaultProxy(reg.url);
  proxies.push(viaHelpers, viaStore);
  const bin = join(work, "bin");
  await mkdir(bin, { recursive: true });
  const asked = join(work, "asked");
  const helper = join(bin, "docker-credential-esgztest");
  await writeFile(helper, `#!/bin/sh\n[ "$1" = get ] || exit 2\nread -r server\necho "$server" >> "${asked}"\nprintf '{"ServerURL":"%s","Username":"alice","Secret":"${PASSWORD}"}' "$server"\n`);
  await chmod(helper, 0o755);
  const authFile = join(work, "helpers-auth.json");
  await writeFile(authFile, JSON.stringify({ credHelpers: { [viaHelpers.host]: "esgztest", [viaStore.host]: "esgzmissing" } }));
  const dockerDir = join(work, "docker");
  await mkdir(dockerDir, { recursive: true });
  await writeFile(join(dockerDir, "config.json"), JSON.stringify({ credsStore: "esgztest" }));
  const port = await freePort();
  const store = await storeWith("helpers", {
    env: { PATH: `${bin}:${process.env.PATH}`, REGISTRY_AUTH_FILE: authFile, DOCKER_CONFIG: dockerDir },
    args: ["-metrics-address", `127.0.0.1:${port}`],
  });
  assert.is(await readFile(helloPath(store.mountpoint, refOn(viaHelpers.host)), "utf8"), HELLO);
  assert.is(await readFile(helloPath(store.mountpoint, refOn(viaStore.host)), "utf8"), HELLO);
  assert.equal((await readFile(asked, "utf8")).trim().split("\n").sort(), [viaHelpers.host, viaStore.host].sort(), "each helper run got its registry host on stdin");
  const skipped = await waitForLine(store, "credential helper failed; trying the next source", viaStore.host);
  assert.ok(skipped, store.logs().slice(-3000));
  assert.equal([skipped!.level, skipped!.file, skipped!.error], ["warning", authFile, `registry ${viaStore.host}: credential helper docker-credential-esgzmissing: not found on PATH`]);
  await assertNoSecret(store, `http://127.0.0.1:${port}/metrics`);
});

test("the credential socket speaks stargz-store's wire format: raw HTTP/2 gRPC frames both ways", async () => {
  const [store] = stores;
  const sock = join(store.root, "store.sock");
  // A client that is neither grpc-js nor our codec: an AddCredentialRequest{data} by hand.
  const call = (data: string) => new Promise<{ status: number; grpcStatus: string; grpcMessage: string; body: Buffer }>((resolve, reject) => {
    const session = http2Connect("http://localhost", { createConnection: () => netConnect(sock) });
    session.on("error", reject);
    const d = Buffer.from(data);
    const msg = Buffer.concat([Buffer.from([0x0a, ...varint(d.length)]), d]);
    const frame = Buffer.concat([Buffer.from([0, (msg.length >>> 24) & 255, (msg.length >>> 16) & 255, (msg.length >>> 8) & 255, msg.length & 255]), msg]);
    const req = session.request({ [h2.HTTP2_HEADER_METHOD]: "POST", [h2.HTTP2_HEADER_PATH]: "/Controller/AddCredential", "content-type": "application/grpc", te: "trailers" });
    let status = 0;
    let trailers: Record<string, unknown> = {};
    const parts: Buffer[] = [];
    req.on("response", (h) => { status = Number(h[":status"]); trailers = { ...h }; });
    req.on("trailers", (t) => { trailers = { ...trailers, ...t }; });
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      session.close();
      resolve({ status, grpcStatus: String(trailers["grpc-status"]), grpcMessage: decodeURIComponent(String(trailers["grpc-message"] ?? "")), body: Buffer.concat(parts) });
    });
    req.end(frame);
  });
  const ok = await call(containersImageJson(refOn("127.0.0.1:1"), "bob", "pw-raw"));
  assert.equal([ok.status, ok.grpcStatus], [200, "0"]);
  assert.equal([...ok.body], [0, 0, 0, 0, 0], "AddCredentialResponse{}: an empty message");
  const bad = await call("{not json");
  assert.equal([bad.grpcStatus, bad.grpcMessage], [String(3), "not valid JSON"], "INVALID_ARGUMENT, saying why");

  // The other way: what `esgz-fast store-helper` puts on the wire, seen by a bare HTTP/2 server.
  const fake = join(work, "fake.sock");
  const seen: { path?: string; contentType?: string; body?: Buffer } = {};
  const server = createHttp2Server();
  server.on("stream", (stream, headers) => {
    seen.path = String(headers[":path"]);
    seen.contentType = String(headers["content-type"]);
    const parts: Buffer[] = [];
    stream.on("data", (c: Buffer) => parts.push(c));
    stream.on("end", () => {
      seen.body = Buffer.concat(parts);
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(Buffer.from([0, 0, 0, 0, 0]));
    });
  });
  await new Promise<void>((r) => server.listen(fake, r));
  try {
    const json = containersImageJson(refOn("127.0.0.1:2"), "carol", "pw-wire");
    const r = await storeHelper([fake], json);
    assert.equal(r, { code: 0, stdout: "", stderr: "" });
    assert.is(seen.path, "/Controller/AddCredential");
    assert.is(seen.contentType, "application/grpc");
    const d = Buffer.from(json);
    const msg = Buffer.concat([Buffer.from([0x0a, ...varint(d.length)]), d]);
    assert.equal([...seen.body!], [0, 0, 0, (msg.length >>> 8) & 255, msg.length & 255, ...msg], "one uncompressed gRPC message: field 1, length-delimited");
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test("codec: protobuf wire format, unknown fields skipped, malformed input refused", () => {
  const data = Buffer.from("x".repeat(300));
  const enc = encodeRequest(data);
  assert.equal([...enc.subarray(0, 3)], [0x0a, 0xac, 0x02], "tag 1/LEN, varint 300");
  assert.equal(Buffer.from(decodeRequest(enc)), data);
  assert.is(encodeRequest(new Uint8Array(0)).length, 0, "proto3: an empty field is omitted");
  assert.is(decodeRequest(new Uint8Array(0)).length, 0);
  // unknown fields of every wire type around it, and a later field 1 wins
  const withUnknown = Buffer.concat([Buffer.from([0x10, 0x96, 0x01, 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x25, 1, 2, 3, 4, 0x2a, 2, 0xff, 0xff, 0x0a, 1, 0x41]), enc]);
  assert.equal(Buffer.from(decodeRequest(withUnknown)), data);
  assert.equal(decodeResponse(Buffer.from([0x10, 0x01])), {});
  for (const bad of [[0x0a, 5, 1], [0x0a], [0x0b], [0x08, 0x80], [0x00, 0x01], [0x19, 1, 2]]) {
    assert.throws(() => decodeRequest(Buffer.from(bad)), undefined, JSON.stringify(bad));
  }
});

test("the socket: 0600, a stale one replaced, a live one (another store) refused, and the helper's errors", async () => {
  const addr = join(work, "shared.sock");
  // A stale socket file: bound by a process that is gone, nobody listening.
  const py = spawnSync("python3", ["-c", `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(addr)})`]);
  assert.is(py.status, 0, String(py.stderr));
  assert.ok((await stat(addr)).isSocket());
  const store = await storeWith("stale", { addr });
  assert.ok(await waitForLine(store, "removed a stale credential socket", addr), store.logs());
  assert.is((await stat(addr)).mode & 0o777, 0o600);
  assert.equal(await storeHelper([addr], containersImageJson(refOn("127.0.0.1:3"), "dave", "pw-x")), { code: 0, stdout: "", stderr: "" });

  // A second store on the same socket: it stops with a fatal line; the first keeps its socket.
  const err = await rejects(() => storeWith("second", { addr }), /exited \(1\) before it was ready/);
  assert.match(err.message, /"level":"fatal","msg":"cannot serve the credential socket".*another process is listening on/);
  assert.equal(await storeHelper([addr], containersImageJson(refOn("127.0.0.1:3"), "dave", "pw-x")), { code: 0, stdout: "", stderr: "" });
  const file = join(work, "not-a-socket");
  await writeFile(file, "");
  await rejects(() => storeWith("file", { addr: file }), /exists and is not a socket/);

  // What the helper says when it cannot deliver: one line, exit 1, nothing of stdin echoed.
  const none = await storeHelper([join(work, "nothing.sock")], containersImageJson(refOn("127.0.0.1:3"), "dave", "pw-x"));
  assert.equal(none, { code: 1, stdout: "", stderr: `esgz-fast store-helper: no credential socket at ${join(work, "nothing.sock")} (is \`esgz-fast mount\` running with --addr ${join(work, "nothing.sock")}?)\n` });
  const badJson = await storeHelper([addr], '{"r.example/a:1": {"password": "pw-secret"');
  assert.equal(badJson, { code: 1, stdout: "", stderr: "esgz-fast store-helper: stdin: not valid JSON\n" });
  await store.stop();
  const gone = await storeHelper([addr], containersImageJson(refOn("127.0.0.1:3"), "dave", "pw-x"));
  assert.is(gone.code, 1);
  assert.match(gone.stderr, /^esgz-fast store-helper: no credential socket at /, "removed when the store stopped");
});

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) { out.push((n & 0x7f) | 0x80); n >>>= 7; }
  out.push(n);
  return out;
}

test.run();
