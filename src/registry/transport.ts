// HTTP on undici: one Pool per origin (keep-alive, bounded connections), requests dispatched with a
// raw handler so that body bytes go from undici's socket buffers straight to a sink that copies
// them once into the caller's memory. GETs to origins reached directly (blob ranges, manifests,
// configs, tokens) go on the own sockets of range-socket.ts instead: fewer copies, and a store that
// only pulls never loads undici (~25 ms and ~11 MiB at its first lookup). Every TLS connection, on
// either path, uses its host's context from tls.ts (system CAs, certs.d). No redirects, auth or
// retries here: the client does those.
import { createRequire } from "node:module";
import type { Dispatcher, EnvHttpProxyAgent, Pool } from "undici";
import type { IncomingHttpHeaders } from "node:http";
import type { SecureContext } from "node:tls";
import { RegistryError } from "./errors.js";
import { isLoopbackHost } from "./hosts.js";
import { FALLBACK, RangeSockets, type RangeSocketStats } from "./range-socket.js";
import { tlsHint, TlsTrust } from "./tls.js";

// undici's index loads all of undici (fetch, WebSocket, caches, mocks): ~200 ms and ~19 MiB RSS
// measured at the store's start, against ~55 ms and ~11 MiB for the pool alone, which is all that
// direct requests use (`dispatch`; undici 7 has no `exports` map). With a proxy configured the index
// is loaded: it also adds the `connect` method the proxy agent's CONNECT tunnels need.
const require = createRequire(import.meta.url);
const loadPool = (): typeof Pool => require("undici/lib/dispatcher/pool.js") as typeof Pool;
const loadProxyAgent = (): typeof EnvHttpProxyAgent => (require("undici") as typeof import("undici")).EnvHttpProxyAgent;

export interface ResponseHead {
  status: number;
  headers: IncomingHttpHeaders;
  url: URL;
}

/** Consumes one response body. */
export interface BodySink {
  /** A piece of the body (a view into the transport's read buffer, valid only during the call). Return true when nothing more is needed. */
  data(chunk: Uint8Array): boolean | void;
  /** The body ended where the server said it would. Throw to fail the request. */
  end(): void;
  /** The head alone matters (error and redirect bodies): a body cut short still resolves. */
  readonly tolerant?: boolean;
}

/** Chooses how to consume the body once status and headers are known; may throw to refuse the response. */
export type SinkChooser = (head: ResponseHead) => BodySink;

export interface SendOptions {
  method: Dispatcher.HttpMethod;
  headers: Record<string, string>;
  body?: Uint8Array | null;
  /** Headers must arrive, and the body must not stall, within this many ms. */
  timeoutMs: number;
}

/** Forward proxies, as HTTP_PROXY / HTTPS_PROXY / NO_PROXY (which are the default). */
export interface ProxyConfig {
  http?: string;
  https?: string;
  noProxy?: string;
}

export interface TransportOptions {
  /** Connections per origin. */
  connections?: number;
  keepAliveTimeoutMs?: number;
  userAgent?: string;
  /** GETs to origins reached directly on the own sockets of range-socket.ts (default true); false: everything on undici. */
  rangeSockets?: boolean;
  /** Default: from the environment; `false`: never. Loopback hosts are never proxied (as in Go). */
  proxy?: ProxyConfig | false;
  /** Whom TLS connections trust (default: Node's CAs, the system bundle, the default certs.d directories). */
  tls?: TlsTrust;
}

/** The proxy settings in effect, or undefined when no proxy is set. */
function proxyConfig(opt: ProxyConfig | false | undefined): ProxyConfig | undefined {
  if (opt === false) return undefined;
  const env = process.env;
  const c: ProxyConfig = opt ?? {
    http: env.http_proxy || env.HTTP_PROXY || undefined,
    https: env.https_proxy || env.HTTPS_PROXY || undefined,
    noProxy: env.no_proxy ?? env.NO_PROXY,
  };
  return c.http || c.https ? c : undefined;
}

/** Read and dropped: a body nobody wants (redirects, errors past their first bytes). */
export const discardSink: BodySink = { data() {}, end() {}, tolerant: true };

/** Collects a body up to `limit` bytes; `bytes()` after the end. With `expected` (Content-Length), one buffer, one copy. */
export class BufferSink implements BodySink {
  private parts: Uint8Array[] = [];
  private whole: Uint8Array | undefined;
  private length = 0;
  readonly tolerant: boolean;
  constructor(private readonly limit: number, private readonly onTooLarge: (limit: number) => Error, private readonly truncate = false, expected?: number) {
    this.tolerant = truncate;
    if (expected !== undefined && Number.isSafeInteger(expected) && expected >= 0 && expected <= limit) this.whole = new Uint8Array(expected);
  }
  data(chunk: Uint8Array): boolean | void {
    const room = this.limit - this.length;
    let piece = chunk;
    let full = false;
    if (chunk.length > room) {
      if (!this.truncate) throw this.onTooLarge(this.limit);
      piece = chunk.subarray(0, room);
      full = true;
    }
    if (this.whole && this.length + piece.length <= this.whole.length) {
      this.whole.set(piece, this.length);
    } else {
      if (this.whole) { this.parts.push(this.whole.subarray(0, this.length)); this.whole = undefined; } // longer than announced
      this.parts.push(Uint8Array.prototype.slice.call(piece)); // undici's chunk is only valid during the call
    }
    this.length += piece.length;
    return full || undefined;
  }
  end(): void {}
  bytes(): Uint8Array {
    if (this.whole) return this.whole.subarray(0, this.length);
    if (this.parts.length === 1) return this.parts[0];
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) { out.set(p, at); at += p.length; }
    return out;
  }
  text(): string {
    return new TextDecoder().decode(this.bytes());
  }
}

