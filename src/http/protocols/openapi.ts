/**
 * /files/ in the OpenAPI document. One route serves tus 1.0 and the IETF resumable-upload
 * draft, chosen per request by `Upload-Draft-Interop-Version`, so the generator cannot derive
 * it from a route schema; the operations are written out here, beside the protocols, with the
 * headers each protocol sends and answers. docs/protocols.md tells the rest.
 */
import { INTEROP_VERSIONS } from './ietf/versions.js';
import { TUS_EXTENSIONS, TUS_VERSION } from './tus/routes.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- plain OpenAPI objects */
type Json = any;

const TUS = 'tus 1.0';
const IETF = 'IETF draft';
const text = { type: 'string' };
const integer = { type: 'integer', minimum: 0 };

function header(name: string, description: string, schema: Json = text): Json {
  return { in: 'header', name, required: false, description, schema };
}

const protocolHeaders = [
  header('Tus-Resumable', `${TUS}: required on every request but OPTIONS`, { type: 'string', enum: [TUS_VERSION] }),
  header('Upload-Draft-Interop-Version', `${IETF}: the interop version spoken; without it the request is tus`, { type: 'integer', enum: [...INTEROP_VERSIONS] }),
];
const completeHeaders = [
  header('Upload-Complete', `${IETF} (interop 4 on): \`?1\` when this request carries the last byte; another value is 400; required on appends from interop 7`, { type: 'string', enum: ['?0', '?1'] }),
  header('Upload-Incomplete', `${IETF} (interop 3): \`?0\` when this request carries the last byte`, { type: 'string', enum: ['?0', '?1'] }),
  header('Content-Digest', `${IETF}: RFC 9530 digest of this request's content (\`sha-256\`, \`sha\`); a mismatch is 400 and appends nothing`),
  header('Repr-Digest', `${IETF}: RFC 9530 digest of the whole representation, checked at completion; a mismatch is 400 and discards the upload`),
  header('Want-Repr-Digest', `${IETF}: RFC 9530 preferences; the completing answer carries Repr-Digest`),
];

const responseHeader = (description: string, schema: Json = text) => ({ description, schema });
const UPLOAD_OFFSET = responseHeader('bytes received from the start with no gap', integer);
const UPLOAD_EXPIRES = responseHeader(`${TUS}: when an idle upload is deleted (HTTP date)`);
const TUS_RESUMABLE = responseHeader(TUS, { type: 'string', enum: [TUS_VERSION] });
const UPLOAD_COMPLETE = responseHeader(`${IETF}: \`?1\` once every byte is there (\`Upload-Incomplete\` inverted for interop 3); on every answer to a creation or append, errors included`);
const UPLOAD_LIMIT = responseHeader('the largest upload and how long an idle one lives: `max-size=N, max-age=S`');

/** Failures: plain text (tus, most IETF ones) or RFC 9457 problem details (the draft's two problem types). */
const failures = {
  '4XX': {
    description:
      'refused; tus answers 409 for a wrong offset, 412 for another Tus-Resumable, 460 for a checksum mismatch; the IETF draft answers a wrong offset with the mismatching-upload-offset problem (expected-offset, provided-offset), an append to a completed upload with completed-upload or inconsistent-upload-length',
    content: { 'text/plain': { schema: text }, 'application/problem+json': { schema: { type: 'object', additionalProperties: true } } },
  },
  '5XX': { description: 'a server bug, or 503 when the storage does not answer', content: { 'text/plain': { schema: text } } },
};

const bytes = { type: 'string', format: 'binary' };
const bearer = [{ bearer: [] }];
const uploadId = { in: 'path', name: 'id', required: true, schema: { type: 'integer' } };

const discovery: Json = {
  summary: 'Capabilities of /files/ (tus discovery; the IETF limits)',
  tags: ['resumable uploads'],
  security: [],
  responses: {
    '204': {
      description: 'what the server supports',
      headers: {
        'Tus-Resumable': TUS_RESUMABLE,
        'Tus-Version': responseHeader('protocol versions', { type: 'string', enum: [TUS_VERSION] }),
        'Tus-Extension': responseHeader(`tus extensions: ${TUS_EXTENSIONS.join(', ')}`),
        'Tus-Max-Size': responseHeader('largest upload in bytes', integer),
        'Tus-Checksum-Algorithm': responseHeader('checksum algorithms', { type: 'string', enum: ['sha1,sha256'] }),
        'Upload-Limit': UPLOAD_LIMIT,
      },
    },
    ...failures,
  },
};

