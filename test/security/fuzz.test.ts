/**
 * Random requests against every endpoint: methods, paths, ids, parameter names and
 * values, encodings, multipart boundaries, huge numbers, unicode, deep nesting.
 * Never a 5xx, never a crash, memory bounded. FUZZ_RUNS sets the count (default 1000).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { databaseKinds } from '../helpers/databases.js';
import { createAttachment, newUser, putRaw, request } from '../helpers/client.js';
import { fixture } from '../helpers/media.js';
import { startServer, type TestServer } from '../helpers/server.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

const TEMPLATES = [
  '/attachments', '/attachments/:id', '/audio_clips', '/audio_clips/:id', '/audio_clips/:id/audio', '/audio_clips/:id/image',
  '/account', '/account/audio_clips', '/account/inbox', '/account/outbox', '/account/messages/:id', '/account/messages/:id/audio',
  '/users', '/users?username=:id', '/users/:id', '/users/:id/audio_clips', '/oauth/token', '/healthz', '/openapi.json',
];
const NAMES = [
  'attachment[size]', 'attachment[chunk_offset]', 'attachment[chunk_sha1]', 'attachment[filename]', 'attachment[chunk]',
  'audio_clip[title]', 'audio_clip[uploaded_data][chunked_attachment_id]', 'audio_clip[uploaded_data][fingerprint]', 'audio_clip[uploaded_data]',
  'audio_clip[tags][]', 'audio_clip[tag_list]', 'audio_clip[recorded_at]', 'audio_clip[location_latitude]', 'audio_clip[uuid]',
  'message[recipient_id]', 'message[uploaded_data]', 'message[parent_id]', 'message[played]', 'user[username]', 'user[email]', 'user[password]',
  'grant_type', 'username', 'password', 'page[items]', 'page[number]', 'max_time', 'find[query]',
  '__proto__[polluted]', 'constructor[prototype][polluted]', 'a[b][c][d][e][f][g][h]', 'x[]', 'x[][y]', '[]', '[', ']',
];

const id = fc.oneof(
  fc.integer({ min: 1, max: 5 }).map(String),
  fc.constantFrom('0', '-1', '1e3', '99999999999999999999999', '..', '%00', '%2e%2e', '', '%20', '1.5', '0x10', '%FF', '%'),
  fc.string({ maxLength: 20 }).map(encodeURIComponent),
  fc.string({ unit: 'grapheme', maxLength: 8 }).map(encodeURIComponent),
);
const path = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(fc.constantFrom(...TEMPLATES), id).map(([t, i]) => t.replace(':id', i)) },
  { weight: 1, arbitrary: fc.array(fc.string({ maxLength: 10 }).map(encodeURIComponent), { maxLength: 5 }).map((parts) => '/' + parts.join('/')) },
);
const value = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.integer().map(String),
  fc.double().map(String),
  fc.constantFrom('1e309', '99999999999999999999', '-1', '', '0', '1', 'true', 'null', 'a'.repeat(5000), 'da39a3ee5e6b4b0d3255bfef95601890afd80709'),
);
const name = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...NAMES) }, { weight: 1, arbitrary: fc.string({ maxLength: 20 }) });
const pairs = fc.array(fc.tuple(name, value), { maxLength: 8 });

function form(entries: Array<[string, string]>): string {
  return entries.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

/**
 * A nested object from Rails-style names, built naively (it may be odd; that is the point).
 * Prototype-less objects, so a "__proto__" name becomes a key sent to the server instead of
 * polluting this process.
 */
function nested(entries: Array<[string, string]>): unknown {
  const out: Record<string, unknown> = Object.create(null);
  for (const [k, v] of entries) {
    const keys = k.split(/[[\]]+/).filter(Boolean);
    let at: Record<string, unknown> = out;
    keys.slice(0, -1).forEach((key) => {
      if (typeof at[key] !== 'object' || at[key] === null) at[key] = Object.create(null);
      at = at[key] as Record<string, unknown>;
    });
    at[keys[keys.length - 1] ?? 'x'] = v;
  }
  return out;
}

