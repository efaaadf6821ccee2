/** SPEC 3: chunked attachments over HTTP. */
import { Type } from '@sinclair/typebox';
import type {} from '@fastify/swagger';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AttachmentService } from '../../domain/attachments/attachment-service.js';
import { missingParameter } from '../../domain/errors.js';
import type { BlobStore } from '../../domain/storage/ports.js';
import type { UserService } from '../../domain/users/user-service.js';
import { requireUser } from '../auth.js';
import { ChunkFields, ChunkParams, readChunkRequest } from '../chunk-request.js';
import { envelope } from '../envelope.js';
import { decodeParams, IntegerParam, PageParams, pageWindow, TextParam } from '../params.js';
import { parseId } from '../request-params.js';
import { cleanFilename } from '../uploaded-files.js';
import { attachmentView } from '../views.js';
import { Attachment, Envelope, errorResponses } from '../schemas.js';

export interface AttachmentRouteDeps {
  attachments: AttachmentService;
  users: UserService;
  store: BlobStore;
}

const CreateParams = Type.Object({
  attachment: Type.Object({
    size: Type.Optional(
      IntegerParam({ minimum: 1, description: 'the total size of the file in bytes, a whole number from 1; leave out while it is not known (SPEC 3.8)' }),
    ),
    filename: Type.Optional(TextParam({ maxLength: 255 })),
    ...ChunkFields,
  }),
});

const IdParams = Type.Object({ id: Type.String({ pattern: '^[1-9][0-9]*$' }) });
const AttachmentEnvelope = Envelope(Type.Object({ attachment: Attachment }));

const createFields = (params: unknown) => decodeParams(CreateParams, params).attachment;
const chunkFields = (params: unknown) => decodeParams(ChunkParams, params).attachment;

/** A file part's type, unless it only says "bytes". */
function fileType(file: { mimetype: string } | null): string | null {
  return file?.mimetype && file.mimetype !== 'application/octet-stream' ? file.mimetype : null;
}

export async function attachmentRoutes(app: FastifyInstance, deps: AttachmentRouteDeps): Promise<void> {
  const { attachments, users, store } = deps;
  // Raw chunks: hand the body stream to the route untouched.
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));

  app.post('/attachments', {
    schema: {
      summary: 'Create a chunked attachment, optionally with its first chunk',
      tags: ['attachments'],
      body: CreateParams,
      response: { 201: AttachmentEnvelope, ...errorResponses },
    },
    handler: async (request, reply) => {
      const user = await requireUser(request, users);
      const record = await readChunkRequest(request, reply, store, createFields, async ({ fields, chunk, file }) => {
        const input = { size: fields.size ?? null, filename: cleanFilename(fields.filename) ?? cleanFilename(file?.filename) ?? 'upload', contentType: fileType(file) };
        return chunk ? attachments.createWithChunk(user.id, input, chunk) : attachments.create(user.id, input);
      });
      return reply
        .code(201)
        .header('location', `/attachments/${record.id}`)
        .send(envelope({ attachment: attachmentView(record) }));
    },
  });

  const addChunk = {
    schema: {
      summary: 'Add a chunk (multipart attachment[chunk], or a raw application/octet-stream body)',
      tags: ['attachments'],
      params: IdParams,
      body: ChunkParams,
      response: { 200: AttachmentEnvelope, ...errorResponses },
    },
    handler: async (request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
      const user = await requireUser(request, users);
      const id = parseId(request.params.id, 'attachment');
      const record = await readChunkRequest(request, reply, store, chunkFields, async ({ fields, chunk }) => {
        if (chunk) {
          if (fields.chunk_offset === undefined) throw missingParameter('attachment[chunk_offset]');
          return attachments.writeChunk(user.id, id, { ...chunk, size: fields.size });
        }
        // attachment[size] alone fixes a size not known at creation (SPEC 3.8).
        if (fields.size === undefined) throw missingParameter('attachment[chunk]');
        return attachments.setSize(user.id, id, fields.size);
      });
      return envelope({ attachment: attachmentView(record) });
    },
  };
  app.put('/attachments/:id', addChunk);
  app.post('/attachments/:id', { ...addChunk, schema: { ...addChunk.schema, summary: 'Alias of PUT /attachments/{id}' } });

  app.get('/attachments', {
    schema: {
      summary: "The caller's attachments not used yet (uploading or complete), newest first: what counts against the limits",
      tags: ['attachments'],
      querystring: PageParams,
      response: { 200: Envelope(Type.Object({ attachments: Type.Array(Attachment) })), ...errorResponses },
    },
    handler: async (request) => {
      const user = await requireUser(request, users);
      const window = pageWindow(decodeParams(PageParams, request.query));
      return envelope({ attachments: (await attachments.list(user.id, window)).map(attachmentView) });
    },
  });

  app.get<{ Params: { id: string } }>('/attachments/:id', {
    schema: { summary: 'Status of an attachment', tags: ['attachments'], params: IdParams, response: { 200: AttachmentEnvelope, ...errorResponses } },
    handler: async (request) => {
      const user = await requireUser(request, users);
      const record = await attachments.status(user.id, parseId(request.params.id, 'attachment'));
      return envelope({ attachment: attachmentView(record) });
    },
  });

  app.delete<{ Params: { id: string } }>('/attachments/:id', {
    schema: { summary: 'Abort an attachment and delete its data', tags: ['attachments'], params: IdParams, response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      const user = await requireUser(request, users);
      await attachments.delete(user.id, parseId(request.params.id, 'attachment'));
      return reply.code(204).send();
    },
  });
}
