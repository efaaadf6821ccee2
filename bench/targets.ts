/**
 * How each server under test is spoken to. A target opens an upload and sends its
 * chunks; the upload client (upload-client.ts) decides which chunks and when.
 */
import type http from 'node:http';
import path from 'node:path';
import { bufferBody, expectStatus, fileBody, send } from './http-client.js';
import { multipartFrame } from './multipart.js';
import { sha1OfFile, type SourceFile } from './source-file.js';

export interface UploadSession {
  /** Sends bytes [offset, offset + length) of the source file. */
  sendChunk(offset: number, length: number): Promise<void>;
  /** SHA1 of the whole file as the server stored it; asked once every chunk is in, outside the timing. */
  storedSha1(): Promise<string>;
}

export interface UploadTarget {
  /** Starts a new upload of the first `size` bytes of the source. */
  begin(size: number): Promise<UploadSession>;
}

export type TrickleMode = 'raw' | 'multipart';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** Registers a user and logs in; resolves the bearer token. Done before timing starts. */
export async function trickleLogin(agent: http.Agent, baseUrl: string): Promise<string> {
  const credentials = 'user[username]=bench1&user[email]=b@example.com&user[password]=benchpass1';
  expectStatus(await send(agent, `${baseUrl}/users`, 'POST', FORM, bufferBody(credentials)), 201, 'POST /users');
  const grant = 'grant_type=password&username=bench1&password=benchpass1';
  const reply = expectStatus(await send(agent, `${baseUrl}/oauth/token`, 'POST', FORM, bufferBody(grant)), 200, 'POST /oauth/token');
  const token = (JSON.parse(reply.body) as { access_token?: unknown }).access_token;
  if (typeof token !== 'string') throw new Error(`POST /oauth/token gave no access_token: ${reply.body}`);
  return token;
}

interface AttachmentReply {
  body?: { attachment?: { id?: number; complete?: boolean; sha1?: string | null } };
}

function attachmentOf(body: string, what: string): NonNullable<NonNullable<AttachmentReply['body']>['attachment']> {
  const attachment = (JSON.parse(body) as AttachmentReply).body?.attachment;
  if (!attachment) throw new Error(`${what}: no body.attachment in ${body.slice(0, 500)}`);
  return attachment;
}

export function trickleTarget(agent: http.Agent, baseUrl: string, token: string, mode: TrickleMode, source: SourceFile): UploadTarget {
  const auth = { authorization: `Bearer ${token}` };
  return {
    async begin(size) {
      const create = JSON.stringify({ attachment: { size, filename: 'bench.bin' } });
      const created = await send(agent, `${baseUrl}/attachments`, 'POST', { ...auth, 'content-type': 'application/json' }, bufferBody(create));
      const id = attachmentOf(expectStatus(created, 201, 'POST /attachments').body, 'POST /attachments').id;
      if (typeof id !== 'number') throw new Error(`POST /attachments gave no id: ${created.body}`);
      // The server reports the SHA1 of the whole file in the reply that completes it.
      let completeSha1: string | null = null;

      return {
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
          if (attachment.complete === true) {
            if (typeof attachment.sha1 !== 'string') throw new Error(`complete attachment without sha1: ${reply.body.slice(0, 500)}`);
            completeSha1 = attachment.sha1;
          }
        },
        async storedSha1() {
          if (completeSha1 === null) throw new Error('every chunk was sent, yet no reply said the attachment is complete');
          return completeSha1;
        },
      };
    },
  };
}

export function bareTarget(agent: http.Agent, baseUrl: string, dataDir: string, source: SourceFile): UploadTarget {
  return {
    async begin(size) {
      expectStatus(await send(agent, `${baseUrl}/upload?size=${size}`, 'POST', { 'content-length': 0 }), 201, 'POST /upload');
      return {
        async sendChunk(offset, length) {
          const headers = { 'content-type': 'application/octet-stream', 'content-length': length };
          expectStatus(await send(agent, `${baseUrl}/upload?offset=${offset}`, 'PUT', headers, fileBody(source.path, offset, length)), 200, `PUT /upload at ${offset}`);
        },
        // The baseline computes no digest (that is the point of it); hash what it wrote instead.
        storedSha1: () => sha1OfFile(path.join(dataDir, 'upload.bin')),
      };
    },
  };
}

const TUS = { 'tus-resumable': '1.0.0' };

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
