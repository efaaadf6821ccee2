/** What the client throws: every failure names what went wrong in the SPEC's own words. */
import type { ErrorName } from './types.js';

/** OAuth 2 error codes of POST /oauth/token (RFC 6749 5.2), which has no envelope. */
export type OAuthErrorName = 'invalid_request' | 'invalid_grant' | 'unsupported_grant_type';

/** The server answered with an error. */
export class TrickleApiError extends Error {
  readonly status: number;
  /** The SPEC's error name, e.g. `chunk_out_of_range`; `unexpected_response` for a reply that is not the API's. */
  readonly errorName: ErrorName | OAuthErrorName | 'unexpected_response';
  /** The API's integer code; null for OAuth errors and unexpected replies. */
  readonly code: number | null;
  readonly details: Record<string, unknown> | undefined;
  /** Milliseconds the server asked the client to wait (Retry-After), if it did. */
  readonly retryAfterMs: number | null;

  override readonly name = 'TrickleApiError';

  constructor(
    status: number,
    errorName: ErrorName | OAuthErrorName | 'unexpected_response',
    message: string,
    code: number | null = null,
    details: Record<string, unknown> | undefined = undefined,
    retryAfterMs: number | null = null,
  ) {
    super(message);
    this.status = status;
    this.errorName = errorName;
    this.code = code;
    this.details = details;
    this.retryAfterMs = retryAfterMs;
  }

  /**
   * 5xx, 408 and a rate limit are worth another try; any other 4xx will fail the same way
   * again. So will the 429s about the caller's own open attachments: they clear only when
   * the app finishes or deletes some, and an upload that retried them forever would hide why.
   */
  get retriable(): boolean {
    if (this.errorName === 'too_many_open_attachments' || this.errorName === 'reservation_limit') return false;
    return this.status >= 500 || this.status === 429 || this.status === 408;
  }
}

/** The request did not get an answer: connection refused, reset or cut off. */
export class TrickleNetworkError extends Error {
  override readonly name = 'TrickleNetworkError';
  readonly retriable = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The request got no answer in time; the connection may be stalled. */
export class TrickleTimeoutError extends Error {
  override readonly name = 'TrickleTimeoutError';
  readonly retriable = true;
}

/** The upload could not be finished: the file changed, or the server holds other bytes. */
export class TrickleUploadError extends Error {
  override readonly name = 'TrickleUploadError';
}

export function isRetriable(error: unknown): boolean {
  return (error instanceof TrickleApiError || error instanceof TrickleNetworkError || error instanceof TrickleTimeoutError) && error.retriable;
}
