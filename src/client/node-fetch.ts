/**
 * `fetch` for the Node client, on node:http with a keep-alive agent of its own, for one thing
 * the global fetch cannot do: forget every idle kept-alive connection at once. When a phone's
 * NAT mapping is lost, every open connection goes silent without a reset, idle ones included;
 * a request sent on one of them would only stall in turn. After a stall the transport calls
 * dropIdleConnections(), and the next requests open fresh connections.
 */
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';

export type ConnectionFetch = typeof fetch & {
  /** Closes every kept-alive connection that no request is using. */
  dropIdleConnections(): void;
};

/** Idle connections are closed after this long, as the global fetch does. */
const IDLE_MS = 4000;

function toHeaders(raw: http.IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  return headers;
}

function plainHeaders(init: RequestInit['headers']): Record<string, string> {
  const headers: Record<string, string> = {};
  new Headers(init).forEach((value, name) => (headers[name] = value));
  return headers;
}

/** A fetch over node:http(s) with its own agents; bodies are strings or bytes, as the transport sends them. */
export function connectionFetch(): ConnectionFetch {
  const agents = { http: new http.Agent({ keepAlive: true, timeout: IDLE_MS }), https: new https.Agent({ keepAlive: true, timeout: IDLE_MS }) };
  const send = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> =>
    new Promise((resolve, reject) => {
      const url = new URL(input instanceof Request ? input.url : input);
      const secure = url.protocol === 'https:';
      const body = init.body;
      if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
        return reject(new TypeError('this fetch sends string or Uint8Array bodies only'));
      }
      const headers = plainHeaders(init.headers);
      if (body !== undefined && body !== null) headers['content-length'] = String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
      const request = (secure ? https : http).request(url, {
        method: init.method ?? 'GET',
        headers,
        agent: secure ? agents.https : agents.http,
        ...(init.signal ? { signal: init.signal } : {}),
      });
      request.on('error', (error) => reject(new TypeError('fetch failed', { cause: error })));
      request.on('response', (response) => {
        const status = response.statusCode ?? 0;
        const empty = status === 204 || status === 304 || init.method === 'HEAD';
        if (empty) response.resume();
        resolve(new Response(empty ? null : (Readable.toWeb(response) as ReadableStream<Uint8Array>), { status, statusText: response.statusMessage ?? '', headers: toHeaders(response.headers) }));
      });
      request.end(body ?? undefined);
    });
  return Object.assign(send, {
    dropIdleConnections() {
      for (const agent of Object.values(agents)) {
        for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
      }
    },
  }) as ConnectionFetch;
}
