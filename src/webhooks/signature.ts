/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): the secret is `whsec_` plus
 * base64 key bytes; each delivery carries `webhook-id`, `webhook-timestamp` (Unix seconds)
 * and `webhook-signature` = `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`.
 */
import { createHmac } from 'node:crypto';

const PREFIX = 'whsec_';
/** The specification asks for keys of 24 to 64 bytes. */
const MIN_KEY_BYTES = 24;
const MAX_KEY_BYTES = 64;

/** The key bytes of a `whsec_…` secret; throws with a readable message when it is not one. */
export function parseWebhookSecret(secret: string): Buffer {
  if (!secret.startsWith(PREFIX)) throw new Error('WEBHOOK_SECRET must look like whsec_<base64>');
  const encoded = secret.slice(PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw new Error('WEBHOOK_SECRET must be whsec_ followed by base64');
  const key = Buffer.from(encoded, 'base64');
  if (key.length < MIN_KEY_BYTES || key.length > MAX_KEY_BYTES) {
    throw new Error(`WEBHOOK_SECRET must hold ${MIN_KEY_BYTES} to ${MAX_KEY_BYTES} bytes, not ${key.length}`);
  }
  return key;
}

export function webhookSignature(key: Buffer, id: string, timestampSeconds: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}

/** The headers of one delivery attempt: signed anew each time, as the timestamp is the attempt's. */
export function webhookHeaders(key: Buffer, id: string, timestampSeconds: number, body: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': webhookSignature(key, id, timestampSeconds, body),
  };
}
