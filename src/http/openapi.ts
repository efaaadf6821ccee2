/**
 * Finishes the OpenAPI document that @fastify/swagger derives from the route schemas, so that
 * standard validators and client generators accept it: tuple schemas in OpenAPI 3.0's
 * vocabulary, security, request bodies of every content type a route parses, nested query
 * parameters as deepObject, a success response on every operation, and file downloads; and
 * /files/ (tus and the IETF draft), whose routes no schema can describe (./protocols/openapi.ts).
 * The route schemas stay the single source; this only adds what they cannot say.
 */
import { ERROR_TABLE } from '../domain/errors.js';
import { RESUMABLE_UPLOAD_PATHS } from './protocols/openapi.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- a JSON document walked generically */
type Json = any;

const ENVELOPE_ERROR = {
  type: 'object',
  required: ['version', 'timestamp', 'window', 'body'],
  properties: {
    version: { type: 'integer', enum: [200] },
    timestamp: { type: 'integer' },
    window: { type: 'integer', enum: [60] },
    body: {
      type: 'object',
      required: ['error'],
      properties: {
        error: {
          type: 'object',
          required: ['code', 'name', 'description'],
          properties: {
            code: { type: 'integer' },
            name: { type: 'string', enum: Object.keys(ERROR_TABLE) },
            description: { type: 'string' },
            details: { type: 'object', additionalProperties: true },
          },
        },
      },
    },
  },
};

const OAUTH_ERROR = {
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'string' }, error_description: { type: 'string' } },
};

const json = (schema: Json) => ({ 'application/json': { schema } });
const errorResponse = (description: string, schema: Json = { $ref: '#/components/schemas/ErrorEnvelope' }) => ({ description, content: json(schema) });

/** The part of each list or item answer's `body`, for the routes whose schema leaves the answer out. */
const ANSWER_BODIES: Array<[RegExp, string]> = [
  [/^\/account\/(outbox|inbox)$/, 'messages'],
  [/^\/account\/messages\/\{id\}$/, 'message'],
  [/^\/(account\/|users\/\{id\}\/)?audio_clips$/, 'audio_clips'],
  [/^\/audio_clips\/\{id\}$/, 'audio_clip'],
];

/** Paths that anyone may read without a token (SPEC 1: reads of public clips, users, health; SPEC 8: clips' renditions). */
const PUBLIC_READS = /^\/(healthz|readyz|users(\/\{id\}(\/audio_clips)?)?|audio_clips(\/\{id\}(\/audio|\/image|\.mp3|\/audio\.mp3|\/low\.opus|\/low\.m4a|\/waveform\.json|\/images\/\{name\})?)?)$/;

/** Files a clip or message has: the originals and what media processing made (SPEC 8), by path suffix and content type. */
const FILE_PATHS: Array<[RegExp, string, string]> = [
  [/\/audio$/, 'audio/*', 'the audio file (its real content type)'],
  [/\/image$/, 'image/*', 'the image file (its real content type)'],
  [/\/audio\.mp3$/, 'audio/mpeg', 'the MP3 rendition (128 kbit/s)'],
  [/\/low\.opus$/, 'audio/ogg', 'the small rendition: Ogg Opus, mono, about 24 kbit/s'],
  [/\/low\.m4a$/, 'audio/mp4', 'the small rendition for Apple devices: AAC-LC in MP4, mono, about 48 kbit/s, index first'],
  [/\/waveform\.json$/, 'application/json', 'waveform peaks in the audiowaveform JSON format, version 2'],
  [/\/images\/\{name\}$/, 'image/*', 'the image size (JPEG or PNG, as the original)'],
];

/** SPEC 8: what every clip and message view says about its processing. */
const PROCESSING_PROPERTIES = {
  processing: { type: 'string', enum: ['queued', 'processing', 'ready', 'failed', 'unavailable'] },
  processing_error: {
    type: 'object',
    nullable: true,
    required: ['name', 'description'],
    properties: { name: { type: 'string', enum: ['media_timeout', 'media_unreadable', 'media_too_long', 'image_unreadable', 'image_too_large', 'internal_error'] }, description: { type: 'string' } },
  },
  urls: {
    type: 'object',
    additionalProperties: true,
    properties: {
      high_mp3: { type: 'string', nullable: true, description: 'the MP3 rendition once processing is ready' },
      low_opus: { type: 'string', nullable: true, description: 'the small rendition for slow networks (Ogg Opus, mono, about 24 kbit/s) once processing is ready' },
      low_aac: { type: 'string', nullable: true, description: 'the small rendition for Apple devices (AAC-LC in MP4, mono, about 48 kbit/s) once processing is ready' },
      waveform: { type: 'string', nullable: true, description: 'audiowaveform JSON version 2 once processing is ready' },
      images: {
        type: 'object',
        nullable: true,
        description: 'thumb (100x100, cropped), full (at most 1024x1024) and the sizes asked for with image_size_hint[NAME]; each null until made',
        additionalProperties: {
          type: 'object',
          nullable: true,
          required: ['width', 'height', 'url'],
          properties: { width: { type: 'integer' }, height: { type: 'integer' }, url: { type: 'string' } },
        },
      },
    },
  },
};
const NO_TOKEN = new Set(['POST /users', 'POST /oauth/token', 'POST /oauth/revoke']);

/** TypeBox tuples (draft-07 `items: [...]`) become OpenAPI 3.0 arrays of fixed length. */
function fixTuples(node: Json): void {
  if (Array.isArray(node)) return node.forEach(fixTuples);
  if (!node || typeof node !== 'object') return;
  if (Array.isArray(node.items)) {
    const types = new Set(node.items.map((item: Json) => item.type));
    node.items = types.size === 1 ? { type: [...types][0] } : { anyOf: node.items };
    delete node.additionalItems;
  }
  for (const value of Object.values(node)) fixTuples(value);
}

