// Registry credentials from the files container tools use, in their order:
// $REGISTRY_AUTH_FILE, ${XDG_RUNTIME_DIR}/containers/auth.json, /run/containers/0/auth.json,
// ~/.docker/config.json. The first file with an entry for the registry wins; inside a file the most
// specific key wins (containers auth files may key by "host/namespace/repo").
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { RegistryError } from "./errors.js";
import { DOCKER_HUB } from "./reference.js";

export interface Credentials {
  username?: string;
  password?: string;
  /** OAuth2 refresh token (docker's `identitytoken`), traded at the token realm. */
  identityToken?: string;
}

/** Looks up credentials for a registry and repository (undefined = anonymous). */
export type CredentialProvider = (registry: string, repository: string) => Promise<Credentials | undefined>;

export interface CredentialFileOptions {
  env?: NodeJS.ProcessEnv;
  home?: string;
  /** Replace the standard list of files. */
  files?: string[];
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

/** Reads the standard files (asynchronously, on every call: edits are picked up). */
export function fileCredentialProvider(opts: CredentialFileOptions = {}): CredentialProvider {
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
      const creds = credentialsFromAuthFile(json, registry, repository, file);
      if (creds) return creds;
    }
    return undefined;
  };
}
