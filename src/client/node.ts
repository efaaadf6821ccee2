/**
 * The client for Node: everything of the portable client, plus uploads from file paths that
 * survive the process. An upload of a path records its attachment id in the user's config
 * directory, so running it again after a crash or Ctrl-C sends only what the server lacks.
 */
import { createHash } from 'node:crypto';
import { open, realpath, rename } from 'node:fs/promises';
import path from 'node:path';
import { TrickleClient as PortableTrickleClient } from './api.js';
import { connectionFetch } from './node-fetch.js';
import type { TransportOptions } from './transport.js';
import { downloadTo, type DownloadOptions, type DownloadResult, type DownloadSink } from './download.js';
import { upload as portableUpload, type GrowingSource } from './index.js';
import type { Sha1Factory } from './sha1.js';
import type { UploadSource } from './source.js';
import { StateStore } from './state-store.js';
import { uploadSource, type UploadOptions, type UploadResult } from './upload.js';

export * from './index.js';

/**
 * The client, on a connection pool of its own (node-fetch.ts): after a request stalls, the
 * idle kept-alive connections, which may have gone silent with it, are dropped.
 */
export class TrickleClient extends PortableTrickleClient {
  constructor(options: TransportOptions) {
    super({ fetch: connectionFetch(), ...options });
  }
}
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

function nodeClient(options: Pick<NodeUploadOptions, 'server' | 'token'>): TrickleClient {
  if (!options.server) throw new TypeError('upload needs either `client` or `server` (and `token`)');
  return new TrickleClient({ server: options.server, token: options.token });
}

/** Uploads a file path, Blob, bytes, UploadSource or growing source (e.g. process.stdin); see UploadOptions. */
export async function upload(source: string | Blob | Uint8Array | UploadSource | GrowingSource, options: NodeUploadOptions): Promise<UploadResult> {
  const withNodeHash = { sha1: nodeSha1, ...options, client: options.client ?? nodeClient(options) };
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

/** A file as a download's sink: bytes are appended; what it holds already is continued. */
export async function fileSink(file: string): Promise<DownloadSink & { close(): Promise<void> }> {
  const handle = await open(file, 'a+');
  let size = (await handle.stat()).size;
  return {
    get size() {
      return size;
    },
    async write(bytes) {
      for (let written = 0; written < bytes.byteLength; ) written += (await handle.write(bytes, written)).bytesWritten;
      size += bytes.byteLength;
    },
    async truncate() {
      await handle.truncate(0);
      size = 0;
    },
    async *held() {
      const block = Buffer.allocUnsafe(1024 * 1024);
      for (let offset = 0; offset < size; ) {
        const { bytesRead } = await handle.read(block, 0, Math.min(block.length, size - offset), offset);
        if (bytesRead === 0) break;
        yield block.subarray(0, bytesRead);
        offset += bytesRead;
      }
    },
    close: () => handle.close(),
  };
}

/**
 * Downloads `path` (a clip's or message's `urls.audio`, ...) to `file`: the bytes go to
 * `file.part`, which a later call continues if this one is interrupted, and become `file` once
 * their SHA1 is right. See downloadTo for how a bad link is handled.
 */
export async function downloadFile(client: TrickleClient, path: string, file: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  const partial = `${file}.part`;
  const sink = await fileSink(partial);
  let result: DownloadResult;
  try {
    result = await downloadTo(client, path, sink, { sha1: nodeSha1, ...options });
  } finally {
    await sink.close();
  }
  await rename(partial, file);
  return result;
}