function fileResponses(media: string, description: string): Json {
  const binary = { [media]: { schema: { type: 'string', format: 'binary' } } };
  const headers = {
    'Content-Length': { schema: { type: 'integer' } },
    ETag: { schema: { type: 'string' } },
    'Accept-Ranges': { schema: { type: 'string', enum: ['bytes'] } },
  };
  return {
    '200': { description, headers, content: binary },
    '206': {
      description: 'the byte range asked for with `Range`',
      headers: { ...headers, 'Content-Range': { schema: { type: 'string' } } },
      content: binary,
    },
    '304': { description: 'not modified (`If-None-Match` matched the ETag)' },
    '416': errorResponse('the range is outside the file'),
  };
}

function successResponse(path: string, method: string): Json {
  if (method === 'delete') return { '204': { description: 'deleted' } };
  const listed = ANSWER_BODIES.find(([pattern]) => pattern.test(path))?.[1] ?? (path.includes('message') || path.includes('outbox') ? 'message' : 'audio_clip');
  // A create answers with the one item it made.
  const key = method === 'post' ? listed.replace(/s$/, '') : listed;
  const item = { type: 'object', additionalProperties: true, ...(/clip|message/.test(key) ? { properties: PROCESSING_PROPERTIES } : {}) };
  const body = { type: 'object', required: [key], properties: { [key]: key.endsWith('s') ? { type: 'array', items: item } : item }, additionalProperties: true };
  const envelope = {
    type: 'object',
    required: ['version', 'timestamp', 'window', 'body'],
    properties: { version: { type: 'integer', enum: [200] }, timestamp: { type: 'integer' }, window: { type: 'integer', enum: [60] }, body },
  };
  const status = method === 'post' ? '201' : '200';
  return { [status]: { description: 'the envelope; `body` as docs/api.md describes', content: json(envelope) } };
}

/** A chunk travels as a multipart part or as the whole raw body (SPEC 3.2, 3.3). */
function chunkBodies(operation: Json): void {
  const form = operation.requestBody?.content?.['application/json']?.schema;
  if (!form) return;
  operation.requestBody.content = {
    'multipart/form-data': { schema: form, encoding: { 'attachment[chunk]': { contentType: 'application/octet-stream, */*' } } },
    'application/octet-stream': { schema: { type: 'string', format: 'binary', description: 'the chunk itself; parameters go in the query string' } },
    'application/x-www-form-urlencoded': { schema: form },
    'application/json': { schema: form },
  };
}

/** Every body a route reads arrives as form, multipart or JSON (SPEC 1). */
function formBodies(operation: Json): void {
  const schema = operation.requestBody?.content?.['application/json']?.schema;
  if (!schema) return;
  operation.requestBody.content = {
    'application/x-www-form-urlencoded': { schema },
    'multipart/form-data': { schema },
    'application/json': { schema },
  };
}

export function completeOpenApi(doc: Json): Json {
  fixTuples(doc);
  doc.components ??= {};
  doc.components.schemas = { ...doc.components.schemas, ErrorEnvelope: ENVELOPE_ERROR, OAuthError: OAUTH_ERROR };
  for (const [path, operations] of Object.entries<Json>(doc.paths ?? {})) {
    for (const [method, operation] of Object.entries<Json>(operations)) {
      const signature = `${method.toUpperCase()} ${path}`;
      const oauth = path.startsWith('/oauth/');
      for (const parameter of operation.parameters ?? []) {
        if (parameter.in === 'query' && parameter.schema?.type === 'object') {
          parameter.style = 'deepObject';
          parameter.explode = true;
        }
      }
      if (path.startsWith('/attachments')) chunkBodies(operation);
      else formBodies(operation);

      const responses = (operation.responses ??= {});
      for (const status of Object.keys(responses)) {
        // Generated defaults say nothing; error classes point at the one error schema.
        if (/^[45]XX$/i.test(status)) responses[status] = errorResponse(status.startsWith('4') ? 'the request was refused' : 'a server bug', oauth ? { $ref: '#/components/schemas/OAuthError' } : undefined);
        else if (responses[status].description === 'Default Response') responses[status].description = 'success';
      }
      const file = FILE_PATHS.find(([pattern]) => pattern.test(path));
      if (file) Object.assign(responses, fileResponses(file[1], file[2]));
      if (/\}\.mp3$/.test(path)) responses['302'] = { description: 'to urls.high_mp3', headers: { Location: { schema: { type: 'string' } } } };
      if (path === '/metrics') responses['200'] = { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } };
      if (!Object.keys(responses).some((status) => status.startsWith('2') || status === '302')) Object.assign(responses, successResponse(path, method));
      responses['4XX'] ??= errorResponse('the request was refused', oauth ? { $ref: '#/components/schemas/OAuthError' } : undefined);
      responses['5XX'] ??= errorResponse('a server bug', oauth ? { $ref: '#/components/schemas/OAuthError' } : undefined);

      if (operation.security) continue; // the route says (/metrics: open, or the METRICS_TOKEN)
      if (NO_TOKEN.has(signature)) operation.security = [];
      else if (method === 'get' && PUBLIC_READS.test(path)) operation.security = [{}, { bearer: [] }];
      else operation.security = [{ bearer: [] }];
    }
  }
  Object.assign(doc.paths, structuredClone(RESUMABLE_UPLOAD_PATHS));
  return doc;
}
