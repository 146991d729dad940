// Registry credentials from the files container tools use, in their order:
// $REGISTRY_AUTH_FILE, ${XDG_RUNTIME_DIR}/containers/auth.json, /run/containers/0/auth.json,
// ~/.docker/config.json. The first file with an entry for the registry wins; inside a file the most
// specific key wins (containers auth files may key by "host/namespace/repo"). A file's `credHelpers`
// entry for the registry, or failing an `auths` entry its `credsStore`, names a docker credential
// helper that is asked instead (below). Providers chain: the store puts the credentials the
// engine hands it (engine-credentials.ts) before these files.
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Logger } from "../util/log.js";
import { RegistryError } from "./errors.js";
import { DOCKER_HUB } from "./reference.js";

export interface Credentials {
  username?: string;
  password?: string;
  /** OAuth2 refresh token (docker's `identitytoken`), traded at the token realm. */
  identityToken?: string;
}

/** Where the credentials would be sent. */
export interface CredentialTarget {
  /** A mirror of the reference's registry (`registry` is then the mirror's host), not the registry itself. */
  mirror: boolean;
}

/** Looks up credentials for a registry host and repository (undefined = anonymous). */
export type CredentialProvider = (registry: string, repository: string, target?: CredentialTarget) => Promise<Credentials | undefined>;

/** The first provider that has credentials answers. */
export function chainCredentialProviders(...providers: CredentialProvider[]): CredentialProvider {
  return async (registry, repository, target) => {
    for (const p of providers) {
      const c = await p(registry, repository, target);
      if (c) return c;
    }
    return undefined;
  };
}

export interface CredentialFileOptions {
  /** Environment: the files' locations, and the PATH credential helpers are found on. */
  env?: NodeJS.ProcessEnv;
  home?: string;
  /** Replace the standard list of files. */
  files?: string[];
  /** Where a failing credential helper is reported (it is then skipped). */
  log?: Pick<Logger, "warn" | "debug">;
  /** Bound on one helper run (default 10 s). */
  helperTimeoutMs?: number;
}

/** The auth files in the order container tools read them. */
export function authFilePaths(opts: CredentialFileOptions = {}): string[] {
  if (opts.files) return opts.files;
  const env = opts.env ?? process.env;
  const home = opts.home ?? env.HOME ?? homedir();
  const out: string[] = [];
  if (env.REGISTRY_AUTH_FILE) out.push(env.REGISTRY_AUTH_FILE);
  if (env.XDG_RUNTIME_DIR) out.push(join(env.XDG_RUNTIME_DIR, "containers", "auth.json"));
  out.push("/run/containers/0/auth.json");
  out.push(join(env.DOCKER_CONFIG ?? join(home, ".docker"), "config.json"));
  return out;
}

