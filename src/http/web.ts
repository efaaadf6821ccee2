/**
 * The web app: its page at `/`, its files under `/app/`: the plain ES modules and styles in
 * web/, the SDK's portable modules as the build made them (dist/client/, at /app/client/), and
 * the one library they import (@noble/hashes, at /app/vendor/, named by the page's import map;
 * the page's modules import the SDK's relatively, at ./client/), so browsers load modules as
 * they are, with no bundler in the build. On a
 * phone's link each round trip counts: the page names every module of its first view as a
 * modulepreload (asked for at once, not one import depth after another), carries its
 * stylesheet inline, and scripts, styles and the page go gzip-compressed to browsers that
 * accept it. A link that drops while the page loads does not leave it dead: its bootstrap tries
 * again under /app/retry/N/ (see below). Nothing here shadows an API route: `/` and `/app/*`
 * are the only paths it answers.
 */
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The same from src/http (tsx) and dist/http (built). */
const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
const CLIENT_DIR = fileURLToPath(new URL('../../dist/client/', import.meta.url));
const HASHES_DIR = path.dirname(createRequire(import.meta.url).resolve('@noble/hashes/legacy.js')) + path.sep;

/** Where a URL under /app/ is on disk (its directory and its path there), or null for what the page does not serve. */
function placeOf(url: string): { root: string; file: string } | null {
  if (url.startsWith('/app/client/')) return { root: CLIENT_DIR, file: url.slice('/app/client/'.length) };
  if (url.startsWith('/app/vendor/@noble/hashes/')) return { root: HASHES_DIR, file: url.slice('/app/vendor/@noble/hashes/'.length) };
  return url.startsWith('/app/') ? { root: WEB_DIR, file: url.slice('/app/'.length) } : null;
}

function fileOf(url: string): string | null {
  const place = placeOf(url);
  return place && path.join(place.root, place.file);
}

/** A module specifier, as the page's import map and the browser resolve it from `from`. */
function resolveModule(specifier: string, from: string): string {
  if (specifier.startsWith('@noble/hashes/')) return `/app/vendor/${specifier}`;
  return new URL(specifier, `http://page${from}`).pathname;
}

/**
 * Every module the page imports statically, from /app/app.js on, by URL (read from the files
 * as they are now). What the page imports later (the uploader, the recorder) is not preloaded.
 */