const RETRIABLE_CODES = new Set([
  "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH", "ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH",
  "ENETUNREACH", "EAI_AGAIN", "UND_ERR_CLOSED", "UND_ERR_DESTROYED", "UND_ERR_ABORTED",
]);

/**
 * Maps a transport failure to a RegistryError (retriable when another attempt may succeed).
 * `certsDir`: the host's certs.d directory, named in the hint of a TLS certificate failure.
 */
export function networkError(err: unknown, url: URL, certsDir?: string): RegistryError {
  if (err instanceof RegistryError) return err;
  const e = err as NodeJS.ErrnoException & { code?: string };
  const code = e?.code ?? "";
  const timeout = /TIMEOUT|ETIMEDOUT/.test(code);
  const hint = url.protocol === "https:" ? tlsHint(code, url.host, certsDir) : undefined;
  // OpenSSL's own text ("…:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:…") → its reason.
  const message = e?.message ? (/:SSL routines:[^:]*:([^:]+):/.exec(e.message)?.[1] ?? e.message) : String(err);
  const what = timeout
    ? code === "UND_ERR_BODY_TIMEOUT" ? "body stalled past the timeout" : code === "UND_ERR_CONNECT_TIMEOUT" ? "connect timed out" : "no response headers within the timeout"
    : code === "UND_ERR_SOCKET" ? `connection closed by the server (${message})` : `${message}${hint ? ` (${hint})` : ""}`;
  return new RegistryError(timeout ? "timeout" : "network", `${what} [${code || "error"}] on ${url.origin}${url.pathname}`, {
    retriable: RETRIABLE_CODES.has(code) || timeout || code === "",
    cause: err,
  });
}

class DoneEarly extends Error {}

export class Transport {
  private readonly pools = new Map<string, Pool>();
  /** Set when a forward proxy is configured. */
  private readonly proxy: ProxyConfig | undefined;
  /** The proxy agents (one Pool per origin inside each, tunnelled through the proxy), one per TLS context. */
  private readonly proxied = new Map<SecureContext | undefined, EnvHttpProxyAgent>();
  private readonly connections: number;
  private readonly keepAliveTimeoutMs: number;
  readonly userAgent: string;
  private closed = false;
  /** The fast path for GETs to origins reached directly (range-socket.ts). */
  private readonly rangeSockets: RangeSockets | undefined;
  readonly tls: TlsTrust;

  constructor(opts: TransportOptions = {}) {
    this.connections = opts.connections ?? 8;
    this.keepAliveTimeoutMs = opts.keepAliveTimeoutMs ?? 30_000;
    this.userAgent = opts.userAgent ?? "esgz-fast/0.1";
    this.proxy = proxyConfig(opts.proxy);
    this.tls = opts.tls ?? new TlsTrust();
    if (opts.rangeSockets !== false) this.rangeSockets = new RangeSockets({ connections: this.connections, keepAliveTimeoutMs: this.keepAliveTimeoutMs });
  }

  /** What the GET fast path did so far (undefined when it is off). */
  get rangeSocketStats(): Readonly<RangeSocketStats> | undefined {
    return this.rangeSockets?.stats;
  }

  /** Who carries requests to an origin: its own pool, or a proxy agent. */
  private dispatcher(url: URL, tls: SecureContext | undefined): Pool | EnvHttpProxyAgent {
    return this.viaProxy(url) ? this.proxyAgent(tls) : this.pool(url.origin, tls);
  }

  /** Whether requests to `url` go through the forward proxy (loopback hosts never do, as in Go). */
  private viaProxy(url: URL): boolean {
    return this.proxy !== undefined && !isLoopbackHost(url.host);
  }

  /** The proxy agent whose tunnelled (and NO_PROXY) TLS connections use `tls`, made on first use. */
  private proxyAgent(tls: SecureContext | undefined): EnvHttpProxyAgent {
    let a = this.proxied.get(tls);
    if (!a) {
      if (this.closed) throw new RegistryError("network", "client closed");
      const proxy = this.proxy!;
      const EnvHttpProxyAgent = loadProxyAgent();
      a = new EnvHttpProxyAgent({
        httpProxy: proxy.http ?? "", httpsProxy: proxy.https ?? proxy.http ?? "", noProxy: proxy.noProxy ?? "",
        connections: this.connections, pipelining: 1, keepAliveTimeout: this.keepAliveTimeoutMs,
        keepAliveMaxTimeout: Math.max(this.keepAliveTimeoutMs, 60_000),
        connect: { timeout: 10_000, secureContext: tls }, requestTls: { secureContext: tls },
      });
      this.proxied.set(tls, a);
    }
    return a;
  }

