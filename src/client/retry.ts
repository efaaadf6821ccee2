/** Retrying what is worth retrying: exponential backoff with full jitter, Retry-After honoured. */
import { isRetriable, TrickleApiError } from './errors.js';

export interface RetryPolicy {
  /** Tries after the first; 0 turns retrying off. */
  retries: number;
  /** First backoff ceiling in ms; doubles per try. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 10, baseDelayMs: 250, maxDelayMs: 20_000 };

/**
 * Full jitter (a random delay up to the exponential ceiling) spreads out clients that failed
 * together, e.g. after a server restart; a Retry-After from the server is a floor.
 */
export function backoffDelay(attempt: number, policy: RetryPolicy, error: unknown, random = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  const jittered = random() * ceiling;
  const asked = error instanceof TrickleApiError ? error.retryAfterMs : null;
  return asked === null ? jittered : Math.max(asked, jittered);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs `attempt` until it succeeds, fails for good, runs out of tries or the signal aborts. */
export async function withRetries<T>(
  attempt: (tryNumber: number) => Promise<T>,
  policy: RetryPolicy,
  signal?: AbortSignal,
  onRetry?: (error: unknown, delayMs: number) => void,
): Promise<T> {
  for (let tryNumber = 0; ; tryNumber += 1) {
    try {
      return await attempt(tryNumber);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (!isRetriable(error) || tryNumber >= policy.retries) throw error;
      const delay = backoffDelay(tryNumber, policy, error);
      onRetry?.(error, delay);
      await sleep(delay, signal);
    }
  }
}
