/** A small HTTP client for tests: real requests over loopback, JSON answers parsed. */
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';

export interface Reply {
  status: number;
  headers: Headers;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- answers are checked field by field
  text: string;
}

export type MultipartEntry = [name: string, value: string] | [name: string, value: Buffer, filename: string];

export interface RequestOptions {
  token?: string;
  json?: unknown;
  form?: Record<string, string>;
  multipart?: MultipartEntry[];
  raw?: Buffer;
  headers?: Record<string, string>;
}

export async function request(base: string, method: string, path: string, options: RequestOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: RequestInit['body'];
  if (options.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = typeof options.json === 'string' ? options.json : JSON.stringify(options.json);
  } else if (options.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  } else if (options.multipart) {
    const form = new FormData();
    for (const entry of options.multipart) {
      if (entry.length === 2) form.append(entry[0], entry[1]);
      else form.append(entry[0], new Blob([entry[1]]), entry[2]);
    }
    body = form;
  } else if (options.raw) {
    headers['content-type'] ??= 'application/octet-stream';
    body = options.raw;
  }
  const response = await fetch(base + path, { method, headers, body });
  const text = await response.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: response.status, headers: response.headers, json, text };
}

let userCounter = 0;

/** Registers a fresh user and returns its access token and id. */
export async function newUser(base: string, prefix = 'user'): Promise<{ token: string; id: number; username: string }> {
  userCounter += 1;
  const username = `${prefix}_${process.pid}_${userCounter}`;
  const password = 'correct horse battery';
  const created = await request(base, 'POST', '/users', { form: { 'user[username]': username, 'user[email]': `${username}@example.com`, 'user[password]': password } });
  if (created.status !== 201) throw new Error(`registration failed: ${created.status} ${created.text}`);
  const token = await request(base, 'POST', '/oauth/token', { form: { grant_type: 'password', username, password } });
  if (token.status !== 200) throw new Error(`token failed: ${token.status} ${token.text}`);
  return { token: token.json.access_token, id: created.json.body.user.id, username };
}

export function sha1(data: Buffer): string {
  return createHash('sha1').update(data).digest('hex');
}

export function randomFile(size: number): Buffer {
  return randomBytes(size);
}

/** PUTs a raw chunk. */
export function putRaw(base: string, token: string, id: number, offset: number, chunk: Buffer, query = ''): Promise<Reply> {
  return request(base, 'PUT', `/attachments/${id}?attachment%5Bchunk_offset%5D=${offset}${query}`, { token, raw: chunk });
}

/** PUTs a multipart chunk with the offset field before the file part. */
export function putMultipart(base: string, token: string, id: number, offset: number, chunk: Buffer, extra: Array<[string, string]> = []): Promise<Reply> {
  return request(base, 'PUT', `/attachments/${id}`, {
    token,
    multipart: [['attachment[chunk_offset]', String(offset)], ...extra, ['attachment[chunk]', chunk, 'chunk.bin']],
  });
}

export async function createAttachment(base: string, token: string, size: number, filename = 'file.bin'): Promise<number> {
  const reply = await request(base, 'POST', '/attachments', { token, json: { attachment: { size, filename } } });
  if (reply.status !== 201) throw new Error(`create failed: ${reply.status} ${reply.text}`);
  return reply.json.body.attachment.id;
}

/**
 * Sends a body and returns the status the server answered with, even when the server answers
 * early and stops reading (a 413 for an oversized body): fetch reports that as a failed write.
 */
export function statusOfEarlyAnswer(base: string, method: string, path: string, headers: Record<string, string>, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(base + path, { method, headers: { ...headers, 'content-length': String(body.length) } });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    // A reset after the answer arrived is expected; one before it is a real failure.
    req.on('error', reject);
    req.end(body);
  });
}
