/**
 * `image_size_hint[NAME]=WxH` on GETs of clips and messages (as audioBoom's API had it):
 * extra image sizes, made on demand once each within a budget (domain/media/image-sizes.ts)
 * and answered in `urls.images[NAME]`.
 */
import { Type } from '@sinclair/typebox';
import { ApiError } from '../domain/errors.js';
import { geometryText, parseGeometry, type ImageGeometry, type MediaProcessingService } from '../domain/media/processing.js';
import type { MediaFileRecord } from '../domain/media/ports.js';
import type { HintedImages } from './processing-views.js';

/** Names one request may ask for. */
export const MAX_IMAGE_HINTS = 5;

/** For route schemas (the OpenAPI document); parseImageSizeHints does the checking. */
export const ImageHintParams = Type.Object({
  image_size_hint: Type.Optional(
    Type.Record(Type.String({ pattern: '^[A-Za-z0-9_-]{1,32}$' }), Type.String({ pattern: '^[0-9]{1,4}x[0-9]{1,4}(<|/c)?$' }), {
      description: `up to ${MAX_IMAGE_HINTS} extra image sizes by name: WxH (fit inside, never enlarged), WxH< (fit inside), WxH/c (crop to fill); sides up to 2048`,
    }),
  ),
});

export interface ImageHint {
  name: string;
  geometry: ImageGeometry;
}

export function parseImageSizeHints(query: unknown): ImageHint[] {
  const raw = (query as Record<string, unknown> | null)?.image_size_hint;
  if (raw === undefined) return [];
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ApiError('invalid_parameter', 'image_size_hint must be given as image_size_hint[NAME]=WxH.', { parameter: 'image_size_hint' });
  }
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length > MAX_IMAGE_HINTS) {
    throw new ApiError('invalid_parameter', `At most ${MAX_IMAGE_HINTS} image sizes may be asked for at once.`, { parameter: 'image_size_hint', max: MAX_IMAGE_HINTS });
  }
  return entries.map(([name, value]) => {
    const parameter = `image_size_hint[${name}]`;
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(name)) throw new ApiError('invalid_parameter', 'An image size name has 1 to 32 letters, digits, - or _.', { parameter });
    const geometry = typeof value === 'string' ? parseGeometry(value) : null;
    if (!geometry) throw new ApiError('invalid_parameter', `${parameter} must be WxH, WxH< or WxH/c with sides from 1 to 2048.`, { parameter });
    return { name, geometry };
  });
}

/** For each record with an image, its hinted sizes by name; `client` (the caller's address) is what the rate counts. */
export async function hintedImages(
  media: MediaProcessingService | undefined,
  hints: ImageHint[],
  records: Array<{ id: number; image: MediaFileRecord | null }>,
  client: string,
): Promise<Map<number, HintedImages>> {
  const out = new Map<number, HintedImages>();
  if (!media || hints.length === 0) return out;
  const withImage = records.filter((record): record is { id: number; image: MediaFileRecord } => record.image !== null);
  const sizes = await media.sizes.forImages(
    withImage.map((record) => record.image),
    hints.map((hint) => hint.geometry),
    client,
  );
  for (const record of withImage) {
    const made = sizes.get(record.image.id);
    out.set(record.id, new Map(hints.map((hint) => [hint.name, made?.get(geometryText(hint.geometry)) ?? null])));
  }
  return out;
}
