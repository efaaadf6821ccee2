/**
 * The peer: @tus/server with its FileStore, the usual way to receive resumable uploads
 * in Node, configured as its documentation shows and nothing more. It runs as its own
 * process (tus-server.ts) and is compiled on its own (build.ts).
 *
 *   GET    /healthz           200
 *   POST   /files             creates an upload (Upload-Length); Location names it
 *   PATCH  /files/<id>        appends the body at Upload-Offset
 *
 * The FileStore writes each upload to DATA_DIR/files/<id> (metadata beside it in
 * <id>.json) and never fsyncs, so it is compared with the no-sync variants only.
 */
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';
import http from 'node:http';
import path from 'node:path';

const port = Number(process.env.PORT ?? 0);
const host = process.env.HOST ?? '127.0.0.1';
const directory = path.join(process.env.DATA_DIR ?? '.', 'files');

const tus = new Server({ path: '/files', datastore: new FileStore({ directory }) });

const server = http.createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/healthz') {
    response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    return;
  }
  tus.handle(request, response).catch((error: unknown) => {
    if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
    else response.destroy();
  });
});
server.listen(port, host);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
