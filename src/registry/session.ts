// The request engine every registry operation goes through: endpoints (mirrors, then the host),
// the challenge flow, redirects (credentials and per-host headers stay on the registry's origin),
// the reuse of redirected blob URLs, retries with backoff, and errors that say where and why.
// Time: an operation (`perform`) has the fetch budget for all its attempts on all endpoints; each
// request (with its redirects) has its endpoint's request timeout; both bound headers and body.
import type { IncomingHttpHeaders } from "node:http";
import type { Dispatcher } from "undici";
import { EndpointAuth, repositoryScope } from "./auth.js";
import { deadlineIn, earlier, type Deadline } from "./deadline.js";
import type { CredentialProvider, Credentials } from "./credentials.js";
import { RegistryError, type RegistryErrorContext } from "./errors.js";
import { endpointsFor, type Endpoint, type ResolverConfig } from "./hosts.js";
import type { Reference } from "./reference.js";
import { retryAfterMs, withRetry, type RetryPolicy } from "./retry.js";
import { BufferSink, discardSink, type ResponseHead, type SinkChooser } from "./http.js";
import type { Transport } from "./transport.js";

export interface Target {
  ref: Reference;
  /** For error messages: "blob sha256:…", "manifest latest". */
  object: string;
  /** Needs pull+push scope; only the registry itself is used, never a mirror. */
  push?: boolean;
  /** Extra repositories the token must cover (cross-repository mount source). */
  extraScopes?: string[];
}

export interface Exchange {
  method: Dispatcher.HttpMethod;
  /** Path and query on the registry, e.g. "/v2/library/alpine/blobs/sha256:…". */
  path: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Statuses handed to `choose`; anything else is an error (3xx followed when allowed, 401 answered). */
  accept: (status: number) => boolean;
  followRedirects?: boolean;
  /** Remember where a redirect ended and go there directly next time (blob storage URLs). */
  redirectKey?: string;
  /** An absolute URL on the endpoint's origin instead of `path` (upload locations). */
  url?: URL;
}

export interface SessionOptions {
  resolver: ResolverConfig;
  retry: RetryPolicy;
  credentials: CredentialProvider;
  transport: Transport;
  /** How long a mirror that failed is skipped. */
  mirrorCooldownMs: number;
}

const MAX_REDIRECTS = 5;
const ERROR_BODY_LIMIT = 4096;
const CREDENTIALS_TTL_MS = 30_000;

function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The distribution API's `{"errors":[{code,message}]}` body, shortened, for messages. */
function registryErrorText(body: Uint8Array): string {
  if (!body.length) return "";
  const text = new TextDecoder().decode(body);
  try {
    const j = JSON.parse(text) as { errors?: { code?: string; message?: string; detail?: unknown }[] };
    if (Array.isArray(j.errors) && j.errors.length) return j.errors.map((e) => [e.code, e.message].filter(Boolean).join(": ")).join("; ");
  } catch { /* not JSON */ }
  return text.replace(/\s+/g, " ").slice(0, 200);
}

/** The error for an unexpected status. */
export function statusError(head: ResponseHead, body: Uint8Array, ctx: RegistryErrorContext): RegistryError {
  const s = head.status;
  const text = registryErrorText(body);
  const detail = `HTTP ${s} from ${head.url.origin}${head.url.pathname}${text ? ` (${text})` : ""}`;
  if (s === 404) return new RegistryError("not-found", detail, { ...ctx, status: s });
  if (s === 401 || s === 403) return new RegistryError("auth", detail, { ...ctx, status: s });
  if (s === 416) return new RegistryError("range", detail, { ...ctx, status: s });
  const retriable = s === 429 || s === 408 || (s >= 500 && s !== 501 && s !== 505);
  return new RegistryError("http", detail, { ...ctx, status: s, retriable, retryAfterMs: retriable ? retryAfterMs(head.headers["retry-after"]) : undefined });
}

export class Session {
  private readonly auths = new Map<string, EndpointAuth>();
  private readonly redirects = new Map<string, URL>();
  private readonly mirrorDownUntil = new Map<string, number>();
  private readonly endpointCache = new Map<string, Endpoint[]>();
  private readonly credentialCache = new Map<string, { value: Promise<Credentials | undefined>; until: number }>();
  /** Parsed request URLs by origin and path: a blob's ranges ask for the same URL again and again. */
  private readonly urls = new Map<string, URL>();
  /** Registries seen to answer multi-range requests with something other than multipart (→ false). */
  readonly multiRange = new Map<string, boolean>();

  constructor(readonly opts: SessionOptions) {}

  endpoints(registry: string): Endpoint[] {
    let eps = this.endpointCache.get(registry);
    if (!eps) {
      eps = endpointsFor(registry, this.opts.resolver);
      this.endpointCache.set(registry, eps);
    }
    return eps;
  }

