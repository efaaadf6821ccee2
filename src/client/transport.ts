/**
 * One HTTP exchange with the server over `fetch` (Node and browsers alike): JSON in,
 * the envelope's body out, and every failure turned into one of the client's typed errors.
 */
import { TrickleApiError, TrickleNetworkError, TrickleTimeoutError } from './errors.js';
import type { ErrorName } from './types.js';

export interface TransportOptions {
  /** Base URL of the server, e.g. `http://127.0.0.1:8080`. */
  server: string;
  token?: string | undefined;
  /**
   * Another fetch implementation (tests, proxies, older runtimes). One with a
   * `dropIdleConnections()` method is told when kept-alive connections may have gone silent.
   */
  fetch?: typeof fetch & { dropIdleConnections?: () => void };
}

export interface CallOptions {
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  /** A raw body, sent as application/octet-stream. */
  bytes?: Uint8Array;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
  /** Milliseconds before the request counts as stalled; none when absent. */
  timeoutMs?: number | undefined;
}

interface ErrorBody {
  body?: { error?: { code?: number; name?: string; description?: string; details?: Record<string, unknown> } };
  error?: string;
  error_description?: string;
}

/** Retry-After as milliseconds: either delay-seconds or an HTTP date (RFC 9110 10.2.3). */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (value === null || value.trim() === '') return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

export class Transport {
  readonly server: string;
  token: string | undefined;
  private readonly fetchImpl: NonNullable<TransportOptions['fetch']>;

  constructor(options: TransportOptions) {
    this.server = options.server.replace(/\/+$/, '');
    this.token = options.token;
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** A request stalled: kept-alive connections that are idle may be as dead as its own; new requests open fresh ones. */
  dropIdleConnections(): void {
    this.fetchImpl.dropIdleConnections?.();
  }

  url(path: string, query?: CallOptions['query']): string {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(query ?? {})) if (value !== undefined) search.append(name, String(value));
    const qs = search.toString();
    return `${this.server}${path}${qs ? `?${qs}` : ''}`;
  }

  /** Sends a request and resolves the raw response once it is a 2xx; throws typed errors otherwise. */
  async send(method: string, path: string, options: CallOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    let body: RequestInit['body'];
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.bytes !== undefined) {
      headers['content-type'] = 'application/octet-stream';
      // A chunk is a plain ArrayBuffer-backed view (the DOM typing of BodyInit insists on it).
      body = options.bytes as Uint8Array<ArrayBuffer>;
    }
    const timeout = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(Math.ceil(options.timeoutMs));
    const signals = [options.signal, timeout].filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);

    let response: Response;
    try {
      response = await this.fetchImpl(this.url(path, options.query), { method, headers, body, signal: signal ?? null });
    } catch (error) {
      throw this.failure(error, options.signal, timeout, `${method} ${path}`);
    }
    if (response.ok) return response;
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw this.failure(error, options.signal, timeout, `${method} ${path}`);
    }
    throw errorFromReply(response.status, text, parseRetryAfter(response.headers.get('retry-after')));
  }

  /** Sends a request and resolves the envelope's `body` (or the whole JSON for replies without one). */
  async call<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
    const response = await this.send(method, path, options);
    if (response.status === 204) return undefined as T;
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw this.failure(error, options.signal, undefined, `${method} ${path}`);
    }
    let parsed: { body?: unknown };
    try {
      parsed = JSON.parse(text) as { body?: unknown };
    } catch {
      throw new TrickleApiError(response.status, 'unexpected_response', `${method} ${path}: the reply is not JSON`);
    }
    return (parsed.body ?? parsed) as T;
  }

  /** The user's abort wins; then the stall timeout; anything else is the network failing. */
  private failure(error: unknown, userSignal: AbortSignal | undefined, timeout: AbortSignal | undefined, what: string): unknown {
    if (userSignal?.aborted) return userSignal.reason;
    if (timeout?.aborted) return new TrickleTimeoutError(`${what}: no answer in time`);
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new TrickleNetworkError(`${what}: ${reason}`, { cause: error });
  }
}

export function errorFromReply(status: number, text: string, retryAfterMs: number | null): TrickleApiError {
  let parsed: ErrorBody | null = null;
  try {
    parsed = JSON.parse(text) as ErrorBody;
  } catch {
    parsed = null;
  }
  const apiError = parsed?.body?.error;
  if (apiError && typeof apiError.name === 'string') {
    const description = apiError.description ?? apiError.name;
    return new TrickleApiError(status, apiError.name as ErrorName, description, apiError.code ?? null, apiError.details, retryAfterMs);
  }
  if (parsed && typeof parsed.error === 'string') {
    const name = parsed.error as 'invalid_grant';
    return new TrickleApiError(status, name, parsed.error_description ?? name, null, undefined, retryAfterMs);
  }
  const excerpt = text.slice(0, 200).replace(/\s+/g, ' ').trim();
  return new TrickleApiError(status, 'unexpected_response', `HTTP ${status}${excerpt ? `: ${excerpt}` : ''}`, null, undefined, retryAfterMs);
}
