/**
 * Pure rules of on-demand image sizes (SPEC 8, issue 22): what a size is made from (a master
 * scaled down once from the original) and which stored size answers a size that the budget
 * will not make.
 */
import { FULL, geometryText, MAX_IMAGE_SIDE, THUMB, type ImageGeometry, type ImageRendition } from './processing.js';

/** The geometry under which an image's master is recorded; no URL names it. */
export const MASTER = 'master';

/** Thumb, full and the master: every image may have these besides its on-demand sizes. */
export const FIXED_GEOMETRIES: readonly string[] = [geometryText(THUMB), geometryText(FULL), MASTER];

export function isOnDemand(geometry: string): boolean {
  return !FIXED_GEOMETRIES.includes(geometry);
}

/**
 * The master's shorter side is at most the largest side a size may have, so a size made from
 * it needs no more pixels than the original would give; its longer side is at most twice
 * that (beyond 2:1, a 2048x2048 crop of it is enlarged a little rather than the master growing).
 */
const MASTER_SHORT_SIDE = MAX_IMAGE_SIDE;
const MASTER_LONG_SIDE = 2 * MAX_IMAGE_SIDE;

/**
 * The side of the square the master is fitted inside, or null when the original is small
 * enough to be its own master (a master would keep more than half of its pixels). The
 * square makes the answer the same whichever way EXIF orientation turns the image.
 */
export function masterSide(width: number, height: number): number | null {
  const scale = Math.min(MASTER_SHORT_SIDE / Math.min(width, height), MASTER_LONG_SIDE / Math.max(width, height));
  if (scale * scale > 0.5) return null;
  return Math.round(Math.max(width, height) * scale);
}

interface Size {
  width: number;
  height: number;
}

/** The size `geometry` gives an image of `source`'s size (sharp's rounding aside). */
export function sizeFor(geometry: ImageGeometry, source: Size): Size {
  if (geometry.mode === 'crop') return { width: geometry.width, height: geometry.height };
  let scale = Math.min(geometry.width / source.width, geometry.height / source.height);
  if (geometry.mode === 'shrink') scale = Math.min(1, scale);
  return { width: Math.max(1, Math.round(source.width * scale)), height: Math.max(1, Math.round(source.height * scale)) };
}

/**
 * The original's size as displayed: the probed size is the stored one, before EXIF orientation,
 * so it is turned when a stored size that keeps the aspect ratio (full, the master) is turned.
 */
function displayedSize(original: Size, stored: readonly ImageRendition[]): Size {
  const kept = stored.find((r) => r.geometry === MASTER || !r.geometry.endsWith('/c'));
  if (!kept || original.width === original.height) return original;
  const aspect = kept.width / kept.height;
  const asStored = Math.abs(Math.log(aspect / (original.width / original.height)));
  const turned = Math.abs(Math.log(aspect / (original.height / original.width)));
  return turned < asStored ? { width: original.height, height: original.width } : original;
}

/**
 * Among an image's stored sizes (thumb, full, on-demand; not the master), the one whose width
 * and height are closest, by ratio, to what `geometry` would give; the larger on a tie. Null
 * when none is stored.
 */
export function nearestRendition(geometry: ImageGeometry, original: Size, stored: readonly ImageRendition[]): ImageRendition | null {
  const wanted = sizeFor(geometry, displayedSize(original, stored));
  let best: ImageRendition | null = null;
  let bestDistance = Infinity;
  for (const rendition of stored) {
    if (rendition.geometry === MASTER) continue;
    const distance = Math.abs(Math.log(rendition.width / wanted.width)) + Math.abs(Math.log(rendition.height / wanted.height));
    if (distance < bestDistance - 1e-9 || (Math.abs(distance - bestDistance) <= 1e-9 && best && rendition.width * rendition.height > best.width * best.height)) {
      best = rendition;
      bestDistance = distance;
    }
  }
  return best;
}
