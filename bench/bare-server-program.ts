/**
 * The baseline: the least a Node server can do to receive a chunked upload.
 * No framework, no database, no hashing: each chunk's body goes straight to its
 * offset in a preallocated file. It runs as its own process (bare-server.ts) and
 * is compiled on its own (build.ts), so it imports node: modules only.
 *
 *   GET  /healthz               200
 *   POST /upload?size=N[&id=K]    (re)creates upload K's file (upload-K.bin, K = 0 by default), N bytes long
 *   PUT  /upload?offset=N[&id=K]  writes the body at offset N of upload K, then fdatasync if DURABLE=true
 *
 * With RECORD=true it is the floor of what Trickle promises instead (the "floor" variant): it
 * also hashes each body with SHA1 as it arrives (a running hash per upload; the bench sends an
 * upload's chunks in order) and, once the bytes are synced, records the chunk in a SQLite
 * database in WAL mode (node:sqlite), one commit per chunk, synchronous=FULL when DURABLE=true,
 * so that data and record survive a power cut, as a 2xx from Trickle means.
 */
import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';

const port = Number(process.env.PORT ?? 0);
const host = process.env.HOST ?? '127.0.0.1';
const durable = process.env.DURABLE === 'true';
const dataDir = process.env.DATA_DIR ?? '.';
const record = process.env.RECORD === 'true';

/** The floor's record of each upload and the running SHA1 of each. */
const database = record ? openRecord() : null;
const hashes = new Map<number, Hash>();

function openRecord() {
  const db = new DatabaseSync(path.join(dataDir, 'record.db'));
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${durable ? 'FULL' : 'NORMAL'};`);
  db.exec('CREATE TABLE uploads (id INTEGER PRIMARY KEY, size INTEGER NOT NULL, received INTEGER NOT NULL)');
  return {
    create: db.prepare('INSERT OR REPLACE INTO uploads (id, size, received) VALUES (?, ?, 0)'),
    received: db.prepare('UPDATE uploads SET received = received + ? WHERE id = ?'),
  };
}

/** Many clients at once each have an upload of their own. */
const uploadPath = (id: number) => path.join(dataDir, `upload-${id}.bin`);

function reply(response: http.ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

function integerParam(url: URL, name: string): number | null {
  const raw = url.searchParams.get(name);
  return raw !== null && /^[0-9]{1,15}$/.test(raw) ? Number(raw) : null;
}

async function create(id: number, size: number): Promise<void> {
  const file = await open(uploadPath(id), 'w');
  try {
    await file.truncate(size);
  } finally {
    await file.close();
  }
  database?.create.run(id, size);
  if (database) hashes.set(id, createHash('sha1'));
}

/** Positional writes, one per piece the socket delivers: what Trickle does too, minus everything else. */
async function writeChunk(request: http.IncomingMessage, id: number, offset: number): Promise<number> {
  const file = await open(uploadPath(id), 'r+');
  const hash = hashes.get(id);
  try {
    let position = offset;
    for await (const piece of request as AsyncIterable<Buffer>) {
      hash?.update(piece);
      let done = 0;
      while (done < piece.length) done += (await file.write(piece, done, piece.length - done, position + done)).bytesWritten;
      position += piece.length;
    }
    if (durable) await file.datasync();
    // Recorded only once the bytes are durable.
    database?.received.run(position - offset, id);
    return position - offset;
  } finally {
    await file.close();
  }
}

async function handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (request.method === 'GET' && url.pathname === '/healthz') return reply(response, 200, { status: 'ok' });
  if (url.pathname !== '/upload') return reply(response, 404, { error: 'not found' });
  const id = url.searchParams.has('id') ? integerParam(url, 'id') : 0;
  if (id === null) return reply(response, 400, { error: 'bad id' });
  if (request.method === 'POST') {
    const size = integerParam(url, 'size');
    if (size === null) return reply(response, 400, { error: 'size required' });
    request.resume();
    await create(id, size);
    return reply(response, 201, { size });
  }
  if (request.method === 'PUT') {
    const offset = integerParam(url, 'offset');
    if (offset === null) return reply(response, 400, { error: 'offset required' });
    return reply(response, 200, { written: await writeChunk(request, id, offset) });
  }
  reply(response, 405, { error: 'method not allowed' });
}

const server = http.createServer((request, response) => {
  handle(request, response).catch((error: unknown) => {
    if (!response.headersSent) reply(response, 500, { error: String(error) });
    else response.destroy();
  });
});
server.listen(port, host);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
