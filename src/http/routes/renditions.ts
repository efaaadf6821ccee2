/**
 * SPEC 8: what media processing made, served like the originals (Range, ETag): the MP3, the
 * small renditions (Ogg Opus, AAC in MP4), the waveform and image sizes of a clip (public) or a message (its sender and recipient only).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../domain/errors.js';
import { FULL, geometryText, type MediaProcessing, type MediaProcessingService, THUMB } from '../../domain/media/processing.js';
import type { BlobStore } from '../../domain/storage/ports.js';
import type { MediaFileRecord } from '../../domain/media/ports.js';
import { sendStoredFile } from '../file-response.js';
import { geometryFromToken } from '../processing-views.js';

type IdRequest = FastifyRequest<{ Params: { id: string } }>;

export interface RenditionRouteOptions {
  /** `/audio_clips/:id` or `/account/messages/:id`. */
  base: string;
  tag: string;
  /** The record the request may see (404 otherwise). */
  find: (request: IdRequest) => Promise<{ id: number; processing: MediaProcessing; image: MediaFileRecord | null }>;
  cacheControl: 'public' | 'private';
  store: BlobStore;
  media: MediaProcessingService;
}

const notProcessed = (what: string) => new ApiError('not_processed', `The ${what} is not there: processing has not finished, failed, or is unavailable.`);

export function renditionRoutes(app: FastifyInstance, options: RenditionRouteOptions): void {
  const { base, tag, find, cacheControl, store, media } = options;
  const name = (id: number, suffix: string) => `${tag.replace(/s$/, '').replace(' ', '-')}-${id}${suffix}`;

  const audioRenditions = [
    { path: 'audio.mp3', suffix: '.mp3', field: 'mp3', what: 'MP3', summary: 'The MP3 rendition, 128 kbit/s (Range, ETag)' },
    { path: 'low.opus', suffix: '-low.opus', field: 'lowOpus', what: 'Opus rendition', summary: 'The small rendition for slow networks: Ogg Opus, mono, about 24 kbit/s (Range, ETag)' },
    { path: 'low.m4a', suffix: '-low.m4a', field: 'lowAac', what: 'AAC rendition', summary: 'The small rendition for Apple devices: AAC-LC in MP4, mono, about 48 kbit/s, index first (Range, ETag)' },
  ] as const;
  for (const rendition of audioRenditions) {
    app.get(`${base}/${rendition.path}`, {
      schema: { summary: rendition.summary, tags: [tag] },
      handler: async (request: IdRequest, reply: FastifyReply) => {
        const record = await find(request);
        const stored = record.processing[rendition.field];
        if (!stored) throw notProcessed(rendition.what);
        return sendStoredFile(request, reply, store, { ...stored, filename: name(record.id, rendition.suffix) }, cacheControl);
      },
    });
  }
  app.get(`${base}/waveform.json`, {
    schema: { summary: 'Waveform peaks, audiowaveform JSON version 2 (Range, ETag)', tags: [tag] },
    handler: async (request: IdRequest, reply: FastifyReply) => {
      const record = await find(request);
      if (!record.processing.waveform) throw notProcessed('waveform');
      return sendStoredFile(request, reply, store, { ...record.processing.waveform, filename: name(record.id, '-waveform.json') }, cacheControl);
    },
  });
  app.get(`${base}/images/:name`, {
    schema: { summary: 'An image size: thumb, full, or one asked for with image_size_hint (Range, ETag)', tags: [tag] },
    handler: async (request: FastifyRequest<{ Params: { id: string; name: string } }>, reply: FastifyReply) => {
      const record = await find(request);
      const geometry = geometryFromToken(request.params.name);
      if (!record.image || geometry === null) throw new ApiError('not_found', 'No such image size.');
      const background = geometry === geometryText(THUMB) ? record.processing.images.thumb : geometry === geometryText(FULL) ? record.processing.images.full : null;
      const rendition = background ?? (await media.sizes.stored(record.image, geometry));
      if (!rendition) throw notProcessed('image size');
      const extension = rendition.contentType === 'image/png' ? '.png' : '.jpg';
      return sendStoredFile(request, reply, store, { ...rendition, filename: name(record.id, `-${request.params.name}${extension}`) }, cacheControl);
    },
  });
}
