/**
 * Every endpoint × anonymous / another user / the owner, against one table of
 * expected statuses. Destructive calls get a fresh resource for each caller.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from '../helpers/databases.js';
import { createAttachment, newUser, putRaw, request, type RequestOptions } from '../helpers/client.js';
import { fixture } from '../helpers/media.js';
import { startServer, type TestServer } from '../helpers/server.js';

type Role = 'anonymous' | 'stranger' | 'owner';
interface Ctx {
  attachment: number;
  clip: number;
  message: number;
  ownerId: number;
  ownerName: string;
  recipientId: number;
}
interface Row {
  method: string;
  path: (c: Ctx) => string;
  options?: (c: Ctx) => RequestOptions;
  /** A fresh resource for each call (the call destroys or uses it). */
  fresh?: boolean;
  expect: Record<Role, number>;
}

const wav = () => fixture('tone.wav');
const clipBody = (): RequestOptions => ({ multipart: [['audio_clip[title]', 't'], ['audio_clip[uploaded_data]', wav(), 'a.wav']] });

const TABLE: Row[] = [
  { method: 'GET', path: () => '/healthz', expect: { anonymous: 200, stranger: 200, owner: 200 } },
  { method: 'GET', path: () => '/account', expect: { anonymous: 401, stranger: 200, owner: 200 } },
  { method: 'GET', path: (c) => `/users?username=${c.ownerName}`, expect: { anonymous: 200, stranger: 200, owner: 200 } },
  { method: 'GET', path: (c) => `/users/${c.ownerId}`, expect: { anonymous: 200, stranger: 200, owner: 200 } },
  { method: 'POST', path: () => '/attachments', options: () => ({ json: { attachment: { size: 10 } } }), expect: { anonymous: 401, stranger: 201, owner: 201 } },
  { method: 'GET', path: (c) => `/attachments/${c.attachment}`, expect: { anonymous: 401, stranger: 404, owner: 200 } },
  { method: 'PUT', path: (c) => `/attachments/${c.attachment}?attachment%5Bchunk_offset%5D=0`, options: () => ({ raw: Buffer.alloc(10, 1) }), expect: { anonymous: 401, stranger: 404, owner: 200 } },
  { method: 'POST', path: (c) => `/attachments/${c.attachment}?attachment%5Bchunk_offset%5D=0`, options: () => ({ raw: Buffer.alloc(10, 1) }), expect: { anonymous: 401, stranger: 404, owner: 200 } },
  { method: 'DELETE', path: (c) => `/attachments/${c.attachment}`, fresh: true, expect: { anonymous: 401, stranger: 404, owner: 204 } },
  { method: 'POST', path: () => '/audio_clips', options: clipBody, expect: { anonymous: 401, stranger: 201, owner: 201 } },
  { method: 'POST', path: () => '/account/audio_clips', options: clipBody, expect: { anonymous: 401, stranger: 201, owner: 201 } },
  { method: 'GET', path: () => '/audio_clips', expect: { anonymous: 200, stranger: 200, owner: 200 } },
  { method: 'GET', path: () => '/account/audio_clips', expect: { anonymous: 401, stranger: 200, owner: 200 } },
  { method: 'GET', path: (c) => `/users/${c.ownerId}/audio_clips`, expect: { anonymous: 200, stranger: 200, owner: 200 } },
  { method: 'GET', path: (c) => `/audio_clips/${c.clip}`, expect: { anonymous: 200, stranger: 200, owner: 200 } },
  { method: 'GET', path: (c) => `/audio_clips/${c.clip}/audio`, expect: { anonymous: 200, stranger: 200, owner: 200 } },
  { method: 'GET', path: (c) => `/audio_clips/${c.clip}/image`, expect: { anonymous: 404, stranger: 404, owner: 404 } },
  { method: 'PUT', path: (c) => `/audio_clips/${c.clip}`, options: () => ({ json: { audio_clip: { title: 'x' } } }), expect: { anonymous: 401, stranger: 403, owner: 200 } },
  { method: 'DELETE', path: (c) => `/audio_clips/${c.clip}`, fresh: true, expect: { anonymous: 401, stranger: 403, owner: 204 } },
  {
    method: 'POST',
    path: () => '/account/outbox',
    options: (c) => ({ multipart: [['message[recipient_id]', String(c.recipientId)], ['message[uploaded_data]', wav(), 'a.wav']] }),
    expect: { anonymous: 401, stranger: 201, owner: 201 },
  },
  { method: 'GET', path: () => '/account/inbox', expect: { anonymous: 401, stranger: 200, owner: 200 } },
  { method: 'GET', path: () => '/account/outbox', expect: { anonymous: 401, stranger: 200, owner: 200 } },
  { method: 'GET', path: (c) => `/account/messages/${c.message}`, expect: { anonymous: 401, stranger: 404, owner: 200 } },
  { method: 'GET', path: (c) => `/account/messages/${c.message}/audio`, expect: { anonymous: 401, stranger: 404, owner: 200 } },
  // The owner is the sender: only the recipient marks a message played.
  { method: 'PUT', path: (c) => `/account/messages/${c.message}`, options: () => ({ form: { 'message[played]': '1' } }), expect: { anonymous: 401, stranger: 404, owner: 403 } },
  { method: 'DELETE', path: (c) => `/account/messages/${c.message}`, fresh: true, expect: { anonymous: 401, stranger: 404, owner: 204 } },
];

