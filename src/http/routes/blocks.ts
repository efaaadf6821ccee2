/** SPEC 10: blocking users, whose messages to the caller are then refused. */
import { Type } from '@sinclair/typebox';
import type {} from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import type { BlockRecord } from '../../domain/users/ports.js';
import type { BlockService } from '../../domain/users/blocks.js';
import type { UserService } from '../../domain/users/user-service.js';
import { requireUser } from '../auth.js';
import { envelope } from '../envelope.js';
import { decodeParams, IntegerParam, PageParams, pageWindow } from '../params.js';
import { parseId, readParams } from '../request-params.js';
import { Block, Envelope, errorResponses } from '../schemas.js';

export interface BlockRouteDeps {
  blocks: BlockService;
  users: UserService;
}

const BlockParams = Type.Object({ block: Type.Object({ user_id: IntegerParam({ minimum: 1, description: 'the id of a user, a whole number from 1' }) }) });

export function blockView(block: BlockRecord) {
  return { user: block.user, created_at: new Date(block.createdAt).toISOString() };
}

export async function blockRoutes(app: FastifyInstance, deps: BlockRouteDeps): Promise<void> {
  const { blocks, users } = deps;
  const BlockEnvelope = Envelope(Type.Object({ block: Block }));

  app.post('/account/blocks', {
    schema: {
      summary: "Block a user: their messages to the caller are refused, and the caller's inbox hides what they sent",
      tags: ['users'],
      body: BlockParams,
      response: { 200: BlockEnvelope, 201: BlockEnvelope, ...errorResponses },
    },
    handler: async (request, reply) => {
      const user = await requireUser(request, users);
      const { block: input } = decodeParams(BlockParams, await readParams(request));
      const { block, created } = await blocks.block(user.id, input.user_id);
      return reply.code(created ? 201 : 200).send(envelope({ block: blockView(block) }));
    },
  });

  app.get('/account/blocks', {
    schema: {
      summary: 'Users the caller blocks, most recently blocked first',
      tags: ['users'],
      querystring: PageParams,
      response: { 200: Envelope(Type.Object({ blocks: Type.Array(Block) })), ...errorResponses },
    },
    handler: async (request) => {
      const user = await requireUser(request, users);
      const window = pageWindow(decodeParams(PageParams, request.query));
      return envelope({ blocks: (await blocks.list(user.id, window)).map(blockView) });
    },
  });

  app.delete<{ Params: { user_id: string } }>('/account/blocks/:user_id', {
    schema: { summary: 'Stop blocking a user', tags: ['users'], params: Type.Object({ user_id: Type.String() }), response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      const user = await requireUser(request, users);
      await blocks.unblock(user.id, parseId(request.params.user_id, 'block'));
      return reply.code(204).send();
    },
  });
}
