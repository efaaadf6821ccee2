/**
 * Every storage access of media processing, in one place: reading an original for ffmpeg or
 * sharp, storing what they make under a new key, and deleting renditions nobody records.
 * Only this module knows the BlobStore port's shape.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { MediaFailure, type StoredRendition } from '../domain/media/processing.js';
import type { RenditionDisposal } from '../domain/media/ports.js';
import type { BlobStore } from '../domain/storage/ports.js';

/** How a tool reads a stored file: a path it may seek in, or a stream to pipe in. */
export type ToolInput = { path: string } | { stream: () => Readable };

export class RenditionStorage implements RenditionDisposal {
  private readonly store: BlobStore;

  constructor(store: BlobStore) {
    this.store = store;
  }

  input(storageKey: string): ToolInput {
    const path = this.store.localPath(storageKey);
    return path !== null ? { path } : { stream: () => this.store.openRead(storageKey) as Readable };
  }

  /** Stores what `source` yields as a new blob; beyond `maxBytes` it stores nothing and throws MediaFailure. */
  async save(source: AsyncIterable<Buffer | Uint8Array> | Iterable<Buffer | Uint8Array>, contentType: string, maxBytes: number): Promise<StoredRendition> {
    const scratch = await this.store.createScratch();
    const hash = createHash('sha1');
    let size = 0;
    try {
      for await (const piece of source) {
        const data = Buffer.isBuffer(piece) ? piece : Buffer.from(piece);
        if (size + data.length > maxBytes) throw new MediaFailure('media_too_long', `The ${contentType} rendition would be larger than ${maxBytes} bytes.`);
        await scratch.write(data, size);
        hash.update(data);
        size += data.length;
      }
      const storageKey = await this.store.adoptScratch(scratch);
      return { storageKey, contentType, size, sha1: hash.digest('hex') };
    } catch (error) {
      await scratch.discard().catch(() => undefined);
      throw error;
    }
  }

  async discard(keys: string[]): Promise<void> {
    for (const key of keys) await this.store.deleteBlob(key).catch(() => undefined);
  }
}
