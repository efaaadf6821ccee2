/**
 * GET /healthz: liveness, kept cheap: 200 while the process serves requests and its database
 * answers a trivial query. The storage is not contacted (`free_bytes` is the local disk's, from
 * statfs; null on object storage). A container's health check uses it: restarting a process
 * does not bring a storage back.
 * GET /readyz: readiness (SPEC 6): 200 only when the database and the storage both answer within
 * READY_TIMEOUT_MS, else 503 `not_ready` saying which did not. A load balancer routes by it.
 */
import { Type } from '@sinclair/typebox';
import type {} from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../domain/errors.js';
import type { BlobStore } from '../../domain/storage/ports.js';
import { envelope } from '../envelope.js';
import { Envelope, errorResponses } from '../schemas.js';

/** How long the database and the storage each have to answer a readiness check. */
export const READY_TIMEOUT_MS = 3000;

/** 'ok', or why the dependency is not ready; never longer than READY_TIMEOUT_MS. */
async function probe(check: (signal: AbortSignal) => Promise<void>): Promise<string> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<string>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve(`no answer within ${READY_TIMEOUT_MS / 1000} s`);
    }, READY_TIMEOUT_MS);
  });
  const answered = check(controller.signal).then(
    () => 'ok',
    (error: unknown) => (error instanceof Error ? error.message : String(error)),
  );
  try {
    return await Promise.race([answered, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The health routes answer with JSON.stringify, not a schema-built serializer: their replies are
 * ours alone and tiny, and /readyz's first 200 is what ends a start, so building its serializer
 * (fast-json-stringify, which loads Ajv: about 60 ms) would make every start that much longer.
 */
const serializerCompiler = () => (data: unknown) => JSON.stringify(data);

const Checks = Type.Object({ database: Type.String(), storage: Type.String() });

export async function healthRoutes(app: FastifyInstance, deps: { ping: () => Promise<void>; store: BlobStore }): Promise<void> {
  app.get('/healthz', {
    serializerCompiler,
    schema: {
      summary: 'Liveness: the process serves and its database answers (the storage is not contacted)',
      tags: ['operations'],
      response: { 200: Envelope(Type.Object({ status: Type.Literal('ok'), free_bytes: Type.Union([Type.Integer(), Type.Null()]) })), ...errorResponses },
    },
    handler: async (_request, reply) => {
      await deps.ping();
      reply.header('cache-control', 'no-store');
      return envelope({ status: 'ok' as const, free_bytes: await deps.store.freeBytes() });
    },
  });
  app.get('/readyz', {
    serializerCompiler,
    schema: {
      summary: `Readiness: the database and the storage both answer within ${READY_TIMEOUT_MS / 1000} s (503 not_ready otherwise)`,
      tags: ['operations'],
      response: { 200: Envelope(Type.Object({ status: Type.Literal('ready'), checks: Checks })), ...errorResponses },
    },
    handler: async (_request, reply) => {
      const [database, storage] = await Promise.all([probe(() => deps.ping()), probe((signal) => deps.store.check(signal))]);
      reply.header('cache-control', 'no-store');
      if (database !== 'ok' || storage !== 'ok') {
        const failed = [database !== 'ok' ? 'the database' : null, storage !== 'ok' ? 'the storage' : null].filter(Boolean).join(' and ');
        throw new ApiError('not_ready', `Not ready: ${failed} did not answer.`, { checks: { database, storage } });
      }
      return envelope({ status: 'ready' as const, checks: { database, storage } });
    },
  });
}