export function pageModules(): string[] {
  const found = new Set<string>();
  const visit = (url: string) => {
    if (found.has(url)) return;
    const file = fileOf(url);
    if (!file || !existsSync(file)) return;
    found.add(url);
    const code = readFileSync(file, 'utf8');
    for (const match of code.matchAll(/^\s*(?:import|export)\s(?:[^'"]*?\sfrom\s*)?['"]([^'"]+)['"]/gm)) visit(resolveModule(match[1]!, url));
  };
  visit('/app/app.js');
  return [...found];
}

/**
 * The page as sent: its stylesheet inline (one round trip less before the first paint; the
 * CSP names its hash), and a modulepreload link for each of its modules after the import map.
 */
function pageHtml(styles: string): string {
  const html = readFileSync(path.join(WEB_DIR, 'index.html'), 'utf8');
  const links = pageModules().map((url) => `<link rel="modulepreload" href="${url}">`).join('\n  ');
  return html.replace(STYLESHEET_LINK, () => `<style>${styles}</style>`).replace('<script type="module"', `${links}\n  <script type="module"`);
}

const STYLESHEET_LINK = '<link rel="stylesheet" href="/app/style.css">';

const cspHash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** Text the page loads, worth compressing (audio, images and JSON from the API are not ours). */
const COMPRESSIBLE = /^(text\/html|text\/css|text\/javascript|application\/javascript)/;

/**
 * gzip for the web app's own text, when the browser takes it. The ETag becomes weak (the
 * bytes differ from the file's), which still answers If-None-Match with 304.
 */
async function compress(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  if (reply.statusCode !== 200 || reply.getHeader('content-encoding') || !/\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''))) return payload;
  if (!COMPRESSIBLE.test(String(reply.getHeader('content-type') ?? ''))) return payload;
  const etag = reply.getHeader('etag');
  if (typeof etag === 'string' && !etag.startsWith('W/')) reply.header('etag', `W/${etag}`);
  reply.header('content-encoding', 'gzip');
  reply.header('vary', 'accept-encoding');
  reply.removeHeader('content-length');
  reply.removeHeader('accept-ranges');
  const source = typeof payload === 'string' || Buffer.isBuffer(payload) ? Readable.from([payload]) : (payload as Readable);
  return source.pipe(createGzip());
}

/**
 * The CSP hashes of the page's inline scripts, the only ones it may run: the import map, and
 * the bootstrap that imports the app's entry (and tries again when the link drops meanwhile).
 */
function inlineScriptHashes(): string[] {
  const html = readFileSync(path.join(WEB_DIR, 'index.html'), 'utf8');
  const scripts = [...html.matchAll(/<script(?![^>]*\ssrc=)[^>]*>([\s\S]*?)<\/script>/g)].map((match) => match[1]!);
  if (!html.includes('<script type="importmap">') || !html.includes('<script type="module">') || !html.includes(STYLESHEET_LINK)) {
    throw new Error('web/index.html has no import map, no module bootstrap, or no stylesheet link');
  }
  return scripts.map(cspHash);
}

/**
 * Only this origin's scripts (and the page's inline import map and bootstrap), styles (and the page's inline stylesheet)
 * and API; audio from here or from blob: URLs (where no service worker adds the token, a
 * message is fetched with it and played from memory); no framing.
 */
function contentSecurityPolicy(styles: string): string {
  return [
    "default-src 'self'",
    `script-src 'self' ${inlineScriptHashes().join(' ')}`,
    `style-src 'self' ${cspHash(styles)}`,
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export async function webRoutes(app: FastifyInstance): Promise<void> {
  const styles = readFileSync(path.join(WEB_DIR, 'style.css'), 'utf8');
  const policy = contentSecurityPolicy(styles);
  const files = (root: string, prefix: string, decorateReply: boolean, allowedPath?: (pathName: string) => boolean) =>
    app.register(fastifyStatic, {
      root,
      prefix,
      decorateReply,
      index: false,
      list: false,
      dotfiles: 'deny',
      ...(allowedPath ? { allowedPath } : {}),
      // A new deployment must reach browsers at once; ETags keep the revalidation cheap.
      cacheControl: true,
      maxAge: 0,
      setHeaders: (reply, filePath) => {
        reply.header('x-content-type-options', 'nosniff');
        reply.header('content-security-policy', policy);
        // The service worker serves the page at / (it adds the token to a message's audio requests).
        if (filePath === path.join(WEB_DIR, 'sw.js')) reply.header('service-worker-allowed', '/');
      },
    });
  await files(WEB_DIR, '/app/', true);
  // Only modules: the build writes nothing else there, and the package's other files are not the page's business.
  await files(CLIENT_DIR, '/app/client/', false, (pathName) => pathName.endsWith('.js'));
  await files(HASHES_DIR, '/app/vendor/@noble/hashes/', false, (pathName) => pathName.endsWith('.js'));
  // The page's files again under /app/retry/N/ (N a number), where the page's bootstrap imports
  // the app after a load the link cut: every module of the graph gets a URL of its own, so a
  // browser that keeps a failed fetch in its module map (the HTML standard did until
  // whatwg/html#10327) fetches it afresh, and the modules stay one graph.
  app.get<{ Params: { generation: string; '*': string } }>('/app/retry/:generation/*', { schema: { hide: true } }, async (request, reply) => {
    const place = /^\d{1,6}$/.test(request.params.generation) ? placeOf(`/app/${request.params['*']}`) : null;
    if (!place || (place.root !== WEB_DIR && !place.file.endsWith('.js'))) return reply.callNotFound();
    return reply.sendFile(place.file, place.root);
  });
  app.addHook('onSend', compress);
  let page: string | null = null;
  app.get('/', { schema: { hide: true } }, async (_request, reply) => {
    page ??= pageHtml(styles);
    return reply.type('text/html; charset=utf-8').header('content-security-policy', policy).header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache').send(page);
  });
  app.addHook('onReady', async () => {
    if (!existsSync(path.join(CLIENT_DIR, 'index.js'))) app.log.warn(`the web app needs the SDK's modules in ${CLIENT_DIR}: run npm run build`);
  });
}