  private auth(ep: Endpoint): EndpointAuth {
    let a = this.auths.get(ep.origin);
    if (!a) {
      // A mirror is authenticated with credentials stored for the mirror's own host.
      const credHost = ep.mirror ? ep.host : ep.registry;
      a = new EndpointAuth(ep.host, (repository) => this.credentials(credHost, repository, ep.mirror), (url, init, budget) => this.fetchToken(ep, url, init, budget));
      this.auths.set(ep.origin, a);
    }
    return a;
  }

  /** Credentials by host and repository, looked up at most every CREDENTIALS_TTL_MS (basic auth asks per request). */
  private credentials(host: string, repository: string, mirror: boolean): Promise<Credentials | undefined> {
    const key = `${host} ${repository}${mirror ? " mirror" : ""}`;
    const hit = this.credentialCache.get(key);
    if (hit && hit.until > Date.now()) return hit.value;
    const value = this.opts.credentials(host, repository, { mirror });
    this.credentialCache.set(key, { value, until: Date.now() + CREDENTIALS_TTL_MS });
    value.catch(() => this.credentialCache.delete(key));
    return value;
  }

  /**
   * New credentials for `registry` were given: its cached lookups and the tokens of its own endpoint
   * (not its mirrors') are dropped, so the next request uses them.
   */
  forgetCredentials(registry: string): void {
    for (const key of this.credentialCache.keys()) if (key.startsWith(`${registry} `) && !key.endsWith(" mirror")) this.credentialCache.delete(key);
    for (const ep of this.endpoints(registry)) if (!ep.mirror) this.auths.get(ep.origin)?.forgetTokens();
  }

  private async fetchToken(ep: Endpoint, url: URL, init: { method: "GET" | "POST"; headers: Record<string, string>; body?: Uint8Array }, budget: Deadline) {
    return withRetry(this.opts.retry, async () => {
      let sink!: BufferSink;
      const deadline = earlier(deadlineIn(ep.timeoutMs, "request"), budget);
      const head = await this.opts.transport.send(url, { method: init.method, headers: init.headers, body: init.body, timeoutMs: ep.timeoutMs, deadline }, () => {
        sink = new BufferSink(1 << 20, (l) => new RegistryError("too-large", `token response over ${l} bytes from ${url.origin}`));
        return sink;
      });
      if (head.status === 429 || head.status >= 500) throw statusError(head, sink.bytes(), { registry: ep.host });
      return { status: head.status, body: sink.bytes() };
    }, budget);
  }

  private describeEndpoint(ep: Endpoint): string {
    return ep.mirror ? `${ep.host} (mirror of ${ep.registry})` : ep.host;
  }

  /**
   * Runs one exchange: on each endpoint in order (mirrors first unless `push`), with retries; the
   * first endpoint that answers wins. Returns the head of the accepted response.
   */
  async perform(target: Target, ex: Exchange, choose: SinkChooser): Promise<ResponseHead> {
    const all = this.endpoints(target.ref.registry);
    const eps = target.push ? all.filter((e) => !e.mirror) : all;
    let lastErr: RegistryError | undefined;
    const failures: string[] = [];
    const budget = deadlineIn(this.opts.retry.budgetMs, "fetch");
    for (const ep of eps) {
      if (ep.mirror && (this.mirrorDownUntil.get(ep.origin) ?? 0) > Date.now()) continue;
      const ctx = { registry: this.describeEndpoint(ep), repository: target.ref.repository, object: target.object };
      try {
        return await withRetry(this.opts.retry, () => this.once(ep, target, ex, choose, ctx, budget), budget);
      } catch (err) {
        const e = err instanceof RegistryError ? err.withContext(ctx) : new RegistryError("network", String(err), { ...ctx, cause: err });
        if (e.code === "reference" || e.code === "config" || e.code === "platform") throw e;
        lastErr = e;
        if (ep.mirror) {
          if (e.code === "network" || e.code === "timeout" || e.status === undefined || e.status >= 500) {
            this.mirrorDownUntil.set(ep.origin, Date.now() + this.opts.mirrorCooldownMs);
          }
          failures.push(`${ep.host}: ${e.detail}`);
          if (e.timeout !== "fetch" && performance.now() < budget.at) continue;
        }
        break; // the registry itself failed, or the budget is spent: no endpoint after it is tried
      }
    }
    if (lastErr && failures.length && !lastErr.registry?.includes("mirror")) {
      throw new RegistryError(lastErr.code, `${lastErr.detail} (mirrors failed first: ${failures.join("; ")})`, {
        registry: lastErr.registry, repository: lastErr.repository, object: lastErr.object, status: lastErr.status, timeout: lastErr.timeout, cause: lastErr,
      });
    }
    throw lastErr ?? new RegistryError("config", `no endpoint for ${target.ref.registry}`);
  }

