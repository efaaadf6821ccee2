/** GET /healthz: 200 when the database answers and storage is reachable. */
import { Type } from '@sinclair/typebox';
import type {} from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import type { BlobStore } from '../../domain/ports.js';
import { envelope } from '../envelope.js';
import { Envelope, errorResponses } from '../schemas.js';

export async function healthRoutes(app: FastifyInstance, deps: { ping: () => Promise<void>; store: BlobStore }): Promise<void> {
  app.get('/healthz', {
    schema: {
      summary: 'Liveness and readiness',
      tags: ['operations'],
      response: { 200: Envelope(Type.Object({ status: Type.Literal('ok'), free_bytes: Type.Union([Type.Integer(), Type.Null()]) })), ...errorResponses },
    },
    handler: async () => {
      await deps.ping();
      return envelope({ status: 'ok' as const, free_bytes: await deps.store.freeBytes() });
    },
  });
}
