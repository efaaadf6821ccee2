/** SPEC 4: audio clips. */
import { Type, type StaticDecode } from '@sinclair/typebox';
import type {} from '@fastify/swagger';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ClipService } from '../../domain/clips/clip-service.js';
import type { MediaProcessingService } from '../../domain/media/processing.js';
import { ApiError } from '../../domain/errors.js';
import type { BlobStore } from '../../domain/storage/ports.js';
import type { UserService } from '../../domain/users/user-service.js';
import { requireUser } from '../auth.js';
import { envelope } from '../envelope.js';
import { sendStoredFile } from '../file-response.js';
import { decodeParams, NumberParam, PageParams, pageWindow, parseTimestamp, TextParam, TimestampParam } from '../params.js';
import { parseId, readParams } from '../request-params.js';
import { errorResponses } from '../schemas.js';
import { FileParam, readMediaRequest } from '../uploaded-files.js';
import { clipView } from '../views.js';
import { hintedImages, ImageHintParams, parseImageSizeHints } from '../image-hints.js';
import { renditionRoutes } from './renditions.js';

export interface ClipRouteDeps {
  clips: ClipService;
  users: UserService;
  store: BlobStore;
  maxFileSize: number;
  /** Media processing (SPEC 8): renditions and image_size_hint. */
  media?: MediaProcessingService;
}

const Tag = TextParam({ maxLength: 64 });
const TagFields = {
  tags: Type.Optional(Type.Array(Tag, { maxItems: 50 })),
  tag_list: Type.Optional(Type.Union([Type.Array(Tag, { maxItems: 50 }), TextParam({ maxLength: 4000 })])),
};

const ClipFields = Type.Object({
  title: TextParam({ minLength: 1, maxLength: 255 }),
  description: Type.Optional(TextParam({ maxLength: 10_000 })),
  uploaded_data: Type.Optional(FileParam),
  uploaded_image: Type.Optional(FileParam),
  recorded_at: Type.Optional(TimestampParam),
  uuid: Type.Optional(TextParam({ minLength: 1, maxLength: 128 })),
  location_latitude: Type.Optional(NumberParam({ minimum: -90, maximum: 90 })),
  location_longitude: Type.Optional(NumberParam({ minimum: -180, maximum: 180 })),
  location_accuracy: Type.Optional(NumberParam({ minimum: 0, maximum: 1e7 })),
  // Old mobile clients send these; they are accepted and, when unparseable, ignored.
  local_recorded_at: Type.Optional(Type.Unknown()),
  author_locale: Type.Optional(Type.Unknown()),
  ...TagFields,
});
const CreateParams = Type.Object({ audio_clip: ClipFields });
const UpdateParams = Type.Object({
  audio_clip: Type.Partial(Type.Object({ title: ClipFields.properties.title, description: ClipFields.properties.description, recorded_at: TimestampParam, ...TagFields })),
});
const ListParams = Type.Composite([PageParams, Type.Object({ find: Type.Optional(Type.Object({ query: Type.Optional(TextParam({ maxLength: 200 })) })) })]);

/** tags[], tag_list[] or a comma-separated tag_list, trimmed, without blanks or repeats. */
function tagsOf(fields: { tags?: string[] | undefined; tag_list?: string | string[] | undefined }): string[] | undefined {
  const raw = fields.tags ?? (typeof fields.tag_list === 'string' ? fields.tag_list.split(',') : fields.tag_list);
  if (raw === undefined) return undefined;
  return [...new Set(raw.map((t) => t.trim()).filter((t) => t !== ''))].slice(0, 50);
}

function recordedAtOf(fields: StaticDecode<typeof ClipFields>): number | null {
  if (fields.recorded_at !== undefined) return fields.recorded_at;
  return typeof fields.local_recorded_at === 'string' ? parseTimestamp(fields.local_recorded_at) : null;
}

