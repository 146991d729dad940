// The WWW-Authenticate challenge flow: Basic with stored credentials, or Bearer tokens from the
// realm the registry names, one per scope set, cached until shortly before they expire and
// fetched again when the registry answers 401 to them. What a challenge teaches holds for the
// repository it came with only: one repository's answer never changes how the host's others are
// asked (a bogus realm on one must not break them all), and a realm that is not an http(s) URL is
// refused with that request.
import type { Deadline } from "./deadline.js";
import { RegistryError } from "./errors.js";
import type { Credentials } from "./credentials.js";

export interface Challenge {
  scheme: string; // lowercased: "basic", "bearer"
  params: Record<string, string>;
}

/** Parses one or more challenges (RFC 7235: `Bearer realm="…",service="…", Basic realm="…"`). */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const text = Array.isArray(header) ? header.join(", ") : header ?? "";
  const out: Challenge[] = [];
  let i = 0;
  const skipWs = () => { while (i < text.length && /[\s,]/.test(text[i])) i++; };
  const token = () => { const m = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/.exec(text.slice(i)); if (!m) return ""; i += m[0].length; return m[0]; };
  let current: Challenge | undefined;
  while (i < text.length) {
    skipWs();
    const start = i;
    const t = token();
    if (!t) { i++; continue; }
    let j = i;
    while (j < text.length && text[j] === " ") j++;
    if (text[j] === "=" && current) {
      i = j + 1;
      while (i < text.length && text[i] === " ") i++;
      let value = "";
      if (text[i] === '"') {
        i++;
        while (i < text.length && text[i] !== '"') {
          if (text[i] === "\\" && i + 1 < text.length) i++;
          value += text[i++];
        }
        i++;
      } else {
        const m = /^[^,\s]*/.exec(text.slice(i))!;
        value = m[0];
        i += value.length;
      }
      current.params[t.toLowerCase()] = value;
    } else {
      current = { scheme: text.slice(start, i).toLowerCase(), params: {} };
      out.push(current);
    }
  }
  return out;
}

/** "repository:NAME:pull" / "repository:NAME:pull,push" */
export function repositoryScope(repository: string, push = false): string {
  return `repository:${repository}:${push ? "pull,push" : "pull"}`;
}

/** Fetches a token: the client's HTTP with its pools, retries and limits, within the asking operation's `budget`. */
export type TokenFetcher = (url: URL, init: { method: "GET" | "POST"; headers: Record<string, string>; body?: Uint8Array }, budget: Deadline) =>
  Promise<{ status: number; body: Uint8Array }>;

interface Token { value: string; expiresAt: number }

/** Bearer tokens from this token service (an http(s) URL). */
interface BearerAuth { scheme: "bearer"; realm: URL; service: string | undefined }

/** What one repository of an endpoint requires, learnt from its last challenge. */
type RepositoryAuth = { scheme: "basic" } | BearerAuth;

/** The token service a Bearer challenge names, if it is one esgz-fast may ask: an http(s) URL. */
function tokenRealm(realm: string | undefined, host: string): URL {
  const ctx = { registry: host, status: 401 };
  if (!realm) throw new RegistryError("auth", `Bearer challenge without a realm from ${host}`, ctx);
  const shown = JSON.stringify(realm.length > 200 ? realm.slice(0, 200) + "…" : realm);
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new RegistryError("auth", `Bearer challenge names token realm ${shown}, which is not a URL; refused`, ctx);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new RegistryError("auth", `Bearer challenge names token realm ${shown}, which is not an http(s) URL; refused`, ctx);
  }
  return url;
}

export function basicHeader(creds: Credentials): string {
  return "Basic " + Buffer.from(`${creds.username ?? ""}:${creds.password ?? ""}`, "utf8").toString("base64");
}

/** What one endpoint (origin) requires, per repository, learnt from their challenges. */
export class EndpointAuth {
  /** By repository; none until the repository's first 401 (asked anonymously until then). */
  private readonly repos = new Map<string, RepositoryAuth>();
  /** By realm, service and scope set. */
  private readonly tokens = new Map<string, Token>();
  private readonly pending = new Map<string, Promise<Token>>();

  constructor(
    private readonly host: string,
    private readonly credentials: (repository: string) => Promise<Credentials | undefined>,
    private readonly fetchToken: TokenFetcher,
    private readonly now: () => number = Date.now,
  ) {}

  /** The Authorization header to send now for these scopes of `repository`, if one is known (a token fetch within `budget`). */
  async header(scopes: string[], repository: string, budget: Deadline): Promise<string | undefined> {
    const auth = this.repos.get(repository);
    if (!auth) return undefined;
    if (auth.scheme === "basic") {
      const creds = await this.credentials(repository);
      return creds?.username !== undefined ? basicHeader(creds) : undefined;
    }
    const t = this.tokens.get(tokenKey(auth, scopes));
    if (t && t.expiresAt > this.now()) return `Bearer ${t.value}`;
    const fresh = await this.token(auth, scopes, repository, budget);
    return `Bearer ${fresh.value}`;
  }

