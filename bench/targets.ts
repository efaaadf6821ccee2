/**
 * How each server under test is spoken to. A target opens an upload and sends its
 * chunks; the upload client (upload-client.ts) decides which chunks and when.
 */
import type http from 'node:http';
import path from 'node:path';
import { expectStatus, fileBody, send } from './http-client.js';
import { multipartFrame } from './multipart.js';
import { sha1OfFile, type SourceFile } from './source-file.js';
import { attachmentOf, authHeader, createAttachment, waitUntilComplete, type TrickleClient } from './trickle-api.js';

export interface UploadSession {
  /** Sends bytes [offset, offset + length) of the source file. */
  sendChunk(offset: number, length: number): Promise<void>;
  /** SHA1 of the whole file as the server stored it; asked once every chunk is in, outside the timing. */
  storedSha1(): Promise<string>;
}

export interface UploadTarget<Session extends UploadSession = UploadSession> {
  /** Starts a new upload of the first `size` bytes of the source. */
  begin(size: number): Promise<Session>;
}

export type TrickleMode = 'raw' | 'multipart';

export interface TrickleSession extends UploadSession {
  readonly attachmentId: number;
  /** Whether a chunk's reply said the attachment is complete, with its SHA1. */
  completedInReply(): boolean;
}

export function trickleTarget(client: TrickleClient, mode: TrickleMode, source: SourceFile): UploadTarget<TrickleSession> {
  const { agent, baseUrl } = client;
  const auth = authHeader(client.token);
  return {
    async begin(size) {
      const { id } = await createAttachment(client, size);
      // The server reports the SHA1 of the whole file in the reply that completes it.
      let completeSha1: string | null = null;

      return {
        attachmentId: id,
        completedInReply: () => completeSha1 !== null,
        async sendChunk(offset, length) {
          let reply;
          if (mode === 'raw') {
            const url = `${baseUrl}/attachments/${id}?attachment%5Bchunk_offset%5D=${offset}`;
            const headers = { ...auth, 'content-type': 'application/octet-stream', 'content-length': length };
            reply = await send(agent, url, 'PUT', headers, fileBody(source.path, offset, length));
          } else {
            const frame = multipartFrame({ 'attachment[chunk_offset]': String(offset) }, 'attachment[chunk]', 'chunk');
            const headers = { ...auth, 'content-type': frame.contentType, 'content-length': frame.overhead + length };
            reply = await send(agent, `${baseUrl}/attachments/${id}`, 'PUT', headers, fileBody(source.path, offset, length, frame.head, frame.tail));
          }
          const attachment = attachmentOf(expectStatus(reply, 200, `PUT chunk at ${offset}`).body, `PUT chunk at ${offset}`);
          if (attachment.complete === true && typeof attachment.sha1 === 'string') completeSha1 = attachment.sha1;
        },
        // Normally known from the last reply; otherwise the server is still hashing, so ask.
        storedSha1: async () => completeSha1 ?? waitUntilComplete(client, id),
      };
    },
  };
}

export function bareTarget(agent: http.Agent, baseUrl: string, dataDir: string, source: SourceFile): UploadTarget {
  let uploads = 0;
  return {
    async begin(size) {
      // Each upload has a file of its own on the server, so that many can run at once.
      const id = uploads++;
      expectStatus(await send(agent, `${baseUrl}/upload?size=${size}&id=${id}`, 'POST', { 'content-length': 0 }), 201, 'POST /upload');
      return {
        async sendChunk(offset, length) {
          const headers = { 'content-type': 'application/octet-stream', 'content-length': length };
          expectStatus(await send(agent, `${baseUrl}/upload?offset=${offset}&id=${id}`, 'PUT', headers, fileBody(source.path, offset, length)), 200, `PUT /upload at ${offset}`);
        },
        // The baseline computes no digest (that is the point of it); hash what it wrote instead.
        storedSha1: () => sha1OfFile(path.join(dataDir, `upload-${id}.bin`)),
      };
    },
  };
}

const TUS = { 'tus-resumable': '1.0.0' };

/**
 * tus 1.0 to Trickle itself (/files/, SPEC 7): the same calls as to @tus/server, plus the
 * bearer token. The upload is an attachment, so its SHA1 is asked at /attachments/<id>.
 */
export function trickleTusTarget(client: TrickleClient, source: SourceFile): UploadTarget {
  const { agent, baseUrl } = client;
  const auth = authHeader(client.token);
  return {
    async begin(size) {
      const created = await send(agent, `${baseUrl}/files/`, 'POST', { ...auth, ...TUS, 'upload-length': size, 'content-length': 0 });
      const location = expectStatus(created, 201, 'POST /files/').headers.location;
      if (typeof location !== 'string') throw new Error('POST /files/ gave no Location');
      const uploadUrl = new URL(location, baseUrl).href;
      const id = Number(path.posix.basename(new URL(uploadUrl).pathname));
      return {
        async sendChunk(offset, length) {
          const headers = { ...auth, ...TUS, 'content-type': 'application/offset+octet-stream', 'upload-offset': offset, 'content-length': length };
          const reply = expectStatus(await send(agent, uploadUrl, 'PATCH', headers, fileBody(source.path, offset, length)), 204, `PATCH at ${offset}`);
          if (reply.headers['upload-offset'] !== String(offset + length)) {
            throw new Error(`PATCH at ${offset}: Upload-Offset ${String(reply.headers['upload-offset'])}, expected ${offset + length}`);
          }
        },
        storedSha1: () => waitUntilComplete(client, id),
      };
    },
  };
}

/**
 * tus 1.0: POST creates the upload, then each chunk is a PATCH at the current end of
 * the file. The protocol allows no parallel PATCHes to one upload (the offset must be
 * the upload's current length), so this target serves the sequential scenarios only.
 */
export function tusTarget(agent: http.Agent, baseUrl: string, dataDir: string, source: SourceFile): UploadTarget {
  return {
    async begin(size) {
      const created = await send(agent, `${baseUrl}/files`, 'POST', { ...TUS, 'upload-length': size, 'content-length': 0 });
      const location = expectStatus(created, 201, 'POST /files').headers.location;
      if (typeof location !== 'string') throw new Error('POST /files gave no Location');
      const uploadUrl = new URL(location, baseUrl).href;
      const id = path.posix.basename(new URL(uploadUrl).pathname);
      return {
        async sendChunk(offset, length) {
          const headers = { ...TUS, 'content-type': 'application/offset+octet-stream', 'upload-offset': offset, 'content-length': length };
          const reply = expectStatus(await send(agent, uploadUrl, 'PATCH', headers, fileBody(source.path, offset, length)), 204, `PATCH at ${offset}`);
          if (reply.headers['upload-offset'] !== String(offset + length)) {
            throw new Error(`PATCH at ${offset}: Upload-Offset ${String(reply.headers['upload-offset'])}, expected ${offset + length}`);
          }
        },
        // Like the baseline, the FileStore keeps no digest; hash the file it wrote.
        storedSha1: () => sha1OfFile(path.join(dataDir, 'files', id)),
      };
    },
  };
}