  /** The pool for an origin, made on first use (`tls`: the origin's context, for https). */
  pool(origin: string, tls?: SecureContext): Pool {
    let p = this.pools.get(origin);
    if (!p) {
      if (this.closed) throw new RegistryError("network", `client closed; cannot reach ${origin}`);
      const Pool = loadPool();
      p = new Pool(origin, {
        connections: this.connections,
        pipelining: 1,
        keepAliveTimeout: this.keepAliveTimeoutMs,
        keepAliveMaxTimeout: Math.max(this.keepAliveTimeoutMs, 60_000),
        connect: { timeout: 10_000, secureContext: tls },
      });
      this.pools.set(origin, p);
    }
    return p;
  }

  /** One request; resolves with the response head once the sink has the whole body (or asked to stop). */
  send(url: URL, opts: SendOptions, choose: SinkChooser): Promise<ResponseHead> {
    if (url.protocol !== "https:") return this.sendWith(url, opts, choose, undefined);
    // The host's TLS settings: read once, then known synchronously.
    const tls = this.tls.forHost(url.host);
    return tls instanceof Promise
      ? tls.then((t) => this.sendWith(url, opts, choose, t.context), (err) => { throw networkError(err, url); })
      : this.sendWith(url, opts, choose, tls.context);
  }

  private sendWith(url: URL, opts: SendOptions, choose: SinkChooser, tls: SecureContext | undefined): Promise<ResponseHead> {
    const headers: Record<string, string> = { "user-agent": this.userAgent, ...opts.headers };
    // GETs to an origin reached without a proxy go on the fast path; what it does not understand
    // comes back before `choose` saw it and is sent again here.
    if (this.rangeSockets && !this.closed && opts.method === "GET" && !opts.body
      && (url.protocol === "http:" || url.protocol === "https:") && !this.viaProxy(url)) {
      return this.rangeSockets.send(url, headers, opts.timeoutMs, choose, tls).then(
        (r) => (r === FALLBACK ? this.sendOnUndici(url, opts, headers, choose, tls) : r),
        (err) => { throw networkError(err, url, this.tls.hostDir(url.host)); },
      );
    }
    return this.sendOnUndici(url, opts, headers, choose, tls);
  }

  private sendOnUndici(url: URL, opts: SendOptions, headers: Record<string, string>, choose: SinkChooser, tls: SecureContext | undefined): Promise<ResponseHead> {
    const tlsTrust = this.tls;
    let dispatcher: Pool | EnvHttpProxyAgent;
    try {
      dispatcher = this.dispatcher(url, tls);
    } catch (err) {
      return Promise.reject(err);
    }
    if (opts.body) headers["content-length"] = String(opts.body.byteLength); // send() made this object for this request
    return new Promise<ResponseHead>((resolve, reject) => {
      let head: ResponseHead | undefined;
      let sink: BodySink | undefined;
      let settled = false;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        reject(networkError(err, url, tlsTrust.hostDir(url.host)));
      };
      const finish = () => {
        if (settled) return;
        settled = true;
        resolve(head!);
      };
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart() {
          // Also called again when undici replays an idempotent request on a fresh connection.
          head = undefined;
          sink = undefined;
        },
        onResponseStart(c, statusCode, resHeaders) {
          if (statusCode < 200) return; // 1xx: the real answer follows
          head = { status: statusCode, headers: resHeaders, url };
          try {
            sink = opts.method === "HEAD" ? discardSink : choose(head);
          } catch (err) {
            fail(err);
            c.abort(err as Error);
          }
        },
        onResponseData(c, chunk) {
          if (settled || !sink) return;
          try {
            if (sink.data(chunk) === true) {
              finish();
              c.abort(new DoneEarly("body no longer needed"));
            }
          } catch (err) {
            fail(err);
            c.abort(err as Error);
          }
        },
        onResponseEnd() {
          if (settled) return;
          try {
            sink?.end();
            finish();
          } catch (err) {
            fail(err);
          }
        },
        onResponseError(_c, err) {
          // Registries send error bodies shorter than their Content-Length (416 from Go's ServeContent).
          if (head && sink?.tolerant) finish();
          else fail(err);
        },
      };
      try {
        dispatcher.dispatch(
          {
            origin: url.origin,
            path: url.pathname + url.search,
            method: opts.method,
            headers,
            body: opts.body ? Buffer.from(opts.body.buffer, opts.body.byteOffset, opts.body.byteLength) : null,
            headersTimeout: opts.timeoutMs,
            bodyTimeout: opts.timeoutMs,
            idempotent: opts.method === "GET" || opts.method === "HEAD",
          },
          handler,
        );
      } catch (err) {
        fail(err);
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.rangeSockets?.close();
    const pools: { destroy(): Promise<void> }[] = [...this.pools.values(), ...this.proxied.values()];
    this.pools.clear();
    this.proxied.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
  }
}
