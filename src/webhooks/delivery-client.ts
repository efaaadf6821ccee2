/**
 * One webhook POST: a 2xx is delivered; anything else (another status, a redirect, which is
 * never followed, a refused connection, no answer in time) is a failure to retry later.
 */

export interface DeliveryOutcome {
  delivered: boolean;
  /** The receiver's status, or null when there was no answer. */
  status: number | null;
  /** Why it failed, for logs; null when delivered. */
  failure: string | null;
}

export interface DeliveryOptions {
  timeoutMs: number;
  /** Aborts the attempt (the server is stopping). */
  signal?: AbortSignal;
}

export async function postWebhook(url: string, headers: Record<string, string>, body: string, options: DeliveryOptions): Promise<DeliveryOutcome> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers: { 'user-agent': 'Trickle-Webhooks/1', ...headers }, body, redirect: 'manual', signal });
  } catch (error) {
    const reason = timeout.aborted ? `no answer within ${options.timeoutMs} ms` : describe(error);
    return { delivered: false, status: null, failure: reason };
  }
  // The answer's body means nothing here; drop it without reading it all.
  await response.body?.cancel().catch(() => undefined);
  if (response.status >= 200 && response.status < 300) return { delivered: true, status: response.status, failure: null };
  const redirect = response.status >= 300 && response.status < 400 ? ' (redirects are not followed)' : '';
  return { delivered: false, status: response.status, failure: `HTTP ${response.status}${redirect}` };
}

function describe(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const code = (cause as { code?: unknown }).code;
  const message = cause instanceof Error ? cause.message : String(cause);
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}
