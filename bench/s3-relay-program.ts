/**
 * The object-storage floor for `npm run bench:s3`: the least a Node server can do to put a
 * client's chunk into S3 and answer once it is stored. No framework, no database, no scratch
 * copy, no hashing: each request's body is streamed into one PutObject of its declared length
 * (the same SDK and settings Trickle uses), and the reply waits for the store's answer. It
 * runs as its own process, so it competes for the CPU with the S3 server as Trickle does.
 *
 *   GET /healthz    200
 *   PUT /piece      stores the body (Content-Length required) as a new object, answers 200 { key }
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

const port = Number(process.env.PORT ?? 0);
const bucket = process.env.S3_BUCKET ?? '';
const prefix = process.env.S3_PREFIX ?? 'bench-relay';
const client = new S3Client({
  endpoint: process.env.S3_ENDPOINT,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? '' },
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
  expectContinueHeader: false,
  // A live request body cannot be sent twice.
  maxAttempts: 1,
});

function reply(response: http.ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

async function handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (request.method === 'GET' && url.pathname === '/healthz') return reply(response, 200, { status: 'ok' });
  if (url.pathname === '/piece' && request.method === 'DELETE') {
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: url.searchParams.get('key') ?? '' }));
    return reply(response, 200, {});
  }
  if (url.pathname !== '/piece' || request.method !== 'PUT') return reply(response, 404, { error: 'not found' });
  const length = Number(request.headers['content-length']);
  if (!Number.isSafeInteger(length) || length < 1) return reply(response, 411, { error: 'content-length required' });
  const key = `${prefix}/${randomUUID()}`;
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: request, ContentLength: length }));
  reply(response, 200, { key });
}

const server = http.createServer((request, response) => {
  handle(request, response).catch((error: unknown) => {
    if (!response.headersSent) reply(response, 500, { error: String(error) });
    else response.destroy();
  });
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
