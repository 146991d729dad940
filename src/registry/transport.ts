// How requests reach a registry. Bodiless GETs to origins reached directly (blob ranges above all, and
// manifests, configs, tokens) go on own kept-alive net/tls sockets read with `onread` into one reusable
// buffer, body bytes handed from that buffer straight to the caller's sink (which copies them once into
// the caller's memory): undici's path allocates a Buffer per socket read, copies it into llhttp's Wasm
// memory and the body out again (docs/decisions.md). A store that only pulls never loads undici. This
// path understands responses framed by Content-Length or chunked; anything else (1xx, 204/304, a body
// ended by the close, a malformed head) comes back before the caller's chooser has seen it and is sent
// again on undici (undici.ts), which also carries HEAD, uploads and proxied origins. Every TLS
// connection, on either path, uses its host's context from tls.ts (system CAs, certs.d). No redirects,
// auth or retries here: the session (session.ts) does those.
import { connect as netConnect, isIP, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions, type SecureContext } from "node:tls";
import type { IncomingHttpHeaders } from "node:http";
import { deadlineError, deadlineIn, remainingMs, type Deadline } from "./deadline.js";
import { RegistryError } from "./errors.js";
import { isLoopbackHost } from "./hosts.js";
import { networkError, type BodySink, type ProxyConfig, type ResponseHead, type SendOptions, type SinkChooser } from "./http.js";
import { TlsTrust } from "./tls.js";
import { proxyConfig, UndiciTransport } from "./undici.js";
import { VERSION } from "../util/version.js";

export interface TransportOptions {
  /** Connections per origin. */
  connections?: number;
  keepAliveTimeoutMs?: number;
  userAgent?: string;
  /** GETs to origins reached directly on the own sockets below (default true); false: everything on undici. */
  rangeSockets?: boolean;
  /** Default: from the environment; `false`: never. Loopback hosts are never proxied (as in Go). */
  proxy?: ProxyConfig | false;
  /** Whom TLS connections trust (default: Node's CAs, the system bundle, the default certs.d directories). */
  tls?: TlsTrust;
}

export class Transport {
  readonly userAgent: string;
  private readonly sockets: RangeSockets | undefined;
  private readonly undici: UndiciTransport;
  private readonly proxied: boolean;
  private closed = false;
  readonly tls: TlsTrust;

  constructor(opts: TransportOptions = {}) {
    const connections = opts.connections ?? 8;
    const keepAliveTimeoutMs = opts.keepAliveTimeoutMs ?? 30_000;
    this.userAgent = opts.userAgent ?? `esgz-fast/${VERSION}`;
    const proxy = proxyConfig(opts.proxy);
    this.proxied = proxy !== undefined;
    this.tls = opts.tls ?? new TlsTrust();
    this.undici = new UndiciTransport({ connections, keepAliveTimeoutMs, proxy, tls: this.tls });
    if (opts.rangeSockets !== false) this.sockets = new RangeSockets({ connections, keepAliveTimeoutMs });
  }

