/**
 * Webhooks end to end (SPEC 9): events from real API calls reach a receiver on 127.0.0.1
 * that is first down, then failing, then up; signatures are checked with the Standard
 * Webhooks library; with two nodes each event arrives once; a kill -9 between the event and
 * its delivery loses nothing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { databaseKinds, type TestDatabase } from '../helpers/databases.js';
import { newUser, putRaw, request } from '../helpers/client.js';
import { fixture } from '../helpers/media.js';
import { startNode, type Node } from '../helpers/nodes.js';
import { startServerProcess } from '../helpers/server-process.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { WebhookReceiver, type Received } from '../helpers/webhook-receiver.js';
import { locateFfmpeg } from '../../src/media/ffmpeg.js';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const verifier = new Webhook(SECRET);
const AUDIO = fixture('tone.wav');
/** Events per clip or message from media processing (`*.processed`): none where ffmpeg is missing. */
const PROCESSED = (await locateFfmpeg('ffmpeg')) ? 1 : 0;

interface Event {
  type: string;
  timestamp: string;
  data: Record<string, { id: number } & Record<string, unknown>>;
}

/** Checks the signature with the specification's library and parses the event. */
function verified(received: Received): Event {
  return verifier.verify(received.body, received.headers as Record<string, string>) as Event;
}

async function uploadAttachment(base: string, token: string): Promise<number> {
  const created = await request(base, 'POST', '/attachments', { token, json: { attachment: { size: AUDIO.length, filename: 'tone.wav' } } });
  assert.equal(created.status, 201, created.text);
  const id = created.json.body.attachment.id as number;
  const reply = await putRaw(base, token, id, 0, AUDIO);
  assert.equal(reply.status, 200, reply.text);
  assert.equal(reply.json.body.attachment.state, 'complete');
  return id;
}

async function createClip(base: string, token: string, title: string): Promise<number> {
  const attachment = await uploadAttachment(base, token);
  const reply = await request(base, 'POST', '/audio_clips', { token, json: { audio_clip: { title, uploaded_data: { chunked_attachment_id: attachment } } } });
  assert.equal(reply.status, 201, reply.text);
  return reply.json.body.audio_clip.id;
}

async function sendMessage(base: string, token: string, recipientId: number): Promise<number> {
  const reply = await request(base, 'POST', '/account/outbox', {
    token,
    multipart: [
      ['message[recipient_id]', String(recipientId)],
      ['message[title]', 'hello'],
      ['message[uploaded_data]', AUDIO, 'tone.wav'],
    ],
  });
  assert.equal(reply.status, 201, reply.text);
  return reply.json.body.message.id;
}

/** Delivered events by type and subject id, checking each was delivered once and verifies. */
function deliveredEvents(receiver: WebhookReceiver): Map<string, Event> {
  const events = new Map<string, Event>();
  for (const [id, deliveries] of receiver.delivered()) {
    assert.equal(deliveries.length, 1, `event ${id} delivered ${deliveries.length} times`);
    const event = verified(deliveries[0]!);
    const subject = Object.values(event.data)[0]!;
    events.set(`${event.type}:${subject.id}`, event);
  }
  return events;
}

const seconds = (ms: number) => Math.round(ms / 100) / 10;