  /** One attempt on one endpoint: cached redirect, auth round, redirects. */
  private async once(ep: Endpoint, target: Target, ex: Exchange, choose: SinkChooser, ctx: RegistryErrorContext, budget: Deadline): Promise<ResponseHead> {
    const redirectKey = ex.redirectKey ? `${ep.origin} ${target.ref.repository} ${ex.redirectKey}` : undefined;
    const cached = redirectKey ? this.redirects.get(redirectKey) : undefined;
    if (cached) {
      // Straight to blob storage: no registry credentials there. If it stopped working, resolve again.
      try {
        const r = await this.sendFollowing(ep, cached, ex, choose, ctx, undefined, budget);
        if (ex.accept(r.head.status)) return r.head;
      } catch (err) {
        if (err instanceof RegistryError && (err.code === "protocol" || err.code === "digest" || err.timeout === "fetch")) throw err;
      }
      this.redirects.delete(redirectKey!);
    }

    const scopes = [repositoryScope(target.ref.repository, target.push), ...(target.extraScopes ?? [])];
    const auth = this.auth(ep);
    const repository = target.ref.repository;
    const url = ex.url ?? this.urlFor(ep.origin, ex.path);
    for (let round = 0; ; round++) {
      const authorization = await auth.header(scopes, repository, budget);
      const r = await this.sendFollowing(ep, url, ex, choose, ctx, authorization, budget);
      if (r.head.status === 401 && r.head.url.origin === ep.origin && round < 2) {
        // Round 0 learns the scheme; round 1 may meet a token refused as stale, fetched again once.
        if (await auth.challenged(r.head.headers["www-authenticate"], scopes, repository, authorization)) continue;
      }
      if (ex.accept(r.head.status)) {
        if (redirectKey && r.head.url.origin !== ep.origin) this.redirects.set(redirectKey, r.head.url);
        return r.head;
      }
      throw statusError(r.head, r.errorBody, ctx);
    }
  }

  /** `path` on `origin`, parsed once (URL parsing was the largest piece of a range read's own CPU). Never mutated. */
  private urlFor(origin: string, path: string): URL {
    const key = origin + path;
    let url = this.urls.get(key);
    if (!url) {
      if (this.urls.size >= 1024) this.urls.clear(); // bounded: a store reads a few hundred blobs at most
      url = new URL(path, origin);
      this.urls.set(key, url);
    }
    return url;
  }

  /**
   * Sends, following redirects; credentials and endpoint headers only on the endpoint's origin. The
   * request timeout bounds the whole chain (as Go's http.Client.Timeout); an upload's body is bounded
   * by idle timeouts only (transport.ts).
   */
  private async sendFollowing(ep: Endpoint, start: URL, ex: Exchange, choose: SinkChooser, ctx: RegistryErrorContext, authorization: string | undefined, budget: Deadline) {
    const deadline = ex.body ? undefined : earlier(deadlineIn(ep.timeoutMs, "request"), budget);
    let url = start;
    for (let hop = 0; ; hop++) {
      const own = url.origin === ep.origin;
      const headers: Record<string, string> = { ...(own ? ep.headers : {}), ...(ex.headers ?? {}) };
      if (own && authorization) headers.authorization = authorization;
      let errorSink: BufferSink | undefined;
      const head = await this.opts.transport.send(url, { method: hop === 0 || ex.method === "HEAD" ? ex.method : "GET", headers, body: hop === 0 ? ex.body : undefined, timeoutMs: ep.timeoutMs, deadline }, (h) => {
        if (ex.accept(h.status)) return choose(h);
        if (h.status >= 300 && h.status < 400) return discardSink;
        errorSink = new BufferSink(ERROR_BODY_LIMIT, () => new Error("unreachable"), true);
        return errorSink;
      });
      const location = header(head.headers, "location");
      if (ex.followRedirects && head.status >= 300 && head.status < 400 && head.status !== 304 && location) {
        if (hop >= MAX_REDIRECTS) throw new RegistryError("http", `more than ${MAX_REDIRECTS} redirects, last to ${location}`, ctx);
        try {
          url = new URL(location, url);
        } catch {
          throw new RegistryError("protocol", `redirect to an invalid URL ${JSON.stringify(location)}`, ctx);
        }
        if (url.protocol !== "http:" && url.protocol !== "https:") throw new RegistryError("protocol", `redirect to unsupported URL ${url.protocol}`, ctx);
        continue;
      }
      return { head, errorBody: errorSink?.bytes() ?? new Uint8Array(0) };
    }
  }
}