/** "https://index.docker.io/v1/" → "docker.io"; "http://host:5000/ns" → "host:5000/ns". */
function normaliseKey(key: string): string {
  let k = key.replace(/^[a-z]+:\/\//, "").replace(/\/+$/, "");
  if (k === "index.docker.io/v1" || k.startsWith("index.docker.io") || k.startsWith("registry-1.docker.io")) {
    k = DOCKER_HUB + k.replace(/^(index|registry-1)\.docker\.io(\/v1)?/, "");
  }
  return k.replace(/\/v[12]$/, "");
}

interface AuthEntry { auth?: string; username?: string; password?: string; identitytoken?: string }
interface AuthFile { auths?: Record<string, AuthEntry>; credHelpers?: Record<string, unknown>; credsStore?: unknown }

function entryToCredentials(e: AuthEntry, file: string, key: string): Credentials | undefined {
  const bad = (why: string) => new RegistryError("config", `${file}: auths."${key}": ${why}`);
  if (typeof e !== "object" || e === null) throw bad("not an object");
  const out: Credentials = {};
  if (e.auth) {
    const decoded = Buffer.from(e.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) throw bad("auth is not base64 of user:password");
    out.username = decoded.slice(0, colon);
    out.password = decoded.slice(colon + 1);
  } else if (e.username !== undefined || e.password !== undefined) {
    out.username = e.username ?? "";
    out.password = e.password ?? "";
  }
  if (e.identitytoken) out.identityToken = e.identitytoken;
  return out.username !== undefined || out.identityToken ? out : undefined;
}

/** The entry for registry/repository in one parsed auth file, most specific key first. */
export function credentialsFromAuthFile(json: unknown, registry: string, repository: string, file = "auth file"): Credentials | undefined {
  const auths = (json as { auths?: Record<string, AuthEntry> } | null)?.auths;
  if (!auths || typeof auths !== "object") return undefined;
  const byKey = new Map<string, [string, AuthEntry]>();
  for (const [key, entry] of Object.entries(auths)) byKey.set(normaliseKey(key), [key, entry]);
  const parts = repository.split("/");
  for (let n = parts.length; n >= 0; n--) {
    const want = n === 0 ? registry : `${registry}/${parts.slice(0, n).join("/")}`;
    const hit = byKey.get(want);
    if (hit) {
      const creds = entryToCredentials(hit[1], file, hit[0]);
      if (creds) return creds;
    }
  }
  return undefined;
}

/** The helper a file's `credHelpers` names for the registry (keys normalised as `auths` keys), if any. */
export function credentialHelperFor(json: unknown, registry: string, file = "auth file"): string | undefined {
  const helpers = (json as AuthFile | null)?.credHelpers;
  if (!helpers || typeof helpers !== "object") return undefined;
  for (const [key, name] of Object.entries(helpers)) {
    if (normaliseKey(key) !== registry) continue;
    if (typeof name !== "string" || name === "") throw new RegistryError("config", `${file}: credHelpers."${key}" must name a helper`);
    return name;
  }
  return undefined;
}

/** Reads the standard files (asynchronously, on every call: edits are picked up). */
export function fileCredentialProvider(opts: CredentialFileOptions = {}): CredentialProvider {
  // A helper that fails is reported and skipped: the next file (and then anonymous access) is tried.
  const ask = async (name: string, registry: string, file: string): Promise<Credentials | undefined> => {
    try {
      const c = await helperCredentials(name, registry, { env: opts.env, timeoutMs: opts.helperTimeoutMs });
      if (!c) opts.log?.debug("credential helper has no credentials for the registry", { helper: name, registry, file });
      return c;
    } catch (err) {
      opts.log?.warn("credential helper failed; trying the next source", { registry, file, error: (err as Error).message });
      return undefined;
    }
  };
  return async (registry, repository) => {
    for (const file of authFilePaths(opts)) {
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch {
        continue; // absent or unreadable: the next source
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw new RegistryError("config", `${file}: not valid JSON (${(err as Error).message})`);
      }
      // As containers/image: a credHelpers entry is the file's whole answer for its registry.
      const helper = credentialHelperFor(json, registry, file);
      if (helper !== undefined) {
        const c = await ask(helper, registry, file);
        if (c) return c;
        continue;
      }
      const creds = credentialsFromAuthFile(json, registry, repository, file);
      if (creds) return creds;
      // docker's default store for registries without their own entry (`docker login` leaves `auths` markers).
      const store = (json as AuthFile | null)?.credsStore;
      if (typeof store === "string" && store !== "") {
        const c = await ask(store, registry, file);
        if (c) return c;
      }
    }
    return undefined;
  };
}

// ---------------------------------------------------------------------------------------------
// Docker credential helpers (`docker-credential-<name> get`), run the way containers/image runs them:
// the registry host on stdin, `{"ServerURL","Username","Secret"}` on stdout; Username `<token>` means
// the secret is an identity (refresh) token. Asynchronous, bounded in time; errors never carry the
// helper's answer (it may hold the secret), only its exit status and its stderr's first line.

/** What helpers print (exit status 1) when they hold nothing for the server. */
const NOT_FOUND = "credentials not found in native keychain";
const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_OUTPUT = 64 * 1024;

export interface CredentialHelperOptions {
  /** Environment of the helper (default: this process's, PATH included). */
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/**
 * Asks `docker-credential-<name>` for `server`'s credentials: undefined when it holds none; throws a
 * RegistryError("auth") saying what went wrong (not installed, failed, timed out, bad answer).
 */
export function helperCredentials(name: string, server: string, opts: CredentialHelperOptions = {}): Promise<Credentials | undefined> {
  const program = `docker-credential-${name}`;
  const fail = (why: string) => new RegistryError("auth", `credential helper ${program}: ${why}`, { registry: server });
  // A name is a suffix of a program on PATH, never a path.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) return Promise.reject(fail("invalid helper name"));
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(program, ["get"], { env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let settled = false;
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
    };
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      finish(() => reject(fail(`no answer within ${timeoutMs / 1000} s`)));
    }, timeoutMs);
    child.stdout.on("data", (b: Buffer) => { outBytes += b.length; if (outBytes <= MAX_OUTPUT) out.push(b); });
    child.stderr.on("data", (b: Buffer) => { if (err.length < 16) err.push(b); });
    child.on("error", (e: NodeJS.ErrnoException) => finish(() => reject(fail(e.code === "ENOENT" ? "not found on PATH" : e.message))));
    child.stdin.on("error", () => { /* the helper exited without reading: its status says why */ });
    child.stdin.end(server);
    child.on("close", (code, signal) => finish(() => {
      const stdout = Buffer.concat(out).toString("utf8").trim();
      if (code !== 0) {
        if (stdout === NOT_FOUND) return resolve(undefined);
        const first = Buffer.concat(err).toString("utf8").split("\n")[0].trim().slice(0, 200);
        return reject(fail(`${signal ? `killed by ${signal}` : `exit status ${code}`}${first ? ` (${first})` : ""}`));
      }
      if (outBytes > MAX_OUTPUT) return reject(fail(`answer over ${MAX_OUTPUT} bytes`));
      let answer: { Username?: unknown; Secret?: unknown };
      try {
        answer = JSON.parse(stdout);
      } catch {
        return reject(fail("answer is not JSON")); // not quoted: it may hold the secret
      }
      const user = answer?.Username;
      const secret = answer?.Secret;
      if ((user !== undefined && typeof user !== "string") || (secret !== undefined && typeof secret !== "string")) {
        return reject(fail("answer's Username and Secret must be strings"));
      }
      if (!user && !secret) return resolve(undefined);
      resolve(user === "<token>" ? { identityToken: secret as string } : { username: user ?? "", password: secret ?? "" });
    }));
  });
}
