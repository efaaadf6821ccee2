/**
 * The web app's files as the server sends them: the page names every module its first view
 * imports as a modulepreload (one round of requests on a phone's link, not one an import
 * depth), its stylesheet comes inline under a CSP hash, text is
 * gzip-compressed for browsers that take it and revalidates with a weak ETag, the service
 * worker may serve the whole origin, the files come again under /app/retry/N/ (where the
 * page's bootstrap looks after a load the link cut), and the CSP stays strict.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { get, type IncomingHttpHeaders } from 'node:http';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { pageModules } from '../../src/http/web.js';
import { databaseKinds } from '../helpers/databases.js';
import { startServer, type TestServer } from '../helpers/server.js';

/**
 * A GET as a browser sends it, seen as it comes off the wire: node's fetch would decompress by
 * itself, and adds Cache-Control: no-cache to conditional requests.
 */
function raw(url: string, headers: Record<string, string>): Promise<{ headers: IncomingHttpHeaders; body: Buffer; status: number }> {
  return new Promise((resolve, reject) => {
    get(url, { headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ headers: response.headers, body: Buffer.concat(chunks), status: response.statusCode ?? 0 }));
    }).on('error', reject);
  });
}

describe('the web app files', () => {
  let server: TestServer;
  before(async () => {
    execFileSync(process.execPath, ['--disable-warning=ExperimentalWarning', path.join(import.meta.dirname, '..', '..', 'scripts', 'build.mjs'), '--if-stale']);
    server = await startServer(databaseKinds()[0]!);
  });
  after(() => server.close());

  test('the page preloads every module it imports, each of which the server serves', async () => {
    const modules = pageModules();
    for (const name of ['/app/app.js', '/app/player.js', '/app/client/api.js', '/app/client/errors.js', '/app/client/renditions.js']) assert.ok(modules.includes(name), `${name} is in the graph`);
    for (const name of ['/app/sw.js', '/app/client/index.js', '/app/recorder.js', '/app/vendor/@noble/hashes/legacy.js']) assert.ok(!modules.includes(name), `${name} is not preloaded: the service worker, or what the page imports after the first view`);
    const page = await fetch(`${server.url}/`);
    const html = await page.text();
    const preloaded = [...html.matchAll(/<link rel="modulepreload" href="([^"]+)">/g)].map((m) => m[1]);
    assert.deepEqual(preloaded, modules);
    const policy = page.headers.get('content-security-policy') ?? '';
    // The inline scripts (the import map, the bootstrap) are allowed by their hashes alone.
    const inlineScripts = [...html.matchAll(/<script(?![^>]*\ssrc=)[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    assert.equal(inlineScripts.length, 2);
    const hashes = inlineScripts.map((code) => `'sha256-${createHash('sha256').update(code).digest('base64')}'`);
    assert.ok(policy.includes(`script-src 'self' ${hashes.join(' ')};`), policy);
    // The stylesheet comes inline, allowed by its hash alone.
    const inline = /<style>([\s\S]*)<\/style>/.exec(html)![1]!;
    assert.equal(inline, readFileSync(path.join(import.meta.dirname, '..', '..', 'web', 'style.css'), 'utf8'));
    assert.ok(policy.includes(`style-src 'self' 'sha256-${createHash('sha256').update(inline).digest('base64')}';`), policy);
    assert.doesNotMatch(page.headers.get('content-security-policy') ?? '', /unsafe/);
    for (const url of modules) {
      const reply = await fetch(`${server.url}${url}`);
      assert.equal(reply.status, 200, url);
      assert.match(reply.headers.get('content-type') ?? '', /javascript/, url);
      await reply.arrayBuffer();
    }
  });

  test('after a load the link cut, the page finds every file again under /app/retry/N/, and nothing else there', async () => {
    for (const url of ['/app/app.js', '/app/style.css', '/app/client/api.js', '/app/vendor/@noble/hashes/legacy.js']) {
      const first = await fetch(`${server.url}${url}`);
      const again = await fetch(`${server.url}${url.replace('/app/', '/app/retry/3/')}`);
      assert.equal(again.status, 200, url);
      assert.equal(again.headers.get('content-type'), first.headers.get('content-type'), url);
      assert.equal(again.headers.get('content-security-policy'), first.headers.get('content-security-policy'), url);
      assert.ok(Buffer.from(await again.arrayBuffer()).equals(Buffer.from(await first.arrayBuffer())), url);
    }
    // A number, once; only modules from the SDK and the library; nothing outside them.
    for (const url of ['/app/retry/x/app.js', '/app/retry/3/retry/4/app.js', '/app/retry/3/client/index.d.ts', '/app/retry/3/vendor/@noble/hashes/package.json', '/app/retry/3/../../package.json', '/app/retry/3/nothing.js']) {
      const reply = await fetch(`${server.url}${url}`);
      assert.equal(reply.status, 404, url);
      await reply.arrayBuffer();
    }
  });

  test('scripts, styles and the page are gzip-compressed when accepted, revalidate with a weak ETag, and are plain otherwise', async () => {
    for (const url of ['/app/app.js', '/app/style.css', '/app/client/upload.js', '/']) {
      const plain = await fetch(`${server.url}${url}`, { headers: { 'accept-encoding': 'identity' } });
      const bytes = Buffer.from(await plain.arrayBuffer());
      assert.equal(plain.headers.get('content-encoding'), null, url);
      const zipped = await raw(`${server.url}${url}`, { 'accept-encoding': 'gzip, deflate, br' });
      assert.equal(zipped.headers['content-encoding'], 'gzip', url);
      assert.ok(zipped.body.length < bytes.length / 2, `${url}: ${zipped.body.length} of ${bytes.length} bytes`);
      assert.ok(gunzipSync(zipped.body).equals(bytes), `${url} decompresses to the file`);
      if (url === '/') continue;
      const etag = String(zipped.headers.etag);
      assert.match(etag, /^W\//);
      assert.equal((await raw(`${server.url}${url}`, { 'accept-encoding': 'gzip', 'if-none-match': etag })).status, 304, url);
    }
    const sw = await fetch(`${server.url}/app/sw.js`);
    assert.equal(sw.headers.get('service-worker-allowed'), '/');
    await sw.arrayBuffer();
  });
});
