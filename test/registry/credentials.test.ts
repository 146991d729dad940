// Where credentials come from, below the store: docker credential helpers (real scripts on PATH, run as
// containers/image runs them), the auth files' credHelpers and credsStore, the credentials an engine
// hands over (EngineCredentials), and the chain that puts the engine's first.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { run, tempDir } from "../helpers/fuse.js";
import { chainCredentialProviders, EngineCredentials, fileCredentialProvider, helperCredentials, RegistryError } from "../../src/registry/index.js";

let work: string;
let bin: string;
let env: NodeJS.ProcessEnv;

async function script(name: string, body: string): Promise<void> {
  const p = join(bin, `docker-credential-${name}`);
  await writeFile(p, `#!/bin/sh\n${body}\n`);
  await chmod(p, 0o755);
}

async function rejects(p: Promise<unknown>, re: RegExp): Promise<Error> {
  try {
    await p;
  } catch (err) {
    assert.match((err as Error).message, re);
    return err as Error;
  }
  assert.unreachable(`expected a rejection matching ${re}`);
  throw new Error("unreachable");
}

test.before(async () => {
  work = await tempDir("esgz-creds-");
  bin = join(work, "bin");
  await mkdir(bin);
  env = { PATH: `${bin}:${process.env.PATH}`, HOME: work };
  // Records what it was asked (stdin) and answers as docker-credential-* helpers do.
  await script("ok", `read -r server; echo "$server" >> "${work}/asked"; printf '{"ServerURL":"%s","Username":"alice","Secret":"pw-ok"}' "$server"`);
  await script("token", `cat >/dev/null; echo '{"ServerURL":"x","Username":"<token>","Secret":"rt-refresh"}'`);
  await script("none", `cat >/dev/null; echo "credentials not found in native keychain"; exit 1`);
  await script("broken", `cat >/dev/null; echo "keyring is locked" >&2; exit 3`);
  await script("garbage", `cat >/dev/null; echo 'oops {"Secret":"pw-leak"'`);
  await script("slow", `sleep 10`);
});

test.after(async () => {
  if (work) await run("rm", ["-rf", work]);
});

test("credential helpers: the host on stdin, Username/Secret, <token> = identity token, not found = none", async () => {
  assert.equal(await helperCredentials("ok", "registry.example:5000", { env }), { username: "alice", password: "pw-ok" });
  assert.is((await readFile(join(work, "asked"), "utf8")).trim(), "registry.example:5000");
  assert.equal(await helperCredentials("token", "r.example", { env }), { identityToken: "rt-refresh" });
  assert.is(await helperCredentials("none", "r.example", { env }), undefined);
});

test("credential helpers that fail: a clear error, never their answer", async () => {
  await rejects(helperCredentials("absent", "r.example", { env }), /^registry r\.example: credential helper docker-credential-absent: not found on PATH$/);
  await rejects(helperCredentials("broken", "r.example", { env }), /docker-credential-broken: exit status 3 \(keyring is locked\)$/);
  const e = await rejects(helperCredentials("garbage", "r.example", { env }), /docker-credential-garbage: answer is not JSON$/);
  assert.not.match(e.message, /pw-leak/);
  await rejects(helperCredentials("slow", "r.example", { env, timeoutMs: 300 }), /docker-credential-slow: no answer within 0\.3 s/);
  await rejects(helperCredentials("../ok", "r.example", { env }), /invalid helper name/);
});

test("auth files: credHelpers for its registry, then auths, then credsStore; a failing helper is logged and the next file tried", async () => {
  const first = join(work, "auth.json");
  const docker = join(work, "config.json");
  await writeFile(first, JSON.stringify({
    credHelpers: { "a.example": "ok", "b.example": "broken" },
    auths: { "a.example": { auth: Buffer.from("file:ignored").toString("base64") } }, // credHelpers wins for a.example
  }));
  await writeFile(docker, JSON.stringify({
    credsStore: "token",
    auths: { "c.example": { auth: Buffer.from("carol:pw-file").toString("base64") }, "d.example": {} },
  }));
  const lines: Record<string, unknown>[] = [];
  const log = {
    warn: (msg: string, f?: Record<string, unknown>) => lines.push({ level: "warn", msg, ...f }),
    debug: (msg: string, f?: Record<string, unknown>) => lines.push({ level: "debug", msg, ...f }),
  };
  const get = fileCredentialProvider({ files: [first, docker], env, log });
  assert.equal(await get("a.example", "app"), { username: "alice", password: "pw-ok" });
  // b.example: its helper fails → logged, the next file: no auths entry → credsStore
  assert.equal(await get("b.example", "app"), { identityToken: "rt-refresh" });
  assert.equal(lines, [{ level: "warn", msg: "credential helper failed; trying the next source", registry: "b.example", file: first, error: "registry b.example: credential helper docker-credential-broken: exit status 3 (keyring is locked)" }]);
  assert.equal(await get("c.example", "app"), { username: "carol", password: "pw-file" }); // auths before credsStore
  assert.equal(await get("d.example", "app"), { identityToken: "rt-refresh" }); // an empty auths marker: credsStore
});

