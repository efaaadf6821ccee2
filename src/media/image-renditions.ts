/**
 * Image sizes with sharp (libvips). A hostile image fails cleanly: sharp refuses inputs over
 * a pixel count before decoding them (`limitInputPixels`), and every run has a time limit.
 * JPEG stays JPEG and PNG stays PNG; EXIF orientation is applied.
 */
import type { OutputInfo, ResizeOptions } from 'sharp';
import { MASTER } from '../domain/media/image-size-policy.js';
import { geometryText, type ImageGeometry, type ImageRendition, MediaFailure } from '../domain/media/processing.js';
import type { ImageProcessor, ImageSource } from '../domain/media/ports.js';
import type { RenditionStorage } from './rendition-storage.js';

/** Largest input decoded: 50 megapixels (e.g. 8660x5773); a 100000x100000 header is refused. */
export const MAX_INPUT_PIXELS = 50_000_000;
/** A 2048x2048 PNG with no compression is about 16 MB; a 4096x2048 master at level 1 stays under twice that. */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

/**
 * libvips is loaded with the first image, not at start: it adds about 22 MiB to the resident
 * memory of every process, most of which never resize an image. Its operation cache is off:
 * every run reads a different file, so cached pixels would only be resident memory. Each run
 * uses one thread, so IMAGE_CONCURRENCY says how many cores image work may take.
 */
let loadSharp: Promise<typeof import('sharp')['default']> | null = null;
function sharpModule(): Promise<typeof import('sharp')['default']> {
  loadSharp ??= import('sharp').then(({ default: sharp }) => {
    sharp.cache(false);
    sharp.concurrency(1);
    return sharp;
  });
  return loadSharp;
}

type Encoding = 'size' | 'master';

/**
 * The output as views of at most 1 MiB (no copies): it is hashed and written a piece at a time,
 * so other requests get their turns in between instead of waiting for a 12 MB hash.
 */
function* pieces(data: Buffer, size = 1024 * 1024): Generator<Buffer> {
  for (let start = 0; start < data.length; start += size) yield data.subarray(start, start + size);
}

export class SharpImageProcessor implements ImageProcessor {
  private readonly storage: RenditionStorage;
  private readonly timeoutMs: number;

  constructor(
    storage: RenditionStorage,
    timeoutMs: number,
  ) {
    this.storage = storage;
    this.timeoutMs = timeoutMs;
  }

  async render(source: ImageSource, geometry: ImageGeometry, signal?: AbortSignal): Promise<ImageRendition> {
    signal?.throwIfAborted();
    const resize = { width: geometry.width, height: geometry.height, fit: geometry.mode === 'crop' ? ('cover' as const) : ('inside' as const), withoutEnlargement: geometry.mode === 'shrink' };
    return this.run(source, resize, 'size', geometryText(geometry));
  }

  master(source: ImageSource, side: number): Promise<ImageRendition> {
    return this.run(source, { width: side, height: side, fit: 'inside', withoutEnlargement: true }, 'master', MASTER);
  }

  private async run(source: ImageSource, resize: ResizeOptions, encoding: Encoding, geometry: string): Promise<ImageRendition> {
    const sharp = await sharpModule();
    const input = this.storage.input(source.storageKey);
    const options = { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' as const, sequentialRead: true };
    let pipeline = 'path' in input ? sharp(input.path, options) : sharp(options);
    pipeline = pipeline
      .rotate()
      .resize(resize)
      .timeout({ seconds: Math.max(1, Math.ceil(this.timeoutMs / 1000)) });
    const png = source.contentType === 'image/png';
    // A master is read again for every size: quick to decode beats small (little PNG compression, no mozjpeg).
    if (encoding === 'master') pipeline = png ? pipeline.png({ compressionLevel: 1 }) : pipeline.jpeg({ quality: 92 });
    else pipeline = png ? pipeline.png() : pipeline.jpeg({ quality: 85, mozjpeg: true });
    if ('stream' in input) input.stream().pipe(pipeline);
    let result: { data: Buffer; info: OutputInfo };
    try {
      result = await pipeline.toBuffer({ resolveWithObject: true });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (/pixel limit/i.test(message)) throw new MediaFailure('image_too_large', `The image has more than ${MAX_INPUT_PIXELS} pixels.`);
      if (/timeout/i.test(message)) throw new MediaFailure('media_timeout', `Resizing the image took longer than ${Math.ceil(this.timeoutMs / 1000)} s and was stopped.`);
      throw new MediaFailure('image_unreadable', `The image could not be decoded: ${message}`);
    }
    const contentType = png ? 'image/png' : 'image/jpeg';
    const stored = await this.storage.save(pieces(result.data), contentType, MAX_OUTPUT_BYTES);
    return { ...stored, geometry, width: result.info.width, height: result.info.height };
  }
}
