/**
 * Waiting out failures. A lost network is polled for often at first (a handover lasts a
 * second or two) and less often as the spell goes on; a server that answers 5xx or 429 is
 * given exponential backoff with full jitter, never sooner than its Retry-After. By default
 * nothing gives up: a phone may be offline for minutes while the app still wants its upload;
 * the caller's signal (or deadline) ends the wait.
 */
import { isRetriable, TrickleApiError, TrickleNetworkError, TrickleTimeoutError } from './errors.js';

export interface RetryPolicy {
  /** Failed tries in a row before giving up; default Infinity (until the caller aborts). */
  retries: number;
  /** First backoff ceiling in ms for a server that answers 5xx/429; doubles per try. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: Infinity, baseDelayMs: 250, maxDelayMs: 20_000 };

/** What a transfer waits for between tries. */
export type WaitingFor = 'network' | 'server';

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

/** Between tries while the network is gone: often while the spell is young, then less often (5 s at most). */
export function offlineDelay(spellMs: number, random = Math.random): number {
  const base = spellMs < 5000 ? 200 : spellMs < 15_000 ? 500 : spellMs < 30_000 ? 1000 : spellMs < 120_000 ? 2500 : 5000;
  return Math.round(base * (0.8 + 0.4 * random()));
}

function isNetworkFailure(error: unknown): boolean {
  return error instanceof TrickleNetworkError || error instanceof TrickleTimeoutError;
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

export interface GateEvents {
  /** A try failed and closed the gate; the next goes out at `nextTryAt` (ms since the epoch). */
  onWait?: (waitingFor: WaitingFor, nextTryAt: number) => void;
  /** The gate opened again after an answer. */
  onBack?: () => void;
}

/**
 * Shared by every request of one transfer: after a failure worth retrying it stays closed for
 * the delay the policy gives, and requests wait at it; any answer opens it again and ends the
 * spell. Requests failing together (a handover cuts them all) count as one failed try.
 */
export class NetworkGate {
  private openAt = 0;
  private spellStartedAt: number | null = null;
  private failures = 0;
  waitingFor: WaitingFor | null = null;
  private readonly policy: RetryPolicy;
  private readonly events: GateEvents;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(
    policy: RetryPolicy,
    events: GateEvents = {},
    now: () => number = () => Date.now(),
    random: () => number = Math.random,
  ) {
    this.policy = policy;
    this.events = events;
    this.now = now;
    this.random = random;
  }

  get open(): boolean {
    return this.now() >= this.openAt;
  }

  /** When the next try may go out (ms since the epoch); in the past when open. */
  get reopensAt(): number {
    return this.openAt;
  }

  /** Resolves once requests may go out; rejects when the signal aborts. */
  async ready(signal: AbortSignal): Promise<void> {
    for (let wait = this.openAt - this.now(); wait > 0; wait = this.openAt - this.now()) await sleep(wait, signal);
  }

  /** Something answered: the network and the server are there. */
  succeeded(): void {
    const wasWaiting = this.waitingFor !== null;
    this.failures = 0;
    this.spellStartedAt = null;
    this.waitingFor = null;
    if (wasWaiting) this.events.onBack?.();
  }

  /**
   * A request failed with `error`: closes the gate for a while and answers how long until it
   * opens, or throws `error` when it is not worth retrying or the policy gives up.
   */
  failed(error: unknown): number {
    if (!isRetriable(error)) throw error;
    const now = this.now();
    // Failures while the gate is already closed belong to the try that closed it.
    if (now < this.openAt) return this.openAt - now;
    this.failures += 1;
    if (this.failures > this.policy.retries) throw error;
    this.spellStartedAt ??= now;
    const network = isNetworkFailure(error);
    const delay = network ? offlineDelay(now - this.spellStartedAt, this.random) : backoffDelay(this.failures - 1, this.policy, error, this.random);
    this.openAt = now + delay;
    this.waitingFor = network ? 'network' : 'server';
    this.events.onWait?.(this.waitingFor, this.openAt);
    return delay;
  }
}

/** Runs `attempt` until it succeeds, fails for good, the policy gives up, or the signal aborts. */
export async function withRetries<T>(
  attempt: (tryNumber: number) => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY,
  signal: AbortSignal = new AbortController().signal,
  onRetry?: (error: unknown, delayMs: number) => void,
): Promise<T> {
  const gate = new NetworkGate(policy);
  for (let tryNumber = 0; ; tryNumber += 1) {
    await gate.ready(signal);
    try {
      return await attempt(tryNumber);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      const delay = gate.failed(error);
      onRetry?.(error, delay);
    }
  }
}

/**
 * Runs `work`, aborting `stop` when the caller's signal aborts or the deadline passes (with a
 * TrickleTimeoutError naming `what`); a failure after the stop is the stop's reason.
 */
export async function untilStopped<T>(stop: AbortController, limits: { signal?: AbortSignal | undefined; deadline?: Date | number | undefined }, what: string, work: () => Promise<T>): Promise<T> {
  const { signal, deadline } = limits;
  if (signal?.aborted) throw signal.reason;
  const onAbort = () => stop.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const timer = deadline === undefined ? undefined : setTimeout(() => stop.abort(new TrickleTimeoutError(`the ${what} did not finish by its deadline`)), Math.max(0, new Date(deadline).getTime() - Date.now()));
  try {
    return await work();
  } catch (error) {
    throw stop.signal.aborted ? stop.signal.reason : error;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}
