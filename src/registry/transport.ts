// HTTP on undici: one Pool per origin (keep-alive, bounded connections), requests dispatched with a
// raw handler so that body bytes go from undici's socket buffers straight to a sink that copies
// them once into the caller's memory. GETs to origins reached directly (blob ranges, manifests,
// configs, tokens) go on the own sockets of range-socket.ts instead: fewer copies, and a store that
// only pulls never loads undici (~25 ms and ~11 MiB at its first lookup). No redirects, auth or
// retries here: the client does those.
import { createRequire } from "node:module";
import type { Dispatcher, EnvHttpProxyAgent, Pool } from "undici";
import type { IncomingHttpHeaders } from "node:http";
import { deadlineError, deadlineIn, remainingMs, type Deadline } from "./deadline.js";
import { RegistryError } from "./errors.js";
import { isLoopbackHost } from "./hosts.js";
import { FALLBACK, RangeSockets, type RangeSocketStats } from "./range-socket.js";
import { VERSION } from "../util/version.js";

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
  /** Headers must arrive, and the body must not stall, within this many ms (the only bound of a request with a body: an upload's time grows with its size). */
  timeoutMs: number;
  /**
   * The whole request (waiting for a connection, headers, every byte of the body) is over by then, or
   * it is cut off (its connection destroyed) and fails with a timeout naming the deadline. Requests
   * without a body have one: `timeoutMs` from now when not given.
   */
  deadline?: Deadline;
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

/** Maps a transport failure to a RegistryError (retriable when another attempt may succeed). */
export function networkError(err: unknown, url: URL): RegistryError {
  if (err instanceof RegistryError) return err;
  const e = err as NodeJS.ErrnoException & { code?: string };
  const code = e?.code ?? "";
  const timeout = /TIMEOUT|ETIMEDOUT/.test(code);
  const what = timeout
    ? code === "UND_ERR_BODY_TIMEOUT" ? "body stalled past the timeout" : code === "UND_ERR_CONNECT_TIMEOUT" ? "connect timed out" : "no response headers within the timeout"
    : code === "UND_ERR_SOCKET" ? `connection closed by the server (${e.message})` : e?.message ?? String(err);
  return new RegistryError(timeout ? "timeout" : "network", `${what} [${code || "error"}] on ${url.origin}${url.pathname}`, {
    retriable: RETRIABLE_CODES.has(code) || timeout || code === "",
    timeout: code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT" ? "request" : undefined, // an upload's idle bounds
    cause: err,
  });
}

class DoneEarly extends Error {}

export class Transport {
  private readonly pools = new Map<string, Pool>();
  /** Set when a forward proxy is configured: one Pool per origin inside it, tunnelled through the proxy. */
  private readonly proxied: EnvHttpProxyAgent | undefined;
  private readonly connections: number;
  private readonly keepAliveTimeoutMs: number;
  readonly userAgent: string;
  private closed = false;
  /** The fast path for GETs to origins reached directly (range-socket.ts). */
  private readonly rangeSockets: RangeSockets | undefined;

  constructor(opts: TransportOptions = {}) {
    this.connections = opts.connections ?? 8;
    this.keepAliveTimeoutMs = opts.keepAliveTimeoutMs ?? 30_000;
    this.userAgent = opts.userAgent ?? `esgz-fast/${VERSION}`;
    const proxy = proxyConfig(opts.proxy);
    if (proxy) {
      const EnvHttpProxyAgent = loadProxyAgent();
      this.proxied = new EnvHttpProxyAgent({
        httpProxy: proxy.http ?? "", httpsProxy: proxy.https ?? proxy.http ?? "", noProxy: proxy.noProxy ?? "",
        connections: this.connections, pipelining: 1, keepAliveTimeout: this.keepAliveTimeoutMs,
        keepAliveMaxTimeout: Math.max(this.keepAliveTimeoutMs, 60_000), connect: { timeout: 10_000 },
      });
    }
    if (opts.rangeSockets !== false) this.rangeSockets = new RangeSockets({ connections: this.connections, keepAliveTimeoutMs: this.keepAliveTimeoutMs });
  }

  /** What the GET fast path did so far (undefined when it is off). */
  get rangeSocketStats(): Readonly<RangeSocketStats> | undefined {
    return this.rangeSockets?.stats;
  }

