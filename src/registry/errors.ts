// The one error type of the registry client. Every failure that reaches a caller says which
// registry, which repository and which blob or manifest it concerns, and why.

export type RegistryErrorCode =
  | "reference" // the image reference is malformed
  | "config" // the hosts/credentials configuration is malformed
  | "auth" // credentials refused or token service failed
  | "not-found" // 404 from the registry
  | "http" // any other unexpected HTTP status
  | "network" // connection refused, reset, closed mid-body
  | "timeout" // a request not over within its request timeout, or an operation past its fetch budget
  | "digest" // bytes do not match their digest
  | "too-large" // a body over its size limit
  | "protocol" // a malformed answer: bad Content-Range, multipart, JSON
  | "platform" // no manifest for the wanted platform
  | "range"; // a read outside the blob

/** Which bound a timed-out request ran out of: its request timeout, or its operation's fetch budget. */
export type TimeoutKind = "request" | "fetch";

export interface RegistryErrorContext {
  registry?: string;
  repository?: string;
  /** What the request was about, as printed: "blob sha256:…", "manifest latest". */
  object?: string;
  status?: number;
  /** Retrying the same request may succeed (429, 5xx, resets, timeouts). */
  retriable?: boolean;
  /** From Retry-After, in ms. */
  retryAfterMs?: number;
  /** Code "timeout": which bound ran out (deadline.ts), so callers can name the setting. */
  timeout?: TimeoutKind;
  cause?: unknown;
}

export class RegistryError extends Error {
  readonly code: RegistryErrorCode;
  readonly registry?: string;
  readonly repository?: string;
  readonly object?: string;
  readonly status?: number;
  readonly retriable: boolean;
  readonly retryAfterMs?: number;
  readonly timeout?: TimeoutKind;
  /** The bare reason, without the where-prefix. */
  readonly detail: string;

  constructor(code: RegistryErrorCode, detail: string, ctx: RegistryErrorContext = {}) {
    super(describe(ctx) + detail, ctx.cause !== undefined ? { cause: ctx.cause } : undefined);
    this.name = "RegistryError";
    this.code = code;
    this.detail = detail;
    this.registry = ctx.registry;
    this.repository = ctx.repository;
    this.object = ctx.object;
    this.status = ctx.status;
    this.retriable = ctx.retriable ?? false;
    this.retryAfterMs = ctx.retryAfterMs;
    this.timeout = ctx.timeout;
  }

  /** The same error with missing context filled in (the lower layers do not know the blob). */
  withContext(ctx: RegistryErrorContext): RegistryError {
    if ((this.registry || !ctx.registry) && (this.repository || !ctx.repository) && (this.object || !ctx.object)) return this;
    return new RegistryError(this.code, this.detail, {
      registry: this.registry ?? ctx.registry,
      repository: this.repository ?? ctx.repository,
      object: this.object ?? ctx.object,
      status: this.status,
      retriable: this.retriable,
      retryAfterMs: this.retryAfterMs,
      timeout: this.timeout,
      cause: this.cause,
    });
  }
}

function describe(ctx: RegistryErrorContext): string {
  const parts: string[] = [];
  if (ctx.registry) parts.push(`registry ${ctx.registry}`);
  if (ctx.repository) parts.push(`repository ${ctx.repository}`);
  if (ctx.object) parts.push(ctx.object);
  return parts.length ? parts.join(", ") + ": " : "";
}
