// HTTP on undici, for what the own sockets of transport.ts do not carry: HEAD, uploads, origins behind
// a forward proxy, and answers the own sockets hand back. One Pool per origin (keep-alive, bounded
// connections), requests dispatched with a raw handler so that body bytes go from undici's socket
// buffers straight to a sink that copies them once into the caller's memory. TLS connections use the
// host's context (tls.ts), given with each request: an origin's pool, and a proxy agent per context.
import { createRequire } from "node:module";
import type { SecureContext } from "node:tls";
import type { Dispatcher, EnvHttpProxyAgent, Pool } from "undici";
import { deadlineError, remainingMs, type Deadline } from "./deadline.js";
import { RegistryError } from "./errors.js";
import { isLoopbackHost } from "./hosts.js";
import { discardSink, networkError, type BodySink, type ProxyConfig, type ResponseHead, type SendOptions, type SinkChooser } from "./http.js";
import type { TlsTrust } from "./tls.js";

// undici's index loads all of undici (fetch, WebSocket, caches, mocks): ~200 ms and ~19 MiB RSS
// measured at the store's start, against ~55 ms and ~11 MiB for the pool alone, which is all that
// direct requests use (`dispatch`; undici 7 has no `exports` map). With a proxy configured the index
// is loaded: it also adds the `connect` method the proxy agent's CONNECT tunnels need.
const require = createRequire(import.meta.url);
const loadPool = (): typeof Pool => require("undici/lib/dispatcher/pool.js") as typeof Pool;
const loadProxyAgent = (): typeof EnvHttpProxyAgent => (require("undici") as typeof import("undici")).EnvHttpProxyAgent;

/** The proxy settings in effect, or undefined when no proxy is set. */
export function proxyConfig(opt: ProxyConfig | false | undefined): ProxyConfig | undefined {
  if (opt === false) return undefined;
  const env = process.env;
  const c: ProxyConfig = opt ?? {
    http: env.http_proxy || env.HTTP_PROXY || undefined,
    https: env.https_proxy || env.HTTPS_PROXY || undefined,
    noProxy: env.no_proxy ?? env.NO_PROXY,
  };
  return c.http || c.https ? c : undefined;
}

class DoneEarly extends Error {}

/** The undici side of the transport (transport.ts decides what goes where). */
export class UndiciTransport {
  private readonly pools = new Map<string, Pool>();
  /** Set when a forward proxy is configured. */
  private readonly proxy: ProxyConfig | undefined;
  /** The proxy agents (one Pool per origin inside each, tunnelled through the proxy), one per TLS context. */
  private readonly proxied = new Map<SecureContext | undefined, EnvHttpProxyAgent>();
  private readonly connections: number;
  private readonly keepAliveTimeoutMs: number;
  private readonly tls: TlsTrust;
  private closed = false;

  /** `proxy`: the settings in effect (`proxyConfig`), undefined for none; `tls`: names certs.d directories in errors. */
  constructor(opts: { connections: number; keepAliveTimeoutMs: number; proxy?: ProxyConfig; tls: TlsTrust }) {
    this.connections = opts.connections;
    this.keepAliveTimeoutMs = opts.keepAliveTimeoutMs;
    this.proxy = opts.proxy;
    this.tls = opts.tls;
  }

  /** Who carries requests to an origin: its own pool, or a proxy agent (loopback hosts never go through it, as in Go). */
  private dispatcher(url: URL, tls: SecureContext | undefined): Pool | EnvHttpProxyAgent {
    return this.proxy !== undefined && !isLoopbackHost(url.host) ? this.proxyAgent(tls) : this.pool(url.origin, tls);
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
  private pool(origin: string, tls: SecureContext | undefined): Pool {
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

  /** One request with its final headers and deadline (see `SendOptions`); `tls`: the origin's context (https). */
  send(url: URL, opts: SendOptions, headers: Record<string, string>, deadline: Deadline | undefined, choose: SinkChooser, tls?: SecureContext): Promise<ResponseHead> {
    let dispatcher: Pool | EnvHttpProxyAgent;
    try {
      dispatcher = this.dispatcher(url, tls);
    } catch (err) {
      return Promise.reject(err);
    }
    const tlsTrust = this.tls;
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
        reject(networkError(err, url, tlsTrust.hostDir(url.host)));
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
    const pools: { destroy(): Promise<void> }[] = [...this.pools.values(), ...this.proxied.values()];
    this.pools.clear();
    this.proxied.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
  }
}
