// Bounded retries with jittered exponential backoff, in the terms of stargz-store's `[blob]`
// section: max_retries, min_wait_msec, max_wait_msec; plus an overall time budget.
import { RegistryError } from "./errors.js";

export interface RetryPolicy {
  /** Attempts after the first. */
  maxRetries: number;
  minWaitMs: number;
  maxWaitMs: number;
  /** No new attempt starts after this many ms since the first. */
  budgetMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 5, minWaitMs: 30, maxWaitMs: 300_000, budgetMs: 300_000 };

/** Parses Retry-After (delta-seconds or HTTP-date) into ms, or undefined. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - now) : undefined;
}

/** The wait before retry number `attempt` (1-based): exponential, "equal jitter", capped. */
export function backoffMs(policy: RetryPolicy, attempt: number, random = Math.random): number {
  const exp = Math.min(policy.maxWaitMs, policy.minWaitMs * 2 ** (attempt - 1));
  return Math.min(policy.maxWaitMs, exp / 2 + random() * (exp / 2));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs `attempt` until it succeeds, fails with a non-retriable error, or the count/time bounds are
 * reached; the last error is rethrown with how many attempts were made.
 */
export async function withRetry<T>(policy: RetryPolicy, attempt: (n: number) => Promise<T>, onRetry?: (err: RegistryError, waitMs: number) => void): Promise<T> {
  const start = Date.now();
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (!(err instanceof RegistryError) || !err.retriable) throw err;
      const wait = err.retryAfterMs !== undefined ? Math.min(policy.maxWaitMs, err.retryAfterMs) : backoffMs(policy, n + 1);
      if (n >= policy.maxRetries || Date.now() - start + wait > policy.budgetMs) {
        throw new RegistryError(err.code, `${err.detail} (gave up after ${n + 1} attempt${n ? "s" : ""} in ${Date.now() - start} ms)`, {
          registry: err.registry, repository: err.repository, object: err.object, status: err.status, retriable: false, cause: err.cause ?? err,
        });
      }
      onRetry?.(err, wait);
      await sleep(wait);
    }
  }
}