const boundary = fc.stringMatching(/^[A-Za-z0-9'()+_,./:=?-]{1,70}$/);
const multipart = fc.record({ boundary, entries: pairs, file: fc.option(fc.tuple(name, fc.uint8Array({ maxLength: 2048 }), fc.string({ maxLength: 20 }))), truncate: fc.boolean(), garbleHeader: fc.boolean() }).map(({ boundary: b, entries, file, truncate, garbleHeader }) => {
  const parts = entries.map(([k, v]) => `--${b}\r\nContent-Disposition: form-data; name="${k.replace(/"/g, '')}"\r\n\r\n${v}\r\n`);
  let body = Buffer.from(parts.join(''));
  if (file) {
    const header = garbleHeader ? `--${b}\r\nContent-Disposition: form-data; name=${file[0]}; filename\r\n\r\n` : `--${b}\r\nContent-Disposition: form-data; name="${file[0].replace(/"/g, '')}"; filename="${file[2].replace(/"/g, '')}"\r\nContent-Type: audio/mpeg\r\n\r\n`;
    body = Buffer.concat([body, Buffer.from(header), Buffer.from(file[1]), Buffer.from('\r\n')]);
  }
  body = Buffer.concat([body, Buffer.from(`--${b}--\r\n`)]);
  if (truncate) body = body.subarray(0, Math.floor(body.length / 2));
  return { contentType: `multipart/form-data; boundary=${b}`, body };
});

const body = fc.oneof(
  pairs.map((p) => ({ contentType: 'application/x-www-form-urlencoded', body: Buffer.from(form(p)) })),
  pairs.map((p) => ({ contentType: 'application/json', body: Buffer.from(JSON.stringify(nested(p))) })),
  fc.json({ maxDepth: 6 }).map((j) => ({ contentType: 'application/json', body: Buffer.from(j) })),
  fc.integer({ min: 1, max: 200_000 }).map((depth) => ({ contentType: 'application/json', body: Buffer.from('['.repeat(depth) + ']'.repeat(depth)) })),
  fc.integer({ min: 1, max: 5000 }).map((depth) => ({ contentType: 'application/json', body: Buffer.from('{"a":'.repeat(depth) + '1' + '}'.repeat(depth)) })),
  multipart,
  fc.uint8Array({ maxLength: 4096 }).map((bytes) => ({ contentType: 'application/octet-stream', body: Buffer.from(bytes) })),
  fc.tuple(fc.string({ maxLength: 40 }), fc.uint8Array({ maxLength: 512 })).map(([type, bytes]) => ({ contentType: type, body: Buffer.from(bytes) })),
  fc.constant({ contentType: '', body: Buffer.alloc(0) }),
);

function fuzzRequest(tokens: string[]): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      method: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE') },
        { weight: 1, arbitrary: fc.constantFrom('PATCH', 'HEAD', 'OPTIONS') },
      ),
      path,
      query: pairs,
      body,
      auth: fc.oneof(fc.constant(''), fc.constantFrom(...tokens.map((t) => `Bearer ${t}`)), fc.constantFrom('Bearer', 'Bearer x', 'Basic YWJj', 'bearer  ' + 'a'.repeat(300)), fc.string({ maxLength: 30 })),
      range: fc.option(fc.constantFrom('bytes=0-10', 'bytes=-5', 'bytes=99999999-', 'bytes=5-1', 'bytes=0-1,4-5', 'chars=1-2', 'bytes=abc')),
    })
    .map(({ method, path: p, query, body: b, auth, range }) => {
      const headers: Record<string, string> = {};
      if (b.contentType) headers['content-type'] = b.contentType.replace(/[^\t\x20-\x7e]/g, '');
      if (auth) headers.authorization = auth.replace(/[^\t\x20-\x7e]/g, '');
      if (range) headers.range = range;
      const q = form(query);
      return { method, path: p + (q ? `?${q}` : ''), headers, body: method === 'GET' || method === 'HEAD' ? Buffer.alloc(0) : b.body };
    });
}

function send(base: string, r: FuzzRequest): Promise<number> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method: r.method, path: r.path, headers: { ...r.headers, 'content-length': String(r.body.length) }, agent: false, timeout: 15_000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${r.method} ${r.path}`)));
    req.on('error', (error: NodeJS.ErrnoException) => {
      // The server may close a connection whose body it refused; a reset is not a 5xx.
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') resolve(0);
      else reject(error);
    });
    req.end(r.body);
  });
}

for (const kind of databaseKinds()) {
  describe(`HTTP fuzzing on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    let tokens: string[];
    before(async () => {
      server = await startServer(kind, { maxOpenAttachments: 100_000 });
      const a = await newUser(server.url, 'fuzz');
      const b = await newUser(server.url, 'fuzz');
      tokens = [a.token, b.token];
      // Real resources for the fuzzer to hit with small ids.
      const attachment = await createAttachment(server.url, a.token, 100);
      await putRaw(server.url, a.token, attachment, 0, Buffer.alloc(40, 3));
      await request(server.url, 'POST', '/audio_clips', { token: a.token, multipart: [['audio_clip[title]', 't'], ['audio_clip[uploaded_data]', fixture('tone.wav'), 'a.wav']] });
      await request(server.url, 'POST', '/account/outbox', { token: a.token, multipart: [['message[recipient_id]', String(b.id)], ['message[uploaded_data]', fixture('tone.wav'), 'a.wav']] });
    });
    after(() => server.close());

    test(`${RUNS} random requests: never a 5xx, the server stays up, memory stays bounded`, { timeout: 600_000 }, async () => {
      const statuses = new Map<number, number>();
      const rssBefore = process.memoryUsage().rss;
      await fc.assert(
        fc.asyncProperty(fuzzRequest(tokens), async (r) => {
          const status = await send(server.url, r);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          assert.ok(status < 500, `${r.method} ${r.path} ${JSON.stringify(r.headers)} answered ${status}`);
        }),
        { numRuns: RUNS },
      );
      assert.equal((await request(server.url, 'GET', '/healthz')).status, 200);
      const growth = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;
      assert.ok(growth < 300, `RSS grew by ${growth.toFixed(0)} MiB`);
      // Prototype pollution through parameter names did not take.
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      const summary = [...statuses.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(' ');
      console.log(`# fuzz ${kind.name}: ${RUNS} requests, statuses ${summary}, rss growth ${growth.toFixed(0)} MiB`);
    });
  });
}
