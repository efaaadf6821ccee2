/**
 * The Trickle calls the benchmarks make besides sending chunks (targets.ts does that):
 * logging in, creating attachments, asking their status and making clips of them.
 */
import type http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { bufferBody, expectStatus, send, type BodyWriter } from './http-client.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const JSON_TYPE = { 'content-type': 'application/json' };

export interface TrickleClient {
  agent: http.Agent;
  baseUrl: string;
  token: string;
}

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

export function authHeader(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

export interface AttachmentView {
  id?: number;
  complete?: boolean;
  state?: string;
  sha1?: string | null;
}

/** body.attachment of a Trickle reply. */
export function attachmentOf(body: string, what: string): AttachmentView {
  const attachment = (JSON.parse(body) as { body?: { attachment?: AttachmentView } }).body?.attachment;
  if (!attachment) throw new Error(`${what}: no body.attachment in ${body.slice(0, 500)}`);
  return attachment;
}

/** POST /attachments for `size` bytes, optionally with its first chunk as a raw body; resolves the attachment. */
export async function createAttachment(client: TrickleClient, size: number, firstChunk?: BodyWriter): Promise<AttachmentView & { id: number }> {
  const { agent, baseUrl, token } = client;
  const reply = firstChunk
    ? await send(agent, `${baseUrl}/attachments?attachment%5Bsize%5D=${size}`, 'POST', { ...authHeader(token), 'content-type': 'application/octet-stream' }, firstChunk)
    : await send(agent, `${baseUrl}/attachments`, 'POST', { ...authHeader(token), ...JSON_TYPE }, bufferBody(JSON.stringify({ attachment: { size, filename: 'bench.wav' } })));
  const attachment = attachmentOf(expectStatus(reply, 201, 'POST /attachments').body, 'POST /attachments');
  if (typeof attachment.id !== 'number') throw new Error(`POST /attachments gave no id: ${reply.body.slice(0, 500)}`);
  return { ...attachment, id: attachment.id };
}

export async function attachmentStatus(client: TrickleClient, id: number): Promise<AttachmentView> {
  const reply = await send(client.agent, `${client.baseUrl}/attachments/${id}`, 'GET', authHeader(client.token));
  return attachmentOf(expectStatus(reply, 200, `GET /attachments/${id}`).body, `GET /attachments/${id}`);
}

/**
 * Asks for the attachment's status until it is complete with its SHA1 (a file sent out
 * of order may still be being hashed); resolves that SHA1. Polls every few ms so the
 * moment it completes is seen closely.
 */
export async function waitUntilComplete(client: TrickleClient, id: number, timeoutMs = 120_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await attachmentStatus(client, id);
    if (status.state === 'complete' && typeof status.sha1 === 'string') return status.sha1;
    if (status.state !== 'uploading' && status.state !== 'complete') throw new Error(`attachment ${id} is ${String(status.state)}, not complete`);
    if (Date.now() > deadline) throw new Error(`attachment ${id} was not complete with a SHA1 within ${timeoutMs} ms`);
    await sleep(5);
  }
}

/** POST /audio_clips from a complete attachment (201 expected); resolves the clip's audio SHA1. */
export async function createClipFromAttachment(client: TrickleClient, attachmentId: number, fingerprint: string): Promise<string> {
  const params = { audio_clip: { title: 'bench', uploaded_data: { chunked_attachment_id: attachmentId, fingerprint } } };
  const reply = await send(client.agent, `${client.baseUrl}/audio_clips`, 'POST', { ...authHeader(client.token), ...JSON_TYPE }, bufferBody(JSON.stringify(params)));
  expectStatus(reply, 201, 'POST /audio_clips');
  const sha1 = (JSON.parse(reply.body) as { body?: { audio_clip?: { audio?: { sha1?: unknown } } } }).body?.audio_clip?.audio?.sha1;
  if (typeof sha1 !== 'string') throw new Error(`POST /audio_clips gave no audio sha1: ${reply.body.slice(0, 500)}`);
  return sha1;
}
