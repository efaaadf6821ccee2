/** Our Standard Webhooks signatures, checked by the specification's own library. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { parseWebhookSecret, webhookHeaders, webhookSignature } from '../../src/webhooks/signature.js';

const secret = `whsec_${randomBytes(32).toString('base64')}`;

test('headers verify with the standardwebhooks library; any change breaks them', () => {
  const key = parseWebhookSecret(secret);
  const body = JSON.stringify({ type: 'audio_clip.created', timestamp: new Date().toISOString(), data: { audio_clip: { id: 1, title: 'Grüße' } } });
  const now = Math.floor(Date.now() / 1000);
  const headers = webhookHeaders(key, 'msg_abc', now, body);
  assert.equal(headers['content-type'], 'application/json');
  assert.match(headers['webhook-signature']!, /^v1,[A-Za-z0-9+/]+=*$/);
  const receiver = new Webhook(secret);
  assert.deepEqual(receiver.verify(body, headers), JSON.parse(body));
  assert.throws(() => receiver.verify(body.replace('Grüße', 'Grusse'), headers), /signature/i);
  assert.throws(() => receiver.verify(body, { ...headers, 'webhook-id': 'msg_other' }), /signature/i);
  assert.throws(() => receiver.verify(body, webhookHeaders(parseWebhookSecret(`whsec_${randomBytes(32).toString('base64')}`), 'msg_abc', now, body)));
  // The library refuses stale timestamps (replays): each attempt is signed with its own time.
  assert.throws(() => receiver.verify(body, webhookHeaders(key, 'msg_abc', now - 3600, body)), /timestamp/i);
});

test('the signature is the one the specification describes (a known answer)', () => {
  // The example in the Standard Webhooks specification's README.
  const key = parseWebhookSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
  const body = '{"test": 2432232314}';
  assert.equal(webhookSignature(key, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body), 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
});

test('secrets must be whsec_ and base64 of 24 to 64 bytes', () => {
  for (const bad of ['', 'secret', 'whsec_', 'whsec_not base64!', `whsec_${randomBytes(8).toString('base64')}`, `whsec_${randomBytes(100).toString('base64')}`]) {
    assert.throws(() => parseWebhookSecret(bad), /WEBHOOK_SECRET/, bad);
  }
});
