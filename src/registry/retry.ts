// Bounded retries with jittered exponential backoff, in the terms of stargz-store's `[blob]`
// section: max_retries, min_wait_msec, max_wait_msec; plus an overall time budget (fetching_timeout_sec).
import { deadlineIn, type Deadline } from "./deadline.js";
import { RegistryError } from "./errors.js";

export interface RetryPolicy {
  /** Attempts after the first. */
  maxRetries: number;
  minWaitMs: number;
  maxWaitMs: number;
  /** The fetch budget: every attempt, and every wait between them, is over this many ms after the first began. */
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
 * Runs `attempt` until it succeeds, fails with a non-retriable error, or the count or the budget is
 * reached (`budget`: the fetch deadline, `policy.budgetMs` from now unless given; the attempts must
 * hold to it themselves); the last error is rethrown with how many attempts were made.
 */
export async function withRetry<T>(policy: RetryPolicy, attempt: (n: number) => Promise<T>, budget: Deadline = deadlineIn(policy.budgetMs, "fetch"), onRetry?: (err: RegistryError, waitMs: number) => void): Promise<T> {
  const start = performance.now();
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (!(err instanceof RegistryError) || !err.retriable) throw err;
      const wait = err.retryAfterMs !== undefined ? Math.min(policy.maxWaitMs, err.retryAfterMs) : backoffMs(policy, n + 1);
      const outOfTime = performance.now() + wait >= budget.at;
      if (n >= policy.maxRetries || outOfTime) {
        const why = n < policy.maxRetries ? `: the fetch timeout (${budget.ms / 1000} s) left no time for another` : "";
        throw new RegistryError(err.code, `${err.detail} (gave up after ${n + 1} attempt${n ? "s" : ""} in ${Math.round(performance.now() - start)} ms${why})`, {
          registry: err.registry, repository: err.repository, object: err.object, status: err.status, retriable: false, timeout: err.timeout, cause: err.cause ?? err,
        });
      }
      onRetry?.(err, wait);
      await sleep(wait);
    }
  }
}