test("engine credentials: per registry/repository, normalised, never for a mirror, before the auth files", async () => {
  const engine = new EngineCredentials();
  const added = engine.add(JSON.stringify({
    "127.0.0.1:5000/team/app:v1": { username: "alice", password: "pw-engine" },
    "alpine": { identityToken: "rt-hub" },
    ["quay.io/org/img@sha256:" + "a".repeat(64)]: { username: "bob", password: "pw-b", identityToken: "rt-b" },
  }));
  assert.equal(added, { repositories: ["127.0.0.1:5000/team/app", "docker.io/library/alpine", "quay.io/org/img"], changed: ["127.0.0.1:5000", "docker.io", "quay.io"] });
  assert.equal(await engine.provider("127.0.0.1:5000", "team/app"), { username: "alice", password: "pw-engine" });
  assert.equal(await engine.provider("127.0.0.1:5000", "team/app", { mirror: false }), { username: "alice", password: "pw-engine" });
  assert.is(await engine.provider("127.0.0.1:5000", "team/app", { mirror: true }), undefined, "never to a mirror");
  assert.is(await engine.provider("127.0.0.1:5000", "team/other"), undefined, "only the repository it was given for");
  assert.equal(await engine.provider("docker.io", "library/alpine"), { identityToken: "rt-hub" });
  assert.equal(await engine.provider("quay.io", "org/img"), { identityToken: "rt-b" }, "an identity token stands alone");
  // the same again changes nothing; an empty entry (an anonymous pull) removes the credential
  assert.equal(engine.add(JSON.stringify({ "127.0.0.1:5000/team/app:v2": { username: "alice", password: "pw-engine" } })).changed, []);
  assert.equal(engine.add(JSON.stringify({ "127.0.0.1:5000/team/app:v1": {} })).changed, ["127.0.0.1:5000"]);
  assert.is(await engine.provider("127.0.0.1:5000", "team/app"), undefined);

  const files = fileCredentialProvider({ files: [join(work, "engine-auth.json")], env });
  await writeFile(join(work, "engine-auth.json"), JSON.stringify({ auths: { "127.0.0.1:5000": { auth: Buffer.from("file:pw-file").toString("base64") } } }));
  const chain = chainCredentialProviders(engine.provider, files);
  assert.equal(await chain("127.0.0.1:5000", "team/app"), { username: "file", password: "pw-file" });
  engine.add(JSON.stringify({ "127.0.0.1:5000/team/app:v1": { username: "alice", password: "pw-engine" } }));
  assert.equal(await chain("127.0.0.1:5000", "team/app"), { username: "alice", password: "pw-engine" }, "the engine's first");
});

test("engine credentials: malformed messages are refused whole, and the error never quotes a secret", async () => {
  const engine = new EngineCredentials();
  const bad: [string, RegExp][] = [
    ['{"r.example/a:1": {"password": "pw-secret"', /^not valid JSON$/],
    ['["pw-secret"]', /^not a JSON object of image references$/],
    ['{"r.example/a:1": "pw-secret"}', /^the entry of "r\.example\/a:1" is not an object$/],
    ['{"r.example/a:1": {"username": 7, "password": "pw-secret"}}', /^username of "r\.example\/a:1" is not a string$/],
    ['{"r.example/a:1": {"username": "u", "password": "pw-secret"}, "Bad Ref": {"password": "pw-secret"}}', /invalid image reference "Bad Ref"/],
  ];
  for (const [text, re] of bad) {
    let err: unknown;
    try { engine.add(text); } catch (e) { err = e; }
    assert.instance(err, RegistryError, text);
    assert.match((err as Error).message, re);
    assert.not.match((err as Error).message, /pw-secret/);
  }
  assert.is(engine.size, 0, "nothing of a refused message is kept");
});

test.run();
