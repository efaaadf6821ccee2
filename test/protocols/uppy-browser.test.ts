/**
 * Uppy with @uppy/tus in headless Chromium (Debian's package, never a download), on a
 * page served from another loopback origin than Trickle, so every tus request goes
 * through CORS (preflights, exposed Location/Upload-Offset). Skips when Chromium is missing.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { databaseKinds } from '../helpers/databases.js';
import { newUser, randomFile, request, sha1 } from '../helpers/client.js';
import { startServer } from '../helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';

/** What browser/uppy-page.js puts on the page's window. */
interface PageApi {
  uploadWithUppy(endpoint: string, token: string, base64: string, name: string): Promise<{ uploadURL: string | undefined; progress: number[] }>;
}
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (Debian package chromium)`;

async function servePage(script: string): Promise<{ server: Server; origin: string }> {
  const html = '<!doctype html><meta charset="utf-8"><title>Uppy</title><script src="/uppy.js"></script>';
  const server = createServer((req, res) => {
    if (req.url === '/uppy.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    else res.writeHead(200, { 'content-type': 'text/html' }).end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

test('Uppy (@uppy/tus) in Chromium uploads from another origin; the upload is a complete attachment', { skip, timeout: 120_000 }, async () => {
  const bundle = await build({ entryPoints: [path.join(import.meta.dirname, 'browser', 'uppy-page.js')], bundle: true, platform: 'browser', format: 'iife', write: false, logLevel: 'silent' });
  const page = await servePage(bundle.outputFiles[0]!.text);
  const trickle = await startServer(databaseKinds()[0]!, { corsOrigins: [page.origin] });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  try {
    const { token } = await newUser(trickle.url, 'uppy');
    const tab = await browser.newPage();
    const failures: string[] = [];
    tab.on('requestfailed', (r) => failures.push(`${r.method()} ${r.url()} ${r.failure()?.errorText}`));
    await tab.goto(page.origin);
    const file = randomFile(900_000);
    const result = await tab.evaluate(
      ([endpoint, bearer, data]) => (globalThis as unknown as PageApi).uploadWithUppy(endpoint, bearer, data, 'browser take.wav'),
      [`${trickle.url}/files/`, token, file.toString('base64')] as const,
    );
    assert.deepEqual(failures, []);
    assert.match(result.uploadURL ?? '', /\/files\/\d+$/);
    assert.ok(result.progress.length > 1, 'progress events');
    const id = Number(result.uploadURL!.split('/').pop());
    const attachment = (await request(trickle.url, 'GET', `/attachments/${id}`, { token })).json.body.attachment;
    assert.equal(attachment.state, 'complete');
    assert.equal(attachment.sha1, sha1(file));
    assert.equal(attachment.filename, 'browser take.wav');
    // Cross-origin tus needs preflights (Authorization, Tus-Resumable): the server answered them.
    const metrics = (await request(trickle.url, 'GET', '/metrics')).text;
    assert.match(metrics, /method="OPTIONS"[^\n]*status="204"/, 'the browser sent CORS preflights');
  } finally {
    await browser.close();
    await trickle.close();
    await new Promise((resolve) => page.server.close(resolve));
  }
});
