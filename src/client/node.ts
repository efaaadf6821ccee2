/**
 * The client for Node: everything of the portable client, plus uploads from file paths that
 * survive the process. An upload of a path records its attachment id in the user's config
 * directory, so running it again after a crash or Ctrl-C sends only what the server lacks.
 */
import { createHash } from 'node:crypto';
import { open, realpath } from 'node:fs/promises';
import path from 'node:path';
import { upload as portableUpload, type GrowingSource } from './index.js';
import type { Sha1Factory } from './sha1.js';
import type { UploadSource } from './source.js';
import { StateStore } from './state-store.js';
import { clientFor, uploadSource, type UploadOptions, type UploadResult } from './upload.js';

export * from './index.js';
export { configDir, StateStore } from './state-store.js';

/** node:crypto's SHA1: several times faster than the portable one. */
export const nodeSha1: Sha1Factory = () => {
  const hash = createHash('sha1');
  return {
    update: (bytes) => void hash.update(bytes),
    digest: () => hash.digest('hex'),
  };
};

/** A file read by offset; only the requested slice is in memory. */
export async function fileSource(file: string): Promise<UploadSource & { path: string; mtimeMs: number }> {
  const handle = await open(file, 'r');
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new Error(`${file} is not a regular file`);
    return {
      path: await realpath(file),
      mtimeMs: stat.mtimeMs,
      size: stat.size,
      name: path.basename(file),
      async read(offset, length) {
        const buffer = Buffer.allocUnsafe(length);
        let filled = 0;
        while (filled < length) {
          const { bytesRead } = await handle.read(buffer, filled, length - filled, offset + filled);
          if (bytesRead === 0) throw new Error(`${file} is shorter than when the upload began`);
          filled += bytesRead;
        }
        return buffer;
      },
      close: () => handle.close(),
    };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

export interface NodeUploadOptions extends UploadOptions {
  /**
   * Where file-path uploads remember their attachment: a store, or false for nowhere.
   * Default: `uploads/` in the user's config directory. The record is removed once the upload is done.
   */
  state?: StateStore | false;
}

/** Identifies one file's upload to one server; a changed file (size or mtime) starts afresh. */
export function uploadKey(server: string, file: { path: string; size: number; mtimeMs: number }): string {
  return JSON.stringify(['upload', server, file.path, file.size, file.mtimeMs]);
}

/** Uploads a file path, Blob, bytes, UploadSource or growing source (e.g. process.stdin); see UploadOptions. */
export async function upload(source: string | Blob | Uint8Array | UploadSource | GrowingSource, options: NodeUploadOptions): Promise<UploadResult> {
  const withNodeHash = { sha1: nodeSha1, ...options, client: clientFor(options) };
  if (typeof source !== 'string') return portableUpload(source, withNodeHash);

  const file = await fileSource(source);
  try {
    const store = options.state === false ? null : (options.state ?? new StateStore());
    if (store === null) return await uploadSource(file, withNodeHash);
    const key = uploadKey(withNodeHash.client.server, file);
    const saved = await store.get<{ attachmentId: number }>(key);
    const result = await uploadSource(file, {
      ...withNodeHash,
      attachmentId: options.attachmentId ?? saved?.attachmentId,
      onAttachment: async (attachment) => {
        await store.set(key, { attachmentId: attachment.id });
        await options.onAttachment?.(attachment);
      },
    });
    await store.delete(key);
    return result;
  } finally {
    await file.close?.();
  }
}
