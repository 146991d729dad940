// One HTTP exchange as the registry client sees it, whichever path carries it (own sockets or undici,
// transport.ts): the response head, the sink its body goes to, and how transport failures become
// RegistryErrors.
import type { Dispatcher } from "undici";
import type { IncomingHttpHeaders } from "node:http";
import type { Deadline } from "./deadline.js";
import { RegistryError } from "./errors.js";
import { tlsHint } from "./tls.js";

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
    timeout: code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT" ? "request" : undefined, // an upload's idle bounds
    cause: err,
  });
}