  /** What the own sockets did so far (undefined when they are off). */
  get rangeSocketStats(): Readonly<RangeSocketStats> | undefined {
    return this.sockets?.stats;
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
    const deadline = opts.deadline ?? (opts.body ? undefined : deadlineIn(opts.timeoutMs, "request"));
    if (this.closed) return Promise.reject(new RegistryError("network", `client closed; cannot reach ${url.origin}`));
    if (this.sockets && opts.method === "GET" && !opts.body && (url.protocol === "http:" || url.protocol === "https:")
      && !(this.proxied && !isLoopbackHost(url.host))) {
      return this.sockets.send(url, headers, deadline!, choose, tls).then(
        (r) => (r === FALLBACK ? this.undici.send(url, opts, headers, deadline, choose, tls) : r),
        (err) => { throw networkError(err, url, this.tls.hostDir(url.host)); },
      );
    }
    return this.undici.send(url, opts, headers, deadline, choose, tls);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.sockets?.close();
    await this.undici.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The own sockets.

/** The answer was not one this path handles: send the request on undici instead. */
const FALLBACK = Symbol("fallback");

const READ_BUFFER_BYTES = 64 * 1024;
const MAX_HEAD_BYTES = 64 * 1024;
const MAX_CHUNK_LINE = 1024;
const CONNECT_TIMEOUT_MS = 10_000;
const HEAD_END = Buffer.from("\r\n\r\n", "latin1");

/** An error with the code undici gives the same failure (networkError maps both alike). */
const codeError = (code: string, message: string) => Object.assign(new Error(message), { code });

/** Header names and values that can go on the wire as they are (no CR/LF/NUL, latin1 only). */
const UNSAFE_HEADER = /[^\t\x20-\x7e\x80-\xff]/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// chunk-size [ chunk-ext ] (RFC 9112 §7.1), read no more loosely than llhttp: extensions `;name` or
// `;name=value` (a token or a quoted string), no blanks anywhere.
const CHUNK_SIZE_LINE = /^([0-9a-fA-F]{1,12})(?:;[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:=(?:[!#$%&'*+.^_`|~0-9A-Za-z-]+|"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"))?)*$/;
/** A trailer field line: a token, a colon, a value of visible characters and blanks. */
const FIELD_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t \x21-\x7e\x80-\xff]*$/;

export interface RangeSocketStats {
  /** Requests sent on this path (a fallback counts here and again in `fallbacks`). */
  requests: number;
  /** Connections opened. */
  connections: number;
  /** Answers handed back to undici. */
  fallbacks: number;
  /** Requests sent again on a fresh connection because a kept-alive one turned out closed. */
  staleRetries: number;
}

interface Request {
  url: URL;
  /** Request head, latin1. */
  head: string;
  /** The whole request is over by then (RangeSockets.send's timer fails it, wherever it is). */
  deadline: Deadline;
  choose: SinkChooser;
  resolve(v: ResponseHead | typeof FALLBACK): void;
  reject(err: unknown): void;
  /** Already sent again once after a stale kept-alive connection. */
  retried: boolean;
  /** The connection it is on; undefined while it waits for one. */
  conn?: Conn;
}

type Phase = "head" | "body" | "chunk-size" | "chunk-data" | "chunk-crlf" | "trailer";

/** One connection; at most one request on it at a time. */
class Conn {
  readonly socket: Socket;
  req: Request | undefined;
  /** Completed a response before (a failure before any byte of the next one means it went stale). */
  reused = false;
  idleSince = 0;
  /** How long (ms) after its last response an idle connection may be used again (the server's keep-alive timeout less a margin). */
  keepAliveUntil = Infinity;
  private closed = false;
  private error: Error | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private phase: Phase = "head";
  private headBytes: Buffer | undefined;
  private received = 0;
  /** Body bytes of the current response so far, and how many its Content-Length announced (for timeout errors). */
  private bodyBytes = 0;
  private bodyLength: number | undefined;
  private head: ResponseHead | undefined;
  private sink: BodySink | undefined;
  /** Bytes left in the body (Content-Length) or in the current chunk. */
  private remaining = 0;
  private keepAlive = true;
  private line = "";

  constructor(private readonly pool: OriginPool, readBuffer: Buffer) {
    const u = pool.origin;
    const host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
    const port = Number(u.port) || (u.protocol === "https:" ? 443 : 80);
    const onread = { buffer: readBuffer, callback: (n: number, buf: Uint8Array) => { this.onRead(buf as Buffer, n); return true; } };
    const ready = u.protocol === "https:" ? "secureConnect" : "connect";
    this.socket = u.protocol === "https:"
      ? tlsConnect({ host, port, servername: isIP(host) ? undefined : host, ALPNProtocols: ["http/1.1"], secureContext: pool.tls, onread } as ConnectionOptions) // onread works on TLS sockets too (Node 20), the types lack it
      : netConnect({ host, port, onread });
    this.socket.setNoDelay(true);
    this.socket.setKeepAlive(true, 60_000);
    this.connectTimer = setTimeout(() => this.socket.destroy(codeError("UND_ERR_CONNECT_TIMEOUT", "Connect Timeout Error")), CONNECT_TIMEOUT_MS);
    this.socket.once(ready, () => clearTimeout(this.connectTimer));
    this.socket.on("error", (err) => { this.error ??= err; });
    this.socket.on("close", () => this.onClose());
  }

  get usable(): boolean {
    return !this.closed && !this.socket.destroyed;
  }

  start(req: Request): void {
    this.req = req;
    req.conn = this;
    this.phase = "head";
    this.headBytes = undefined;
    this.received = 0;
    this.bodyBytes = 0;
    this.bodyLength = undefined;
    this.head = undefined;
    this.sink = undefined;
    this.keepAlive = true;
    this.socket.ref();
    this.socket.write(req.head, "latin1");
  }

  /** The request's deadline passed mid-answer: hang up (the rest of the answer is unwanted) and fail it. */
  expire(): void {
    const req = this.req;
    if (!req) return;
    const progress = this.phase === "head" ? "before the response headers"
      : `with ${this.bodyBytes}${this.bodyLength !== undefined ? ` of ${this.bodyLength}` : ""} body bytes received`;
    this.fail(deadlineError(req.deadline, req.url, progress));
  }

  private onRead(buf: Buffer, n: number): void {
    const req = this.req;
    if (!req) {
      this.socket.destroy(); // bytes nobody asked for: the connection cannot be trusted any more
      return;
    }
    this.received += n;
    let at = 0;
    if (this.phase === "head") {
      at = this.readHead(buf, n);
      if (at < 0) return;
    }
    while (at < n && this.req) {
      switch (this.phase) {
        case "body":
        case "chunk-data": {
          // `remaining`: of the Content-Length body, or of the current chunk
          const take = Math.min(this.remaining, n - at);
          if (!this.feed(buf, at, take)) return;
          at += take;
          this.remaining -= take;
          if (this.remaining > 0) break;
          if (this.phase === "chunk-data") { this.phase = "chunk-crlf"; this.line = ""; break; }
          this.keepAlive &&= at === n; // bytes after the body: not HTTP we can follow
          return this.complete();
        }
        default: {
          // Size lines, the CRLF after a chunk, trailers: short lines, read byte by byte.
          const nl = buf.indexOf(10, at);
          const stop = nl < 0 || nl >= n ? n : nl;
          this.line += buf.toString("latin1", at, stop);
          at = stop;
          if (this.line.length > MAX_CHUNK_LINE) return this.fail(codeError("HPE_INVALID_CHUNK_SIZE", "chunk size line too long"));
          if (stop === n) break;
          at++; // the LF
          if (!this.line.endsWith("\r")) return this.fail(codeError("HPE_STRICT", "a chunk line not ended by CRLF"));
          const line = this.line.slice(0, -1);
          this.line = "";
          if (this.phase === "chunk-crlf") {
            if (line !== "") return this.fail(codeError("HPE_STRICT", "no CRLF after a chunk"));
            this.phase = "chunk-size";
          } else if (this.phase === "chunk-size") {
            const m = CHUNK_SIZE_LINE.exec(line);
            if (!m) return this.fail(codeError("HPE_INVALID_CHUNK_SIZE", `invalid chunk size line ${JSON.stringify(line.slice(0, 40))}`));
            this.remaining = parseInt(m[1], 16);
            this.phase = this.remaining === 0 ? "trailer" : "chunk-data";
          } else if (line === "") {
            this.keepAlive &&= at === n;
            return this.complete();
          } else if (!FIELD_LINE.test(line)) {
            return this.fail(codeError("HPE_INVALID_HEADER_TOKEN", `invalid trailer line ${JSON.stringify(line.slice(0, 40))}`));
          }
        }
      }
    }
  }

  /** Body bytes to the sink; false when the request is settled (sink done early or failed). */
  private feed(buf: Buffer, at: number, len: number): boolean {
    if (len === 0) return true;
    this.bodyBytes += len;
    let done: boolean | void;
    try {
      done = this.sink!.data(buf.subarray(at, at + len));
    } catch (err) {
      this.fail(err);
      return false;
    }
    if (done === true) {
      // The caller has what it needs: hang up rather than read the rest (as undici's abort).
      const req = this.settle();
      this.socket.destroy();
      req.resolve(this.head!);
      return false;
    }
    return true;
  }

  /** Parses the response head once it is complete; returns where the body starts, or -1. */
  private readHead(buf: Buffer, n: number): number {
    let bytes: Buffer;
    let from: number;
    if (this.headBytes) {
      from = Math.max(0, this.headBytes.length - 3);
      bytes = this.headBytes = Buffer.concat([this.headBytes, buf.subarray(0, n)]);
    } else {
      from = 0;
      bytes = buf.subarray(0, n);
    }
    const end = bytes.indexOf(HEAD_END, from);
    if (end < 0) {
      if (bytes.length > MAX_HEAD_BYTES) { this.fallBack(); return -1; }
      if (!this.headBytes) this.headBytes = Buffer.from(bytes); // the read buffer is reused
      return -1;
    }
    const bodyAt = end + 4 - (bytes.length - n); // offset in `buf`
    this.headBytes = undefined;
    const text = bytes.toString("latin1", 0, end);
    // a bare CR or LF, or a control byte: not a head this path reads; undici judges it
    if (/\r(?!\n)|(?<!\r)\n|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(text)) { this.fallBack(); return -1; }
    const lines = text.split("\r\n");
    const m = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0]);
    if (!m) { this.fallBack(); return -1; }
    const status = Number(m[2]);
    const headers: IncomingHttpHeaders = {};
    for (let i = 1; i < lines.length; i++) {
      const l = lines[i];
      const colon = l.indexOf(":");
      // a field name is a token, the colon right after it (RFC 9112 §5.1); else obs-fold or garbage
      if (colon <= 0 || !TOKEN.test(l.slice(0, colon))) { this.fallBack(); return -1; }
      const name = l.slice(0, colon).toLowerCase();
      const value = l.slice(colon + 1).replace(/^[\t ]+|[\t ]+$/g, ""); // OWS only: trim() would also take 0xA0 (latin1 NBSP)
      const had = headers[name];
      headers[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
    }
    const te = headers["transfer-encoding"];
    const cl = headers["content-length"];
    let chunked = false;
    if (te !== undefined) {
      if (typeof te !== "string" || te.toLowerCase() !== "chunked" || cl !== undefined) { this.fallBack(); return -1; }
      chunked = true;
    } else if (typeof cl !== "string" || !/^\d{1,15}$/.test(cl)) {
      this.fallBack(); // no length (ended by the close), several, or malformed
      return -1;
    }
    if (status < 200 || status === 204 || status === 304) { this.fallBack(); return -1; }
    const conn = headers.connection;
    const connection = (Array.isArray(conn) ? conn.join(",") : conn ?? "").toLowerCase();
    this.keepAlive = m[1] === "1" ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    const ka = /\btimeout=(\d+)/.exec(String(headers["keep-alive"] ?? ""));
    // As undici: trust the server's idle timeout minus a margin for the FIN already on its way.
    this.keepAliveUntil = ka ? Number(ka[1]) * 1000 - 2000 : Infinity;

    const req = this.req!;
    this.head = { status, headers, url: req.url };
    try {
      this.sink = req.choose(this.head);
    } catch (err) {
      this.fail(err);
      return -1;
    }
    if (chunked) {
      this.phase = "chunk-size";
      this.line = "";
    } else {
      this.phase = "body";
      this.remaining = this.bodyLength = Number(cl);
      if (this.remaining === 0) {
        this.keepAlive &&= bodyAt === n;
        this.complete();
        return -1;
      }
    }
    return bodyAt;
  }

  /** The request is over: clears its state and returns it. */
  private settle(): Request {
    const req = this.req!;
    this.req = undefined;
    req.conn = undefined;
    return req;
  }

  private complete(): void {
    const req = this.settle();
    const head = this.head!;
    let endErr: unknown;
    try {
      this.sink!.end();
    } catch (err) {
      endErr = err;
    }
    this.reused = true;
    if (this.keepAlive) this.pool.release(this);
    else this.socket.destroy();
    if (endErr !== undefined) req.reject(endErr);
    else req.resolve(head);
  }

  private fail(err: unknown): void {
    const req = this.settle();
    this.socket.destroy();
    req.reject(err);
  }

  private fallBack(): void {
    const req = this.settle();
    this.pool.owner.stats.fallbacks++;
    this.socket.destroy();
    req.resolve(FALLBACK);
  }

  private onClose(): void {
    this.closed = true;
    clearTimeout(this.connectTimer);
    this.pool.dropped(this);
    if (!this.req) return;
    const req = this.settle();
    if (this.received === 0 && this.reused && !req.retried) {
      // The server closed the kept-alive connection as the request went out: send it once more, fresh.
      this.pool.owner.stats.staleRetries++;
      req.retried = true;
      this.pool.run(req, true);
      return;
    }
    // Registries send error bodies shorter than their Content-Length (416 from Go's ServeContent).
    if (this.head && this.sink?.tolerant) return req.resolve(this.head);
    req.reject(this.error ?? codeError("UND_ERR_SOCKET", "other side closed"));
  }
}

class OriginPool {
  private readonly idle: Conn[] = [];
  private open = 0;
  /** Every open connection, idle or busy (for destroy). */
  private readonly conns = new Set<Conn>();
  private readonly waiting: { req: Request; fresh: boolean }[] = [];

  constructor(readonly owner: RangeSockets, readonly origin: URL, readonly tls: SecureContext | undefined, private readonly max: number, private readonly keepAliveMs: number) {}

  /** Runs `req` on an idle connection, a new one, or the first to come free. */
  run(req: Request, fresh = false): void {
    if (this.owner.closed) return req.reject(codeError("UND_ERR_DESTROYED", "The client is destroyed"));
    const now = Date.now();
    while (!fresh && this.idle.length) {
      const c = this.idle.pop()!; // the most recently used: the least likely to have been closed
      if (c.usable && now - c.idleSince < Math.min(this.keepAliveMs, c.keepAliveUntil)) return c.start(req);
      c.socket.destroy();
    }
    if (this.open >= this.max && fresh && this.idle.length) this.idle.shift()!.socket.destroy(); // room for a fresh one
    if (this.open < this.max) return this.connect().start(req);
    this.waiting.push({ req, fresh });
  }

  private connect(): Conn {
    this.open++;
    this.owner.stats.connections++;
    const c = new Conn(this, this.owner.readBuffer);
    this.conns.add(c);
    return c;
  }

  /** Takes a request out of the queue (its deadline passed before a connection came free); false if it was not there. */
  unqueue(req: Request): boolean {
    const i = this.waiting.findIndex((w) => w.req === req);
    if (i >= 0) this.waiting.splice(i, 1);
    return i >= 0;
  }

  release(c: Conn): void {
    const next = this.waiting.shift();
    if (next && !next.fresh) return c.start(next.req);
    c.idleSince = Date.now();
    c.socket.unref(); // an idle connection does not keep the process alive
    this.idle.push(c);
    if (next) this.run(next.req, next.fresh);
  }

  /** A connection closed (by either side). */
  dropped(c: Conn): void {
    this.open--;
    this.conns.delete(c);
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    const next = this.waiting.shift();
    if (next) this.run(next.req, next.fresh);
  }

  destroy(): void {
    for (const w of this.waiting.splice(0)) w.req.reject(codeError("UND_ERR_DESTROYED", "The client is destroyed"));
    for (const c of [...this.conns]) c.socket.destroy(codeError("UND_ERR_DESTROYED", "The client is destroyed"));
  }
}

/** Per-origin pools of kept-alive sockets for GETs (blob ranges, manifests, configs, tokens). */
export class RangeSockets {
  readonly stats: RangeSocketStats = { requests: 0, connections: 0, fallbacks: 0, staleRetries: 0 };
  /** Shared by every socket: a read callback consumes its bytes before the next read can start. */
  readonly readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  closed = false;
  private readonly pools = new Map<string, OriginPool>();

  constructor(private readonly opts: { connections: number; keepAliveTimeoutMs: number }) {}

  /**
   * A GET of `url` with these headers (lower-case names, host and user-agent included). Resolves
   * with the head once the sink has the body, or FALLBACK (the chooser was not called). `tls`: the
   * origin's context (https; the same for every request to an origin).
   */
  send(url: URL, headers: Record<string, string>, deadline: Deadline, choose: SinkChooser, tls?: SecureContext): Promise<ResponseHead | typeof FALLBACK> {
    let head = `GET ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n`;
    for (const name in headers) {
      const value = headers[name];
      if (!TOKEN.test(name) || UNSAFE_HEADER.test(value) || /^(host|connection|content-length|transfer-encoding)$/i.test(name)) return Promise.resolve(FALLBACK);
      head += `${name}: ${value}\r\n`;
    }
    head += "\r\n";
    if (UNSAFE_HEADER.test(url.pathname + url.search)) return Promise.resolve(FALLBACK);
    let pool = this.pools.get(url.origin);
    if (!pool) {
      pool = new OriginPool(this, new URL(url.origin), tls, this.opts.connections, this.opts.keepAliveTimeoutMs);
      this.pools.set(url.origin, pool);
    }
    const p = pool;
    this.stats.requests++;
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const req: Request = {
        url, head, deadline, choose, retried: false,
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (err) => { clearTimeout(timer); reject(err); },
      };
      // One timer for the whole request: waiting for a connection, the head, every byte of the body.
      timer = setTimeout(() => {
        if (req.conn) req.conn.expire();
        else if (p.unqueue(req)) req.reject(deadlineError(deadline, url, "waiting for a free connection"));
      }, remainingMs(deadline));
      p.run(req);
    });
  }

  close(): void {
    this.closed = true;
    for (const p of this.pools.values()) p.destroy();
    this.pools.clear();
  }
}
