// Credentials the engine hands the store: containers/image runs `additional-layer-store-auth-helper`
// with `{"<image ref>": {"username", "password", "identityToken"}}` on stdin, and the helper passes
// those bytes to the store's credential socket. Kept in memory only, per registry and repository
// (what a registry credential authorises; the tag or digest of the reference does not matter), and
// given only for the reference's own registry host: never to a mirror (as stargz-store).
import type { CredentialProvider, Credentials } from "./credentials.js";
import { RegistryError } from "./errors.js";
import { parseReference } from "./reference.js";

const FIELDS = ["username", "password", "identityToken"] as const;

export interface AddedCredentials {
  /** The `registry/repository` of each reference of the message (no secret in them: these may be logged). */
  repositories: string[];
  /** Registries whose credentials changed (cached tokens and lookups of these are stale). */
  changed: string[];
}

export class EngineCredentials {
  /** `registry/repository` → credentials. */
  private readonly byRepository = new Map<string, Credentials>();

  /**
   * Takes one message. Throws a RegistryError("config") that says what is malformed without quoting
   * any value (the message holds secrets); nothing of a malformed message is kept.
   */
  add(data: Uint8Array | string): AddedCredentials {
    const text = typeof data === "string" ? data : new TextDecoder("utf-8", { fatal: false }).decode(data);
    const bad = (why: string) => new RegistryError("config", why);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw bad("not valid JSON"); // V8's message quotes the text around the error: not repeated
    }
    if (typeof json !== "object" || json === null || Array.isArray(json)) throw bad("not a JSON object of image references");
    const parsed: [string, Credentials | undefined][] = [];
    for (const [ref, entry] of Object.entries(json)) {
      let key: string;
      try {
        const r = parseReference(ref);
        key = `${r.registry}/${r.repository}`;
      } catch (err) {
        throw bad((err as Error).message);
      }
      if (typeof entry !== "object" || entry === null || Array.isArray(entry)) throw bad(`the entry of ${JSON.stringify(ref)} is not an object`);
      const creds: Credentials = {};
      for (const f of FIELDS) {
        const v = (entry as Record<string, unknown>)[f];
        if (v === undefined || v === null || v === "") continue;
        if (typeof v !== "string") throw bad(`${f} of ${JSON.stringify(ref)} is not a string`);
        creds[f] = v;
      }
      // An identity token stands alone (stargz-store: username/password are ignored then).
      const usable = creds.identityToken ? { identityToken: creds.identityToken }
        : creds.username !== undefined || creds.password !== undefined ? { username: creds.username ?? "", password: creds.password ?? "" } : undefined;
      parsed.push([key, usable]);
    }
    const changed = new Set<string>();
    for (const [key, creds] of parsed) {
      const before = this.byRepository.get(key);
      // An empty entry (an anonymous pull) leaves no credential: the auth files answer again.
      if (creds) this.byRepository.set(key, creds);
      else this.byRepository.delete(key);
      if (!sameCredentials(before, creds)) changed.add(key.slice(0, key.indexOf("/")));
    }
    return { repositories: parsed.map(([k]) => k), changed: [...changed] };
  }

  /** Number of repositories with credentials. */
  get size(): number {
    return this.byRepository.size;
  }

  readonly provider: CredentialProvider = async (registry, repository, target) => {
    if (target?.mirror) return undefined;
    return this.byRepository.get(`${registry}/${repository}`);
  };
}

function sameCredentials(a: Credentials | undefined, b: Credentials | undefined): boolean {
  return a?.username === b?.username && a?.password === b?.password && a?.identityToken === b?.identityToken;
}
