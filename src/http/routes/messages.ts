/** SPEC 5: private voice messages. */
import { Type } from '@sinclair/typebox';
import type {} from '@fastify/swagger';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../domain/errors.js';
import type { MessageService } from '../../domain/messages/message-service.js';
import type { MediaProcessingService } from '../../domain/media/processing.js';
import type { BlobStore } from '../../domain/storage/ports.js';
import type { UserService } from '../../domain/users/user-service.js';
import { requireUser } from '../auth.js';
import { envelope } from '../envelope.js';
import { sendStoredFile } from '../file-response.js';
import { BooleanParam, decodeParams, IntegerParam, PageParams, pageWindow, TextParam, TimestampParam } from '../params.js';
import { parseId, readParams } from '../request-params.js';
import { errorResponses } from '../schemas.js';
import { FileParam, readMediaRequest } from '../uploaded-files.js';
import { messageView } from '../views.js';
import { hintedImages, ImageHintParams, parseImageSizeHints } from '../image-hints.js';
import { renditionRoutes } from './renditions.js';

export interface MessageRouteDeps {
  messages: MessageService;
  users: UserService;
  store: BlobStore;
  maxFileSize: number;
  /** Media processing (SPEC 8): renditions and image_size_hint. */
  media?: MediaProcessingService;
}

const SendParams = Type.Object({
  message: Type.Object({
    recipient_id: IntegerParam({ minimum: 1, description: 'the id of a user, a whole number from 1' }),
    uploaded_data: Type.Optional(FileParam),
    uploaded_image: Type.Optional(FileParam),
    title: Type.Optional(TextParam({ maxLength: 255 })),
    parent_id: Type.Optional(IntegerParam({ minimum: 1 })),
    uuid: Type.Optional(TextParam({ minLength: 1, maxLength: 128 })),
    recorded_at: Type.Optional(TimestampParam),
  }),
});
const UpdateParams = Type.Object({ message: Type.Object({ played: BooleanParam }) });

export async function messageRoutes(app: FastifyInstance, deps: MessageRouteDeps): Promise<void> {
  const { messages, users, store } = deps;
  const idOf = (request: FastifyRequest<{ Params: { id: string } }>) => parseId(request.params.id, 'message');

  app.post('/account/outbox', {
    schema: { summary: 'Send a voice message', tags: ['messages'], body: SendParams, response: errorResponses },
    handler: async (request, reply) => {
      const user = await requireUser(request, users);
      const { params, audio, image } = await readMediaRequest(request, store, 'message', SendParams, deps.maxFileSize);
      const fields = params.message;
      const { message, created } = await messages.send(
        user.id,
        { recipientId: fields.recipient_id, title: fields.title ?? '', parentId: fields.parent_id ?? null, uuid: fields.uuid ?? null, recordedAt: fields.recorded_at ?? null },
        audio,
        image,
      );
      return reply
        .code(created ? 201 : 200)
        .header('location', `/account/messages/${message.id}`)
        .send(envelope({ message: messageView(message) }));
    },
  });

  for (const box of ['inbox', 'outbox'] as const) {
    app.get(`/account/${box}`, {
      schema: {
        summary: box === 'inbox' ? 'Messages received, newest first' : 'Messages sent, newest first',
        tags: ['messages'],
        querystring: Type.Composite([PageParams, ImageHintParams]),
        response: errorResponses,
      },
      handler: async (request) => {
        const user = await requireUser(request, users);
        const window = pageWindow(decodeParams(PageParams, request.query));
        const hints = parseImageSizeHints(request.query);
        const found = await messages.list({ box, userId: user.id, maxTime: window.maxTime, offset: window.offset, limit: window.limit });
        const hinted = await hintedImages(deps.media, hints, found, request.ip);
        return envelope({ messages: found.map((message) => messageView(message, hinted.get(message.id))) });
      },
    });
  }

  app.get<{ Params: { id: string } }>('/account/messages/:id', {
    schema: { summary: 'One message (sender or recipient only)', tags: ['messages'], querystring: ImageHintParams, response: errorResponses },
    handler: async (request) => {
      const hints = parseImageSizeHints(request.query);
      const message = await messages.get((await requireUser(request, users)).id, idOf(request));
      return envelope({ message: messageView(message, (await hintedImages(deps.media, hints, [message], request.ip)).get(message.id)) });
    },
  });
  if (deps.media) {
    renditionRoutes(app, {
      base: '/account/messages/:id',
      tag: 'messages',
      find: async (request) => messages.get((await requireUser(request, users)).id, idOf(request)),
      cacheControl: 'private',
      store,
      media: deps.media,
    });
  }
  app.get<{ Params: { id: string } }>('/account/messages/:id/audio', {
    schema: { summary: "The message's audio (Range, ETag)", tags: ['messages'] },
    handler: async (request, reply) => {
      const message = await messages.get((await requireUser(request, users)).id, idOf(request));
      return sendStoredFile(request, reply, store, message.audio, 'private');
    },
  });
  app.get<{ Params: { id: string } }>('/account/messages/:id/image', {
    schema: { summary: "The message's image (Range, ETag)", tags: ['messages'] },
    handler: async (request, reply) => {
      const message = await messages.get((await requireUser(request, users)).id, idOf(request));
      if (!message.image) throw new ApiError('not_found', 'This message has no image.');
      return sendStoredFile(request, reply, store, message.image, 'private');
    },
  });
  app.put<{ Params: { id: string } }>('/account/messages/:id', {
    schema: { summary: 'Mark a received message played (message[played]=1) or not', tags: ['messages'], body: UpdateParams, response: errorResponses },
    handler: async (request) => {
      const user = await requireUser(request, users);
      const { played } = decodeParams(UpdateParams, await readParams(request)).message;
      return envelope({ message: messageView(await messages.markPlayed(user.id, idOf(request), played)) });
    },
  });
  app.delete<{ Params: { id: string } }>('/account/messages/:id', {
    schema: { summary: "Remove a message from the caller's view", tags: ['messages'], response: errorResponses },
    handler: async (request, reply) => {
      await messages.delete((await requireUser(request, users)).id, idOf(request));
      return reply.code(204).send();
    },
  });
}
