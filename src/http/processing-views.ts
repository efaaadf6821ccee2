/** The parts of clip and message views that media processing fills in (SPEC 8). */
import { FULL, THUMB, geometryText, parseGeometry, type ImageRendition, type MediaProcessing } from '../domain/media/processing.js';

/** Image renditions asked for with image_size_hint, by the caller's name (null: it could not be made). */
export type HintedImages = Map<string, ImageRendition | null>;

const NAMED: Record<string, string> = { thumb: geometryText(THUMB), full: geometryText(FULL) };

/** A rendition's name in URLs: thumb, full, 300x200 (fit, never enlarged), 300x200-fit (`<`), 300x200-crop (`/c`). */
export function geometryToken(geometry: string): string {
  const named = Object.entries(NAMED).find(([, text]) => text === geometry);
  return named ? named[0] : geometry.replace('/c', '-crop').replace('<', '-fit');
}

/** The canonical geometry a URL names, or null. */
export function geometryFromToken(token: string): string | null {
  if (NAMED[token]) return NAMED[token];
  const match = /^([0-9]+x[0-9]+)(-crop|-fit)?$/.exec(token);
  if (!match) return null;
  const parsed = parseGeometry(`${match[1]}${match[2] === '-crop' ? '/c' : match[2] === '-fit' ? '<' : ''}`);
  return parsed ? geometryText(parsed) : null;
}

export function processingView(detail: string, processing: MediaProcessing, hasImage: boolean, hinted?: HintedImages) {
  const image = (rendition: ImageRendition | null | undefined) =>
    rendition ? { width: rendition.width, height: rendition.height, url: `${detail}/images/${geometryToken(rendition.geometry)}` } : null;
  const images: Record<string, ReturnType<typeof image>> = { thumb: image(processing.images.thumb), full: image(processing.images.full) };
  for (const [name, rendition] of hinted ?? []) images[name] = image(rendition);
  return {
    processing: processing.state,
    processing_error: processing.error,
    loudness: processing.loudness ? { integrated_lufs: processing.loudness.integratedLufs, true_peak_dbtp: processing.loudness.truePeakDbtp } : null,
    urls: {
      high_mp3: processing.mp3 ? `${detail}/audio.mp3` : null,
      low_opus: processing.lowOpus ? `${detail}/low.opus` : null,
      low_aac: processing.lowAac ? `${detail}/low.m4a` : null,
      waveform: processing.waveform ? `${detail}/waveform.json` : null,
      images: hasImage ? images : null,
    },
  };
}