  /** Who carries requests to an origin: its own pool, or the proxy agent. */
  private dispatcher(url: URL): Pool | EnvHttpProxyAgent {
    return this.viaProxy(url) ? this.proxied! : this.pool(url.origin);
  }

  /** Whether requests to `url` go through the forward proxy (loopback hosts never do, as in Go). */
  private viaProxy(url: URL): boolean {
    return this.proxied !== undefined && !isLoopbackHost(url.host);
  }

  /** The pool for an origin, made on first use. */
  pool(origin: string): Pool {
    let p = this.pools.get(origin);
    if (!p) {
      if (this.closed) throw new RegistryError("network", `client closed; cannot reach ${origin}`);
      const Pool = loadPool();
      p = new Pool(origin, {
        connections: this.connections,
        pipelining: 1,
        keepAliveTimeout: this.keepAliveTimeoutMs,
        keepAliveMaxTimeout: Math.max(this.keepAliveTimeoutMs, 60_000),
        connect: { timeout: 10_000 },
      });
      this.pools.set(origin, p);
    }
    return p;
  }

  /** One request; resolves with the response head once the sink has the whole body (or asked to stop). */
  send(url: URL, opts: SendOptions, choose: SinkChooser): Promise<ResponseHead> {
    const headers: Record<string, string> = { "user-agent": this.userAgent, ...opts.headers };
    const deadline = opts.deadline ?? (opts.body ? undefined : deadlineIn(opts.timeoutMs, "request"));
    // GETs to an origin reached without a proxy go on the fast path; what it does not understand
    // comes back before `choose` saw it and is sent again here.
    if (this.rangeSockets && !this.closed && opts.method === "GET" && !opts.body
      && (url.protocol === "http:" || url.protocol === "https:") && !this.viaProxy(url)) {
      return this.rangeSockets.send(url, headers, deadline!, choose).then(
        (r) => (r === FALLBACK ? this.sendOnUndici(url, opts, headers, deadline, choose) : r),
        (err) => { throw networkError(err, url); },
      );
    }
    return this.sendOnUndici(url, opts, headers, deadline, choose);
  }

  private sendOnUndici(url: URL, opts: SendOptions, headers: Record<string, string>, deadline: Deadline | undefined, choose: SinkChooser): Promise<ResponseHead> {
    const dispatcher = this.dispatcher(url);
    if (opts.body) headers["content-length"] = String(opts.body.byteLength); // send() made this object for this request
    return new Promise<ResponseHead>((resolve, reject) => {
      let head: ResponseHead | undefined;
      let sink: BodySink | undefined;
      let settled = false;
      let controller: Dispatcher.DispatchController | undefined;
      let bodyBytes = 0;
      let timer: NodeJS.Timeout | undefined;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(networkError(err, url));
      };
      const finish = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(head!);
      };
      /** Set once the deadline cut the request off: a request still queued in the pool is aborted when it starts. */
      let expired: Error | undefined;
      if (deadline) {
        timer = setTimeout(() => {
          const len = head && Number(head.headers["content-length"]);
          const progress = !controller ? "waiting for a free connection" : !head ? "before the response headers"
            : `with ${bodyBytes}${Number.isSafeInteger(len) ? ` of ${len}` : ""} body bytes received`;
          expired = deadlineError(deadline, url, progress);
          fail(expired);
          controller?.abort(expired); // destroys the connection: the rest of the answer is unwanted
        }, remainingMs(deadline));
      }
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart(c) {
          controller = c;
          if (expired) return c.abort(expired);
          // Also called again when undici replays an idempotent request on a fresh connection.
          head = undefined;
          sink = undefined;
          bodyBytes = 0;
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
          bodyBytes += chunk.length;
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
            // With a deadline its timer is the bound (0: undici's off); uploads have undici's idle-based ones.
            headersTimeout: deadline ? 0 : opts.timeoutMs,
            bodyTimeout: deadline ? 0 : opts.timeoutMs,
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
    const pools: { destroy(): Promise<void> }[] = [...this.pools.values()];
    if (this.proxied) pools.push(this.proxied);
    this.pools.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
  }
}