export const RESUMABLE_UPLOAD_PATHS: Record<string, Json> = {
  '/files/': {
    options: discovery,
    post: {
      summary: 'Create an upload (tus creation, creation-with-upload, defer-length, concatenation; IETF upload creation, which first answers 104 with the Location)',
      tags: ['resumable uploads'],
      security: bearer,
      parameters: [
        ...protocolHeaders,
        header('Upload-Length', 'the size in bytes, when known'),
        header('Upload-Defer-Length', `${TUS}: \`1\` when the size is not known yet`, { type: 'string', enum: ['1'] }),
        header('Upload-Metadata', `${TUS}: comma-separated \`key base64value\` pairs (filename, filetype)`),
        header('Upload-Concat', `${TUS}: \`partial\`, or \`final;/files/1 /files/2\``),
        header('Content-Disposition', `${IETF}: the file name (\`attachment; filename="memo.m4a"\`)`),
        ...completeHeaders,
      ],
      requestBody: {
        required: false,
        description: 'the first bytes (optional)',
        content: { 'application/offset+octet-stream': { schema: bytes }, '*/*': { schema: bytes } },
      },
      responses: {
        '201': {
          description: 'created; Location is where to send the rest',
          headers: { Location: responseHeader('/files/{id}'), 'Upload-Offset': UPLOAD_OFFSET, 'Upload-Expires': UPLOAD_EXPIRES, 'Tus-Resumable': TUS_RESUMABLE, 'Upload-Complete': UPLOAD_COMPLETE },
        },
        ...failures,
      },
    },
  },
  '/files/{id}': {
    options: { ...discovery, parameters: [uploadId] },
    head: {
      summary: 'Where an upload stands: its offset (the client resumes from there), length and state',
      tags: ['resumable uploads'],
      security: bearer,
      parameters: [uploadId, ...protocolHeaders],
      responses: {
        '200': {
          description: `${TUS}: the offset`,
          headers: {
            'Upload-Offset': UPLOAD_OFFSET,
            'Upload-Length': responseHeader('the size, once known', integer),
            'Upload-Defer-Length': responseHeader('`1` while the size is not known'),
            'Upload-Metadata': responseHeader('as given at creation'),
            'Upload-Concat': responseHeader('`partial` or `final;…`'),
            'Upload-Expires': UPLOAD_EXPIRES,
            'Tus-Resumable': TUS_RESUMABLE,
            'Cache-Control': responseHeader('no-store'),
          },
        },
        '204': {
          description: `${IETF}: the offset and whether the upload is complete`,
          headers: { 'Upload-Offset': UPLOAD_OFFSET, 'Upload-Complete': UPLOAD_COMPLETE, 'Upload-Length': responseHeader('the size, once known', integer), 'Upload-Limit': UPLOAD_LIMIT },
        },
        ...failures,
      },
    },
    patch: {
      summary: 'Append bytes at Upload-Offset (tus core, checksum, defer-length; IETF upload append)',
      tags: ['resumable uploads'],
      security: bearer,
      parameters: [
        uploadId,
        ...protocolHeaders,
        { ...header('Upload-Offset', 'where these bytes start: the offset the server last reported', integer), required: true },
        header('Upload-Checksum', `${TUS}: \`sha1 <base64 digest>\` or \`sha256 <base64 digest>\` of this request's bytes (460 when they differ)`),
        header('Upload-Length', 'the size, when it was deferred and is known now'),
        ...completeHeaders,
      ],
      requestBody: {
        required: true,
        description: `the bytes; ${TUS}: application/offset+octet-stream, ${IETF}: application/partial-upload from interop 6 on`,
        content: { 'application/offset+octet-stream': { schema: bytes }, 'application/partial-upload': { schema: bytes }, '*/*': { schema: bytes } },
      },
      responses: {
        '204': {
          description: 'appended; Upload-Offset is the new offset',
          headers: { 'Upload-Offset': UPLOAD_OFFSET, 'Upload-Expires': UPLOAD_EXPIRES, 'Tus-Resumable': TUS_RESUMABLE, 'Upload-Complete': UPLOAD_COMPLETE },
        },
        ...failures,
      },
    },
    delete: {
      summary: 'Give up an upload (tus termination; IETF upload cancellation): its bytes are deleted',
      tags: ['resumable uploads'],
      security: bearer,
      parameters: [uploadId, ...protocolHeaders],
      responses: { '204': { description: 'deleted', headers: { 'Tus-Resumable': TUS_RESUMABLE } }, ...failures },
    },
  },
};
