// When a request must be over. Two bounds meet here: the request timeout (`request_timeout_sec`, per
// registry or mirror: one HTTP request with its redirects, headers and body) and the fetch budget
// (`fetching_timeout_sec`: one operation with all its attempts). A request gets the earlier of the
// two; its timeout error says which one ran out, so a caller can name the setting to change.
import { RegistryError, type TimeoutKind } from "./errors.js";

export interface Deadline {
  /** performance.now() at which it passes. */
  readonly at: number;
  readonly kind: TimeoutKind;
  /** The configured length, for messages. */
  readonly ms: number;
}

/** A deadline `ms` from now. */
export function deadlineIn(ms: number, kind: TimeoutKind): Deadline {
  return { at: performance.now() + ms, kind, ms };
}

/** The deadline that passes first. */
export function earlier(a: Deadline, b: Deadline | undefined): Deadline {
  return b && b.at < a.at ? b : a;
}

/** Milliseconds left (0 once passed). */
export function remainingMs(d: Deadline): number {
  return Math.max(0, d.at - performance.now());
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/**
 * The error of a request cut off by `d`; `progress` says how far it got ("before the response
 * headers", "with 37 of 65536 body bytes received"). A request timeout may be retried within the
 * budget; the budget running out ends the operation.
 */
export function deadlineError(d: Deadline, url: URL, progress: string): RegistryError {
  return new RegistryError("timeout", `${d.kind} timeout (${seconds(d.ms)}) passed ${progress} on ${url.origin}${url.pathname}`, {
    retriable: d.kind === "request",
    timeout: d.kind,
  });
}