  /** Drops the tokens obtained so far (the credentials behind them changed). */
  forgetTokens(): void {
    this.tokens.clear();
  }

  /**
   * Learns from a 401 answer to a request that carried `sent` (or no) Authorization. Returns true if a
   * retry with `header()` may succeed; false when the same credentials were already refused.
   */
  async challenged(wwwAuthenticate: string | string[] | undefined, scopes: string[], repository: string, sent: string | undefined): Promise<boolean> {
    const challenges = parseChallenges(wwwAuthenticate);
    const bearer = challenges.find((c) => c.scheme === "bearer");
    const basic = challenges.find((c) => c.scheme === "basic");
    const was = this.repos.get(repository);
    if (bearer) {
      const realm = tokenRealm(bearer.params.realm, this.host); // refused: nothing learnt, this request fails
      const service = bearer.params.service;
      const first = was?.scheme !== "bearer" || was.realm.href !== realm.href || was.service !== service;
      const auth: BearerAuth = { scheme: "bearer", realm, service };
      this.repos.set(repository, auth);
      const key = tokenKey(auth, scopes);
      const cached = this.tokens.get(key);
      // A token the registry refused is stale (expired early, revoked): drop it and fetch anew once.
      if (cached && sent === `Bearer ${cached.value}`) { this.tokens.delete(key); return true; }
      return first || sent === undefined || !sent.startsWith("Bearer ");
    }
    if (basic) {
      const creds = await this.credentials(repository);
      if (!creds || creds.username === undefined) {
        throw new RegistryError("auth", `${this.host} requires basic credentials and none were found (auth files or credential provider)`, { registry: this.host, status: 401 });
      }
      this.repos.set(repository, { scheme: "basic" });
      return was?.scheme !== "basic" || sent !== basicHeader(creds);
    }
    throw new RegistryError("auth", `401 without a usable WWW-Authenticate challenge from ${this.host} (${String(wwwAuthenticate ?? "none")})`, { registry: this.host, status: 401 });
  }

  private token(auth: BearerAuth, scopes: string[], repository: string, budget: Deadline): Promise<Token> {
    const key = tokenKey(auth, scopes);
    let p = this.pending.get(key);
    if (!p) {
      p = this.requestToken(auth, scopes, repository, budget).then(
        (t) => { this.tokens.set(key, t); this.pending.delete(key); return t; },
        (err) => { this.pending.delete(key); throw err; },
      );
      this.pending.set(key, p);
    }
    return p;
  }

  private async requestToken(auth: BearerAuth, scopes: string[], repository: string, budget: Deadline): Promise<Token> {
    const url = new URL(auth.realm.href); // its query is added to below
    const creds = await this.credentials(repository);
    const service = auth.service;
    let res: { status: number; body: Uint8Array };
    if (creds?.identityToken) {
      // OAuth2 refresh-token grant, as docker does with an identity token.
      const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: creds.identityToken, client_id: "esgz-fast" });
      if (service) form.set("service", service);
      if (scopes.length) form.set("scope", scopes.join(" "));
      res = await this.fetchToken(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new TextEncoder().encode(form.toString()) }, budget);
    } else {
      if (service) url.searchParams.set("service", service);
      for (const s of scopes) url.searchParams.append("scope", s);
      const headers: Record<string, string> = {};
      if (creds?.username !== undefined) headers.authorization = basicHeader(creds);
      res = await this.fetchToken(url, { method: "GET", headers }, budget);
    }
    const text = new TextDecoder().decode(res.body);
    if (res.status === 401 || res.status === 403) {
      throw new RegistryError("auth", `token service ${url.origin}${url.pathname} refused ${creds ? "the credentials" : "anonymous access"} (HTTP ${res.status}: ${text.slice(0, 200)})`, { registry: this.host, status: res.status });
    }
    if (res.status !== 200) {
      throw new RegistryError("auth", `token service ${url.origin}${url.pathname} answered HTTP ${res.status}: ${text.slice(0, 200)}`, { registry: this.host, status: res.status, retriable: res.status >= 500 || res.status === 429 });
    }
    let json: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    try {
      json = JSON.parse(text);
    } catch {
      throw new RegistryError("auth", `token service ${url.origin}${url.pathname} answered invalid JSON`, { registry: this.host });
    }
    const value = json.token || json.access_token;
    if (!value) throw new RegistryError("auth", `token service ${url.origin}${url.pathname} answered without a token`, { registry: this.host });
    const lifeMs = (typeof json.expires_in === "number" && json.expires_in > 0 ? json.expires_in : 60) * 1000;
    const issued = json.issued_at ? Date.parse(json.issued_at) : NaN;
    const base = Number.isFinite(issued) && Math.abs(issued - this.now()) < 3600_000 ? Math.min(issued, this.now()) : this.now();
    return { value, expiresAt: base + lifeMs - Math.min(10_000, lifeMs / 10) };
  }
}

/** Tokens are kept per token service and scope set. */
function tokenKey(auth: BearerAuth, scopes: string[]): string {
  return `${auth.realm.href} ${auth.service ?? ""} ${[...scopes].sort().join(" ")}`;
}
