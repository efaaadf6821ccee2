/**
 * Image sizes (SPEC 8): thumb and full for the background job, and the sizes any GET may ask
 * for with `image_size_hint`, made on demand within a budget, since anyone can ask (issue 22):
 * - sizes are resized from a master, the image scaled down once (image-size-policy.ts) and
 *   stored, so a large original is decoded once, not once per size;
 * - an image has at most `sizesPerImage` on-demand sizes; past that, a GET gets the stored
 *   size nearest to what it asked for, and nothing is made;
 * - resizing runs on a bounded WorkQueue; a GET that finds it full gets null for the sizes it
 *   would have made rather than waiting in an unbounded line (so does one past its own
 *   `newSizesPerRequest` or NEW_SIZES_WITHIN_MS, or from a client past `PerMinuteRate`): it
 *   may ask again later.
 */
import type { Metrics } from '../metrics.js';
import type { Clock } from '../clock.js';
import type { ImageProcessor, ImageRenditionRepository, ImageSource, MediaFileRecord, RenditionDisposal } from './ports.js';
import type { PerMinuteRate } from '../rate-window.js';
import type { WorkQueue } from '../work-queue.js';
import { isOnDemand, MASTER, masterSide, nearestRendition } from './image-size-policy.js';
import { geometryText, type ImageGeometry, type ImageRendition, MediaFailure } from './processing.js';

/** New sizes one request may make: a page of 150 clips with 5 hints could otherwise ask for 750. */
export const NEW_SIZES_PER_REQUEST = 20;
/**
 * Image work of one request starts and ends within this long after the request began: a size
 * not ready by then is null (and finished for the next request), so that waiting for turns
 * cannot hold a request for minutes.
 */
export const NEW_SIZES_WITHIN_MS = 5000;

const LATE = Symbol('late');

export interface ImageSizeLimits {
  /** On-demand sizes one image may have besides thumb and full. */
  sizesPerImage: number;
  /** New sizes one request may make (NEW_SIZES_PER_REQUEST). */
  newSizesPerRequest: number;
}

export interface ImageSizeDeps {
  repository: ImageRenditionRepository;
  processor: ImageProcessor;
  disposal: RenditionDisposal;
  clock: Clock;
  /** Every resize of this node runs here. */
  work: WorkQueue;
  /** Requests per minute per client that may make new sizes. */
  rate: PerMinuteRate;
  metrics: Pick<Metrics, 'imageResized' | 'imageSizeDeclined'>;
  limits: ImageSizeLimits;
}

/** Masters whose making this process remembers (a few hundred bytes each). */
const REMEMBERED_MASTERS = 1000;

/** Why a GET did not get the size it asked for (a metric label). */
export type DeclineReason = 'sizes_per_image' | 'per_request' | 'rate' | 'busy' | 'unreadable';

/** What a size is resized from. */
interface Source {
  file: ImageSource;
  original: boolean;
}

/** One GET's allowance, spent as it makes sizes. */
interface RequestAllowance {
  client: string;
  newSizes: number;
  /** When it stops making and waiting for sizes (clock time). */
  until: number;
  /** Whether the client's rate let this request make sizes; asked once, at its first new size. */
  admitted: boolean | null;
}

export class ImageSizes {
  /** Sizes being made in this process, by `imageId:geometry`: a second asker waits for the first. */
  private readonly making = new Map<string, Promise<ImageRendition | null>>();
  /**
   * Masters being made or made lately, by image id: kept after they are made, so a caller that
   * looked in the database just before one was recorded does not make it a second time.
   */
  private readonly masters = new Map<number, Promise<Source>>();

  private readonly deps: ImageSizeDeps;

  constructor(deps: ImageSizeDeps) {
    this.deps = deps;
  }

  /** A size for the background job (thumb, full): from the master, waiting for its turn however long the queue. */
  async render(image: MediaFileRecord, geometry: ImageGeometry, signal: AbortSignal): Promise<ImageRendition> {
    const source = (await this.sourceOf(image, null, true))!;
    return this.deps.work.run(() => this.resize(source, geometry, signal));
  }

  /** A size made before, if any (never makes one). */
  stored(image: MediaFileRecord, geometry: string): Promise<ImageRendition | null> {
    return this.deps.repository.findImageRendition(image.id, geometry);
  }

  /**
   * For each image, the sizes asked for by canonical geometry: stored, made now within the
   * budget, the nearest stored one when the image has all the sizes it may have, or null.
   * `client` names the asker for the rate (its address).
   */
  async forImages(images: MediaFileRecord[], geometries: ImageGeometry[], client: string): Promise<Map<number, Map<string, ImageRendition | null>>> {
    const out = new Map<number, Map<string, ImageRendition | null>>();
    if (images.length === 0 || geometries.length === 0) return out;
    const stored = await this.deps.repository.listImageRenditions(images.map((image) => image.id));
    const allowance: RequestAllowance = { client, newSizes: this.deps.limits.newSizesPerRequest, until: this.deps.clock.now() + NEW_SIZES_WITHIN_MS, admitted: null };
    for (const image of images) {
      const known = stored.get(image.id) ?? [];
      const sizes = new Map<string, ImageRendition | null>();
      for (const geometry of geometries) {
        const text = geometryText(geometry);
        if (sizes.has(text)) continue;
        sizes.set(text, known.find((r) => r.geometry === text) ?? (await this.missing(image, geometry, known, allowance)));
      }
      out.set(image.id, sizes);
    }
    return out;
  }