export async function clipRoutes(app: FastifyInstance, deps: ClipRouteDeps): Promise<void> {
  const { clips, users, store } = deps;

  const create = async (request: FastifyRequest, reply: FastifyReply) => {
    const user = await requireUser(request, users);
    const { params, audio, image } = await readMediaRequest(request, store, 'audio_clip', CreateParams, deps.maxFileSize);
    const fields = params.audio_clip;
    const { clip, created } = await clips.create(
      user.id,
      {
        title: fields.title,
        description: fields.description ?? '',
        tags: tagsOf(fields) ?? [],
        recordedAt: recordedAtOf(fields),
        uuid: fields.uuid ?? null,
        location: { latitude: fields.location_latitude ?? null, longitude: fields.location_longitude ?? null, accuracy: fields.location_accuracy ?? null },
      },
      audio,
      image,
    );
    return reply
      .code(created ? 201 : 200)
      .header('location', `/audio_clips/${clip.id}`)
      .send(envelope({ audio_clip: clipView(clip) }));
  };
  const createSchema = { summary: 'Create an audio clip', tags: ['audio clips'], body: CreateParams, response: errorResponses };
  app.post('/audio_clips', { schema: createSchema, handler: create });
  app.post('/account/audio_clips', { schema: createSchema, handler: create });

  const list = async (request: FastifyRequest, userId: number | undefined) => {
    const params = decodeParams(ListParams, request.query);
    const hints = parseImageSizeHints(request.query);
    const window = pageWindow(params);
    const found = await clips.list({ userId, query: params.find?.query, maxTime: window.maxTime, offset: window.offset, limit: window.limit });
    const hinted = await hintedImages(deps.media, hints, found, request.ip);
    return envelope({ audio_clips: found.map((clip) => clipView(clip, hinted.get(clip.id))) });
  };
  const listSchema = { tags: ['audio clips'], querystring: Type.Composite([ListParams, ImageHintParams]), response: errorResponses };
  app.get('/audio_clips', { schema: { ...listSchema, summary: 'All clips, newest first' }, handler: (request) => list(request, undefined) });
  app.get('/account/audio_clips', {
    schema: { ...listSchema, summary: "The caller's clips" },
    handler: async (request) => list(request, (await requireUser(request, users)).id),
  });
  app.get<{ Params: { id: string } }>('/users/:id/audio_clips', {
    schema: { ...listSchema, summary: "A user's clips" },
    handler: async (request) => {
      const user = await users.findById(parseId(request.params.id, 'user'));
      if (!user) throw new ApiError('not_found', 'No such user.');
      return list(request, user.id);
    },
  });

  app.get<{ Params: { id: string } }>('/audio_clips/:id', {
    schema: { summary: 'One clip', tags: ['audio clips'], querystring: ImageHintParams, response: errorResponses },
    handler: async (request) => {
      const hints = parseImageSizeHints(request.query);
      const clip = await clips.get(parseId(request.params.id, 'audio clip'));
      return envelope({ audio_clip: clipView(clip, (await hintedImages(deps.media, hints, [clip], request.ip)).get(clip.id)) });
    },
  });
  app.get<{ Params: { id: string } }>('/audio_clips/:id.mp3', {
    schema: { summary: 'Redirects (302) to the MP3 rendition, urls.high_mp3', tags: ['audio clips'] },
    handler: async (request, reply) => {
      const clip = await clips.get(parseId(request.params.id, 'audio clip'));
      if (!clip.processing.mp3) throw new ApiError('not_processed', 'The MP3 is not there: processing has not finished, failed, or is unavailable.');
      return reply.redirect(`/audio_clips/${clip.id}/audio.mp3`, 302);
    },
  });
  if (deps.media) {
    renditionRoutes(app, {
      base: '/audio_clips/:id',
      tag: 'audio clips',
      find: (request) => clips.get(parseId(request.params.id, 'audio clip')),
      cacheControl: 'public',
      store,
      media: deps.media,
    });
  }
  app.get<{ Params: { id: string } }>('/audio_clips/:id/audio', {
    schema: { summary: "The clip's audio (Range, ETag)", tags: ['audio clips'] },
    handler: async (request, reply) => sendStoredFile(request, reply, store, (await clips.get(parseId(request.params.id, 'audio clip'))).audio, 'public'),
  });
  app.get<{ Params: { id: string } }>('/audio_clips/:id/image', {
    schema: { summary: "The clip's image (Range, ETag)", tags: ['audio clips'] },
    handler: async (request, reply) => {
      const clip = await clips.get(parseId(request.params.id, 'audio clip'));
      if (!clip.image) throw new ApiError('not_found', 'This clip has no image.');
      return sendStoredFile(request, reply, store, clip.image, 'public');
    },
  });

  app.put<{ Params: { id: string } }>('/audio_clips/:id', {
    schema: { summary: 'Change title, description, tags or recorded_at (owner only)', tags: ['audio clips'], body: UpdateParams, response: errorResponses },
    handler: async (request) => {
      const user = await requireUser(request, users);
      const id = parseId(request.params.id, 'audio clip');
      const fields = decodeParams(UpdateParams, await readParams(request)).audio_clip;
      const clip = await clips.update(user.id, id, { title: fields.title, description: fields.description, tags: tagsOf(fields), recordedAt: fields.recorded_at });
      return envelope({ audio_clip: clipView(clip) });
    },
  });
  app.delete<{ Params: { id: string } }>('/audio_clips/:id', {
    schema: { summary: 'Delete a clip and its files (owner only)', tags: ['audio clips'], response: errorResponses },
    handler: async (request, reply) => {
      const user = await requireUser(request, users);
      await clips.delete(user.id, parseId(request.params.id, 'audio clip'));
      return reply.code(204).send();
    },
  });
}
