/**
 * CORS for browsers on other origins (CORS_ORIGINS), with @fastify/cors: preflights for
 * every route, the request headers tus and the IETF draft send allowed, and the response
 * headers their clients read exposed. A bare OPTIONS (no Access-Control-Request-Method)
 * is not a preflight: it reaches its route, e.g. tus discovery at OPTIONS /files/.
 */
import type { FastifyCorsOptions } from '@fastify/cors';
import type { FastifyInstance, FastifyRequest } from 'fastify';

const UPLOAD_REQUEST_HEADERS = [
  'Tus-Resumable',
  'Upload-Length',
  'Upload-Defer-Length',
  'Upload-Offset',
  'Upload-Metadata',
  'Upload-Checksum',
  'Upload-Concat',
  'Upload-Complete',
  'Upload-Incomplete',
  'Upload-Draft-Interop-Version',
];

const EXPOSED_HEADERS = [
  'Location',
  'Upload-Offset',
  'Upload-Length',
  'Upload-Expires',
  'Upload-Defer-Length',
  'Upload-Metadata',
  'Upload-Concat',
  'Upload-Complete',
  'Upload-Incomplete',
  'Upload-Limit',
  'Upload-Draft-Interop-Version',
  'Tus-Resumable',
  'Tus-Version',
  'Tus-Extension',
  'Tus-Max-Size',
  'Tus-Checksum-Algorithm',
  'Retry-After',
  'Content-Disposition',
  'Content-Range',
  'ETag',
];

export async function registerCors(app: FastifyInstance, origins: string[] | '*'): Promise<void> {
  const options: FastifyCorsOptions = {
    origin: origins === '*' ? '*' : origins,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Content-Disposition', 'X-Requested-With', 'X-HTTP-Method-Override', ...UPLOAD_REQUEST_HEADERS],
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: 86400,
  };
  // Loaded only where CORS_ORIGINS is set.
  const { default: cors } = await import('@fastify/cors');
  await app.register(cors, () => (request: FastifyRequest, callback: (error: Error | null, options: FastifyCorsOptions) => void) => {
    const preflight = request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined;
    callback(null, request.method !== 'OPTIONS' || preflight ? options : { origin: false });
  });
}