  private async missing(image: MediaFileRecord, geometry: ImageGeometry, known: ImageRendition[], allowance: RequestAllowance): Promise<ImageRendition | null> {
    const key = `${image.id}:${geometryText(geometry)}`;
    const pending = this.making.get(key);
    if (pending) return this.waitFor(pending, allowance);
    if (known.filter((r) => isOnDemand(r.geometry)).length + this.inFlight(image.id) >= this.deps.limits.sizesPerImage) {
      return this.nearest(image, geometry, known);
    }
    if (allowance.newSizes <= 0 || this.deps.clock.now() >= allowance.until) return this.declined('per_request');
    allowance.admitted ??= this.deps.rate.take(allowance.client);
    if (!allowance.admitted) return this.declined('rate');
    let source: Source | null;
    try {
      source = await this.waitFor(this.sourceOf(image, known, false), allowance);
    } catch (error) {
      if (error instanceof MediaFailure) return this.declined('unreadable');
      throw error;
    }
    if (!source) return this.declined('busy');
    const again = this.making.get(key); // made meanwhile by another request
    if (again) return this.waitFor(again, allowance);
    const resized = this.deps.work.offer(() => this.resize(source, geometry));
    if (!resized) return this.declined('busy');
    allowance.newSizes -= 1;
    const made = this.record(image, geometry, resized).finally(() => this.making.delete(key));
    this.making.set(key, made);
    return this.waitFor(made, allowance);
  }

  /**
   * What `work` resolves to, or null (busy) when the request's time for image work ends first.
   * The work goes on: what it makes is recorded for the next request that asks.
   */
  private async waitFor<T>(work: Promise<T | null>, allowance: RequestAllowance): Promise<T | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<typeof LATE>((resolve) => {
      timer = setTimeout(() => resolve(LATE), Math.max(0, allowance.until - this.deps.clock.now()));
    });
    try {
      const result = await Promise.race([work, late]);
      return result === LATE ? this.declined('busy') : result;
    } finally {
      clearTimeout(timer);
    }
  }

  private async record(image: MediaFileRecord, geometry: ImageGeometry, resized: Promise<ImageRendition>): Promise<ImageRendition | null> {
    let made: ImageRendition;
    try {
      made = await resized;
    } catch (error) {
      if (error instanceof MediaFailure) return this.declined('unreadable');
      throw error;
    }
    const recorded = await this.deps.repository.addImageRendition(image.id, made, this.deps.clock.now(), this.deps.limits.sizesPerImage);
    if (recorded?.added) return recorded.rendition;
    await this.deps.disposal.discard([made.storageKey]);
    if (recorded) return recorded.rendition;
    // Another node filled the image's sizes meanwhile.
    return this.nearest(image, geometry, (await this.deps.repository.listImageRenditions([image.id])).get(image.id) ?? []);
  }

  private nearest(image: MediaFileRecord, geometry: ImageGeometry, known: ImageRendition[]): ImageRendition | null {
    this.deps.metrics.imageSizeDeclined('sizes_per_image');
    return image.image ? nearestRendition(geometry, image.image, known) : null;
  }

  private declined(reason: DeclineReason): null {
    this.deps.metrics.imageSizeDeclined(reason);
    return null;
  }

  private inFlight(imageId: number): number {
    let count = 0;
    for (const key of this.making.keys()) if (key.startsWith(`${imageId}:`)) count += 1;
    return count;
  }

  /**
   * The master, made (once per image, recorded) when missing; the original itself when it
   * is small enough. `wait` false: null when the queue has no room for making the master.
   */
  private async sourceOf(image: MediaFileRecord, known: ImageRendition[] | null, wait: boolean): Promise<Source | null> {
    const side = image.image ? masterSide(image.image.width, image.image.height) : null;
    if (side === null) return { file: image, original: true };
    const remembered = this.masters.get(image.id);
    if (remembered) return remembered;
    // `known` may be a moment old: a master missing from it is looked up before one is made.
    const stored = known?.find((r) => r.geometry === MASTER) ?? (await this.deps.repository.findImageRendition(image.id, MASTER));
    if (stored) return { file: stored, original: false };
    const pending = this.masters.get(image.id); // started while we looked
    if (pending) return pending;
    const make = () => this.makeMaster(image, side);
    const queued = wait ? this.deps.work.run(make) : this.deps.work.offer(make);
    if (!queued) return null;
    const master = queued.catch((error: unknown) => {
      this.masters.delete(image.id);
      throw error;
    });
    this.masters.set(image.id, master);
    if (this.masters.size > REMEMBERED_MASTERS) this.masters.delete(this.masters.keys().next().value!);
    return master;
  }

  private async makeMaster(image: MediaFileRecord, side: number): Promise<Source> {
    this.deps.metrics.imageResized('original');
    const made = await this.deps.processor.master(image, side);
    const recorded = await this.deps.repository.addImageRendition(image.id, made, this.deps.clock.now(), Infinity);
    if (!recorded?.added) await this.deps.disposal.discard([made.storageKey]);
    return { file: recorded?.rendition ?? made, original: false };
  }

  private resize(source: Source, geometry: ImageGeometry, signal?: AbortSignal): Promise<ImageRendition> {
    this.deps.metrics.imageResized(source.original ? 'original' : 'master');
    return this.deps.processor.render(source.file, geometry, signal);
  }
}
