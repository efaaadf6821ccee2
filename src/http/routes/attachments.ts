/** SPEC 3: chunked attachments over HTTP. */
import { Type, type StaticDecode } from '@sinclair/typebox';
import type {} from '@fastify/swagger';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { attachmentView, type AttachmentService, type ChunkInput } from '../../domain/attachments/attachment-service.js';
import { ApiError, missingParameter } from '../../domain/errors.js';
import type { BlobStore } from '../../domain/ports.js';
import type { UserService } from '../../domain/users/user-service.js';
import { requireUser } from '../auth.js';
import { envelope } from '../envelope.js';
import { readMultipartFile } from '../multipart-file.js';
import { decodeParams, FilePart, IntegerParam, PageParams, pageWindow, Sha1Param, TextParam } from '../params.js';
import { parseId, readParams } from '../request-params.js';
import { cleanFilename } from '../uploaded-files.js';
import { Attachment, Envelope, errorResponses } from '../schemas.js';

export interface AttachmentRouteDeps {
  attachments: AttachmentService;
  users: UserService;
  store: BlobStore;
}

const ChunkFields = {
  chunk: Type.Optional(FilePart),
  chunk_offset: Type.Optional(IntegerParam({ minimum: 0, description: 'the byte offset of the chunk, a whole number from 0' })),
  chunk_sha1: Type.Optional(Sha1Param),
};

const CreateParams = Type.Object({
  attachment: Type.Object({
    size: Type.Optional(
      IntegerParam({ minimum: 1, description: 'the total size of the file in bytes, a whole number from 1; leave out while it is not known (SPEC 3.8)' }),
    ),
    filename: Type.Optional(TextParam({ maxLength: 255 })),
    ...ChunkFields,
  }),
});

const ChunkParams = Type.Object({
  attachment: Type.Object({
    ...ChunkFields,
    size: Type.Optional(
      IntegerParam({ minimum: 1, description: 'the total size: fixes a size not known at creation (alone or with a chunk), else must equal it' }),
    ),
  }),
});

const IdParams = Type.Object({ id: Type.String({ pattern: '^[1-9][0-9]*$' }) });
const AttachmentEnvelope = Envelope(Type.Object({ attachment: Attachment }));

export function contentLength(request: FastifyRequest): number | undefined {
  const header = request.headers['content-length'];
  return header !== undefined && /^[0-9]{1,15}$/.test(header) ? Number(header) : undefined;
}

/** Aborts waits of a request whose connection closes before it is answered. */
export function abortOnClose(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new ApiError('malformed_body', 'The connection closed before the chunk was complete.'));
  });
  return controller.signal;
}

type ChunkFieldValues = StaticDecode<typeof ChunkParams>['attachment'];

export async function attachmentRoutes(app: FastifyInstance, deps: AttachmentRouteDeps): Promise<void> {
  const { attachments, users, store } = deps;
  // Raw chunks: hand the body stream to the route untouched.
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));

  const isRaw = (request: FastifyRequest) => (request.headers['content-type'] ?? '').toLowerCase().startsWith('application/octet-stream');

  function rawChunk(request: FastifyRequest, reply: FastifyReply, fields: ChunkFieldValues): ChunkInput {
    return {
      offset: fields.chunk_offset ?? 0,
      source: request.body as Readable,
      length: contentLength(request),
      sha1: fields.chunk_sha1,
      size: fields.size,
      signal: abortOnClose(reply),
    };
  }

  function trailingFrom(schemaParams: () => Promise<Record<string, unknown>>) {
    return async () => {
      const fields = decodeParams(ChunkParams, await schemaParams()).attachment;
      return { sha1: fields.chunk_sha1, size: fields.size };
    };
  }

  app.post('/attachments', {
    schema: {
      summary: 'Create a chunked attachment, optionally with its first chunk',
      tags: ['attachments'],
      body: CreateParams,
      response: { 201: AttachmentEnvelope, ...errorResponses },
    },
    handler: async (request, reply) => {
      const user = await requireUser(request, users);
      let record;
      if (isRaw(request)) {
        const fields = decodeParams(CreateParams, request.query).attachment;
        record = await attachments.createWithChunk(
          user.id,
          { size: fields.size ?? null, filename: cleanFilename(fields.filename) ?? 'upload', contentType: null },
          rawChunk(request, reply, { ...fields, size: undefined }),
        );
      } else if (request.isMultipart()) {
        record = await readMultipartFile(request, store, {
          fileField: 'attachment[chunk]',
          // The chunk cannot be placed before its offset is known; a size after the file part fixes it then.
          canStream: (params) => ((params.attachment ?? {}) as Record<string, unknown>).chunk_offset !== undefined,
          onFile: async (params, file, trailing) => {
            const fields = decodeParams(CreateParams, params).attachment;
            return attachments.createWithChunk(
              user.id,
              {
                size: fields.size ?? null,
                filename: cleanFilename(fields.filename) ?? cleanFilename(file.filename) ?? 'upload',
                contentType: file.mimetype && file.mimetype !== 'application/octet-stream' ? file.mimetype : null,
              },
              { offset: fields.chunk_offset ?? 0, source: file.source, sha1: fields.chunk_sha1, trailing: trailingFrom(trailing), signal: abortOnClose(reply) },
            );
          },
          onNoFile: async (params) => {
            const fields = decodeParams(CreateParams, params).attachment;
            return attachments.create(user.id, { size: fields.size ?? null, filename: cleanFilename(fields.filename) ?? 'upload', contentType: null });
          },
        });
      } else {
        const fields = decodeParams(CreateParams, await readParams(request)).attachment;
        record = await attachments.create(user.id, { size: fields.size ?? null, filename: cleanFilename(fields.filename) ?? 'upload', contentType: null });
      }
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
      if (isRaw(request)) {
        const fields = decodeParams(ChunkParams, request.query).attachment;
        if (fields.chunk_offset === undefined) throw missingParameter('attachment[chunk_offset]');
        const record = await attachments.writeChunk(user.id, id, rawChunk(request, reply, fields));
        return envelope({ attachment: attachmentView(record) });
      }
      // attachment[size] alone fixes a size not known at creation (SPEC 3.8).
      const sizeOnly = async (params: Record<string, unknown>) => {
        const fields = decodeParams(ChunkParams, params).attachment;
        if (fields.size === undefined) throw missingParameter('attachment[chunk]');
        return attachments.setSize(user.id, id, fields.size);
      };
      if (!request.isMultipart()) {
        return envelope({ attachment: attachmentView(await sizeOnly(await readParams(request))) });
      }
      const record = await readMultipartFile(request, store, {
        fileField: 'attachment[chunk]',
        canStream: (params) => ((params.attachment ?? {}) as Record<string, unknown>).chunk_offset !== undefined,
        onFile: async (params, file, trailing) => {
          const fields = decodeParams(ChunkParams, params).attachment;
          if (fields.chunk_offset === undefined) throw missingParameter('attachment[chunk_offset]');
          return attachments.writeChunk(user.id, id, {
            offset: fields.chunk_offset,
            source: file.source,
            sha1: fields.chunk_sha1,
            size: fields.size,
            trailing: trailingFrom(trailing),
            signal: abortOnClose(reply),
          });
        },
        onNoFile: sizeOnly,
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
