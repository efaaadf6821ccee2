/**
 * Image sizes with sharp (libvips). A hostile image fails cleanly: sharp refuses inputs over
 * a pixel count before decoding them (`limitInputPixels`), and every run has a time limit.
 * JPEG stays JPEG and PNG stays PNG; EXIF orientation is applied.
 */
import type { OutputInfo } from 'sharp';
import { MediaFailure, geometryText, type ImageGeometry, type ImageProcessor, type ImageRendition } from '../domain/media/processing.js';
import type { MediaFileRecord } from '../domain/ports.js';
import type { RenditionStorage } from './rendition-storage.js';

/** Largest input decoded: 50 megapixels (e.g. 8660x5773); a 100000x100000 header is refused. */
export const MAX_INPUT_PIXELS = 50_000_000;
/** A 2048x2048 PNG with no compression is about 16 MB. */
const MAX_OUTPUT_BYTES = 32 * 1024 * 1024;

/**
 * libvips is loaded with the first image, not at start: it adds about 22 MiB to the resident
 * memory of every process, most of which never resize an image.
 */
let loadSharp: Promise<typeof import('sharp')> | null = null;

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

  async render(file: MediaFileRecord, geometry: ImageGeometry, signal?: AbortSignal): Promise<ImageRendition> {
    signal?.throwIfAborted();
    loadSharp ??= import('sharp');
    const { default: sharp } = await loadSharp;
    const input = this.storage.input(file.storageKey);
    const options = { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' as const, sequentialRead: true };
    let pipeline = 'path' in input ? sharp(input.path, options) : sharp(options);
    pipeline = pipeline
      .rotate()
      .resize(geometry.width, geometry.height, {
        fit: geometry.mode === 'crop' ? 'cover' : 'inside',
        withoutEnlargement: geometry.mode === 'shrink',
      })
      .timeout({ seconds: Math.max(1, Math.ceil(this.timeoutMs / 1000)) });
    pipeline = file.contentType === 'image/png' ? pipeline.png() : pipeline.jpeg({ quality: 85, mozjpeg: true });
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
    const contentType = file.contentType === 'image/png' ? 'image/png' : 'image/jpeg';
    const stored = await this.storage.save([result.data], contentType, MAX_OUTPUT_BYTES);
    return { ...stored, geometry: geometryText(geometry), width: result.info.width, height: result.info.height };
  }
}
