/**
 * Time limits on object storage, so that a store that stops answering costs a request a
 * bounded wait and a clear 503 (`storage_unavailable`), never a hang. One figure bounds them
 * all (S3_TIMEOUT): a call that moves no bulk data must be answered within it (retries
 * included), and bytes of a transfer must not stop for that long while this side is ready for
 * them. A wait that is the reader's (a slow client downloading) is never counted.
 */
import { Transform } from 'node:stream';
import { STORAGE_UNAVAILABLE } from '../domain/storage/ports.js';

export function storageUnavailable(what: string, cause: unknown): Error & { code: string } {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return Object.assign(new Error(`object storage did not answer (${what}): ${reason}`, { cause }), { code: STORAGE_UNAVAILABLE });
}

/** Failures of the network or the store itself, as opposed to refusals of the request (4xx). */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** The error to report for a failed S3 call: unreachable or failing stores as STORAGE_UNAVAILABLE, anything else as it is. */
export function classified(what: string, error: unknown): unknown {
  const e = error as { name?: unknown; code?: unknown; $metadata?: { httpStatusCode?: unknown } } | null;
  if (!e || typeof e !== 'object' || e.code === STORAGE_UNAVAILABLE) return error;
  const status = e.$metadata?.httpStatusCode;
  const unreachable =
    typeof status === 'number' ? status >= 500 : e.name === 'TimeoutError' || e.name === 'AbortError' || (typeof e.code === 'string' && NETWORK_CODES.has(e.code));
  return unreachable ? storageUnavailable(what, error) : error;
}

/**
 * Runs a call that must be answered within `ms` (its retries included): past it the call is
 * aborted and this rejects with STORAGE_UNAVAILABLE. The deadline ends when the call resolves,
 * so a stream it resolved with (an object's body) is not cut by it later.
 */
export async function withDeadline<T>(ms: number, what: string, call: (signal: AbortSignal) => Promise<T>, outer?: AbortSignal): Promise<T> {
  const controller = new AbortController();
  const signal = outer ? AbortSignal.any([controller.signal, outer]) : controller.signal;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const reason = new Error(`no answer within ${ms / 1000} s`);
      controller.abort(reason);
      reject(storageUnavailable(what, reason));
    }, ms);
  });
  const running = call(signal);
  // Whichever loses the race settles unobserved.
  running.catch(() => undefined);
  expired.catch(() => undefined);
  try {
    return await Promise.race([running, expired]);
  } catch (error) {
    throw classified(what, error);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A pass-through for an object's body that fails with STORAGE_UNAVAILABLE when the store sends
 * nothing for `ms` while nothing waits for the reader: the silence is then the store's. Bytes
 * still buffered for a slow reader mean the wait is the reader's, and it is not counted.
 */
export function silenceGuard(ms: number, what: string): Transform {
  let last = Date.now();
  const guard = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      last = Date.now();
      done(null, chunk);
    },
  });
  const timer = setInterval(() => {
    if (guard.writableEnded) return; // the whole body arrived
    if (guard.readableLength > 0 || guard.writableLength > 0) last = Date.now();
    else if (Date.now() - last >= ms) guard.destroy(storageUnavailable(what, new Error(`no byte for ${ms / 1000} s`)));
  }, Math.max(50, Math.min(1000, ms / 4)));
  timer.unref();
  guard.once('close', () => clearInterval(timer));
  return guard;
}