for (const kind of databaseKinds()) {
  describe(`webhooks on ${kind.name}`, { skip: kind.skip }, () => {
    const receiver = new WebhookReceiver();
    let server: TestServer;
    let other: Node; // a second node over the same database
    before(async () => {
      await receiver.reserve();
      server = await startServer(kind, { webhookUrl: receiver.url, webhookSecret: SECRET, webhookTimeoutSeconds: 2 });
      other = await startNode(server.config);
    });
    after(async () => {
      await other.close();
      await server.close();
      await receiver.down();
    });

    test('a receiver that is down, then fails, then succeeds gets every event once, signed, with the API view', async (t) => {
      const alice = await newUser(server.url, 'hook_alice');
      const bob = await newUser(server.url, 'hook_bob');
      const started = Date.now();
      const clipId = await createClip(server.url, alice.token, 'Webhook clip');
      const messageId = await sendMessage(server.url, alice.token, bob.id);
      // Down (connections refused) for 2.5 s: the first attempt and the first retries fail.
      await new Promise((resolve) => setTimeout(resolve, 2500 - (Date.now() - started)));
      receiver.answer = ({ attempt }) => (attempt === 1 ? 500 : 204);
      await receiver.up();
      const wanted = ['attachment.completed', 'audio_clip.created', 'message.created', ...(PROCESSED ? ['audio_clip.processed', 'message.processed'] : [])];
      await receiver.until(() => wanted.every((type) => [...deliveredEvents(receiver).keys()].some((key) => key.startsWith(type))), 60_000, wanted.join(', '));

      const events = deliveredEvents(receiver);
      const clip = events.get(`audio_clip.created:${clipId}`);
      assert.ok(clip, 'audio_clip.created');
      const api = await request(server.url, 'GET', `/audio_clips/${clipId}`);
      assert.deepEqual(clip.data.audio_clip, api.json.body.audio_clip);
      const message = events.get(`message.created:${messageId}`);
      assert.ok(message, 'message.created');
      assert.deepEqual(message.data.message, (await request(server.url, 'GET', `/account/messages/${messageId}`, { token: bob.token })).json.body.message);
      if (PROCESSED) {
        // Sent once processing has finished, with the processed view (rendered when sent, so compared with the API now).
        const processed = events.get(`audio_clip.processed:${clipId}`)!;
        assert.equal(processed.data.audio_clip!.processing, 'ready');
        assert.deepEqual(processed.data.audio_clip, api.json.body.audio_clip);
        assert.equal(events.get(`message.processed:${messageId}`)!.data.message!.processing, 'ready');
      }
      const completed = [...events.values()].filter((e) => e.type === 'attachment.completed');
      assert.ok(completed.length >= 1, 'attachment.completed');
      assert.equal(completed[0]!.data.attachment!.state !== undefined, true);

      // Every event: first a 500, then one 2xx; retried with growing delays.
      const lines: string[] = [];
      for (const id of receiver.delivered().keys()) {
        const attempts = receiver.received.filter((r) => r.id === id);
        assert.deepEqual(
          attempts.map((a) => a.status),
          [500, 204],
        );
        const gap = attempts[1]!.at - attempts[0]!.at;
        assert.ok(gap >= 1500, `retry after the 500 came after ${gap} ms`);
        assert.ok(gap <= 20_000, `retry after the 500 came after ${gap} ms`);
        const type = verified(attempts[1]!).type;
        lines.push(`${type}: first seen ${seconds(attempts[0]!.at - started)} s after the event (refused before), retried ${seconds(gap)} s after the 500`);
      }
      t.diagnostic(lines.join('\n'));
      // The webhook-id is stable and each attempt is signed with its own timestamp.
      const [first, second] = receiver.received.filter((r) => r.id === [...receiver.delivered().keys()][0]);
      assert.notEqual(first!.headers['webhook-timestamp'], undefined);
      assert.equal(first!.headers['webhook-id'], second!.headers['webhook-id']);
    });

    test('the first retry comes within about a second', async (t) => {
      receiver.received.length = 0;
      receiver.answer = ({ attempt }) => (attempt === 1 ? 503 : 204);
      const erin = await newUser(server.url, 'hook_erin');
      const clipId = await createClip(server.url, erin.token, 'quick retry');
      // Its attachment's event too, so that none of this test's events arrive during the next.
      await receiver.until(() => deliveredEvents(receiver).has(`audio_clip.created:${clipId}`) && receiver.delivered().size === 2 + PROCESSED, 30_000, 'the retried events');
      const attempts = receiver.received.filter((r) => verified(r).type === 'audio_clip.created');
      assert.deepEqual(
        attempts.map((a) => a.status),
        [503, 204],
      );
      const gap = attempts[1]!.at - attempts[0]!.at;
      t.diagnostic(`first retry ${gap} ms after the failed attempt`);
      // About a second, as designed; a busy machine's timers may run late, never early.
      assert.ok(gap >= 400 && gap <= 5000, `first retry after ${gap} ms`);
    });

    test('with two nodes working the queue, each event is delivered once', async () => {
      receiver.received.length = 0;
      receiver.answer = () => 204;
      const carol = await newUser(server.url, 'hook_carol');
      const ids = await Promise.all(Array.from({ length: 6 }, (_, i) => createClip(i % 2 === 0 ? server.url : other.url, carol.token, `clip ${i}`)));
      const expected = 12 + 6 * PROCESSED;
      const distinct = () => new Set(receiver.received.map((r) => r.id)).size;
      // Every event, processing included (ffmpeg on a busy machine may take a while)...
      await receiver.until(() => ids.every((id) => deliveredEvents(receiver).has(`audio_clip.created:${id}`)) && distinct() >= expected, 90_000, 'six clips');
      // ...then no event arrives twice: not from two nodes, not by retrying a delivered one.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const perId = new Map<string, number>();
      for (const r of receiver.received) perId.set(r.id, (perId.get(r.id) ?? 0) + 1);
      assert.deepEqual([...new Set(perId.values())], [1]);
      assert.equal(perId.size, expected, 'six clips, six attachments (and six clips processed)');
    });
  });
}

for (const kind of databaseKinds()) {
  describe(`webhooks across a kill -9 on ${kind.name}`, { skip: kind.skip }, () => {
    const receiver = new WebhookReceiver();
    let dataDir: string;
    let database: TestDatabase;
    before(async () => {
      await receiver.reserve();
      dataDir = await mkdtemp(path.join(os.tmpdir(), 'trickle-webhook-kill-'));
      database = await kind.create(dataDir);
    });
    after(async () => {
      await receiver.down();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    });

    test('an event recorded before the kill is delivered after the restart, once', async (t) => {
      const env = {
        DATA_DIR: dataDir,
        DATABASE_URL: database.url,
        WEBHOOK_URL: receiver.url,
        WEBHOOK_SECRET: SECRET,
        WEBHOOK_TIMEOUT: '2',
        LOG_LEVEL: 'warn',
        PASSWORD_HASH_LOG2N: '10',
        MIN_FREE_BYTES: '0',
      };
      const first = await startServerProcess(env);
      let clipId: number;
      try {
        const dan = await newUser(first.base, 'hook_dan');
        clipId = await createClip(first.base, dan.token, 'Before the kill');
        // The receiver is down: the first attempts fail; then the server dies mid-backoff.
        await new Promise((resolve) => setTimeout(resolve, 1200));
      } finally {
        await first.kill9();
      }
      const killedAt = Date.now();
      await receiver.up();
      const second = await startServerProcess(env);
      try {
        await receiver.until(() => deliveredEvents(receiver).has(`audio_clip.created:${clipId}`) && receiver.delivered().size === 2 + PROCESSED, 60_000, 'the events after the restart');
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const events = deliveredEvents(receiver); // asserts each id came once
        assert.ok(events.has(`audio_clip.created:${clipId}`));
        assert.equal(receiver.received.length, 2 + PROCESSED, 'the clip, its attachment (and its processing), once each');
        const arrived = receiver.received.find((r) => verified(r).type === 'audio_clip.created')!;
        t.diagnostic(`delivered ${seconds(arrived.at - killedAt)} s after the kill (restart included); ${receiver.received.length} requests in all`);
      } finally {
        await second.kill9();
      }
    });
  });
}