for (const kind of databaseKinds()) {
  describe(`authorization matrix on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    let tokens: Record<Role, string | undefined>;
    let owner: { token: string; id: number; username: string };
    let recipient: { token: string; id: number };
    let shared: Ctx;

    async function resources(): Promise<Ctx> {
      const attachment = await createAttachment(server.url, owner.token, 100);
      await putRaw(server.url, owner.token, attachment, 50, Buffer.alloc(10, 2));
      const clip = await request(server.url, 'POST', '/audio_clips', { token: owner.token, ...clipBody() });
      const message = await request(server.url, 'POST', '/account/outbox', {
        token: owner.token,
        multipart: [['message[recipient_id]', String(recipient.id)], ['message[uploaded_data]', wav(), 'a.wav']],
      });
      assert.equal(clip.status, 201);
      assert.equal(message.status, 201);
      return { attachment, clip: clip.json.body.audio_clip.id, message: message.json.body.message.id, ownerId: owner.id, ownerName: owner.username, recipientId: recipient.id };
    }

    before(async () => {
      server = await startServer(kind, { maxOpenAttachments: 1000 });
      owner = await newUser(server.url, 'owner');
      recipient = await newUser(server.url, 'recipient');
      const stranger = await newUser(server.url, 'stranger');
      tokens = { anonymous: undefined, stranger: stranger.token, owner: owner.token };
      shared = await resources();
    });
    after(() => server.close());

    for (const row of TABLE) {
      for (const role of ['anonymous', 'stranger', 'owner'] as const) {
        const label = `${row.method} ${row.path({ attachment: 1, clip: 1, message: 1, ownerId: 1, ownerName: ':name', recipientId: 2 }).replace(/\/1\b/g, '/:id')} as ${role}`;
        test(`${label} → ${row.expect[role]}`, async () => {
          const ctx = row.fresh ? await resources() : shared;
          const token = tokens[role];
          const reply = await request(server.url, row.method, row.path(ctx), { ...(row.options?.(ctx) ?? {}), ...(token ? { token } : {}) });
          assert.equal(reply.status, row.expect[role], reply.text.slice(0, 300));
          if (reply.status >= 400 && row.method !== 'HEAD') assert.equal(typeof reply.json?.body?.error?.name, 'string');
        });
      }
    }

    test('the recipient may mark the message played and see it, but not change the sender\'s clip', async () => {
      const ctx = await resources();
      assert.equal((await request(server.url, 'PUT', `/account/messages/${ctx.message}`, { token: recipient.token, form: { 'message[played]': '1' } })).status, 200);
      assert.equal((await request(server.url, 'GET', `/account/messages/${ctx.message}/audio`, { token: recipient.token })).status, 200);
      assert.equal((await request(server.url, 'PUT', `/audio_clips/${ctx.clip}`, { token: recipient.token, json: { audio_clip: { title: 'x' } } })).status, 403);
      assert.equal((await request(server.url, 'GET', `/attachments/${ctx.attachment}`, { token: recipient.token })).status, 404);
    });
  });
}
