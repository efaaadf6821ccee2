/**
 * The web app: its page at `/`, its files under `/app/`: the plain ES modules and styles in
 * web/, the SDK's portable modules as the build made them (dist/client/, at /app/client/), and
 * the one library they import (@noble/hashes, at /app/vendor/). The page's import map names
 * the last two, so browsers load modules as they are, with no bundler in the build. On a
 * phone's link each round trip counts: the page names every module of its first view as a
 * modulepreload (asked for at once, not one import depth after another), carries its
 * stylesheet inline, and scripts, styles and the page go gzip-compressed to browsers that
 * accept it. Nothing here shadows an API route: `/` and `/app/*` are the only paths it answers.
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

/** Where a URL under /app/ is on disk, or null for what the page does not serve. */
function fileOf(url: string): string | null {
  if (url.startsWith('/app/client/')) return path.join(CLIENT_DIR, url.slice('/app/client/'.length));
  if (url.startsWith('/app/vendor/@noble/hashes/')) return path.join(HASHES_DIR, url.slice('/app/vendor/@noble/hashes/'.length));
  return url.startsWith('/app/') ? path.join(WEB_DIR, url.slice('/app/'.length)) : null;
}

/** A module specifier, as the page's import map and the browser resolve it from `from`. */
function resolveModule(specifier: string, from: string): string {
  if (specifier === 'trickle-audio-client') return '/app/client/index.js';
  if (specifier.startsWith('trickle-audio-client/')) return `/app/client/${specifier.slice('trickle-audio-client/'.length)}`;
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

/** The CSP hash of the page's inline import map, the one inline script it may run. */
function importMapHash(): string {
  const html = readFileSync(path.join(WEB_DIR, 'index.html'), 'utf8');
  const map = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html);
  if (!map || !html.includes(STYLESHEET_LINK)) throw new Error('web/index.html has no import map, or no stylesheet link');
  return cspHash(map[1]!);
}

/**
 * Only this origin's scripts (and the import map), styles (and the page's inline stylesheet)
 * and API; audio from here or from blob: URLs (where no service worker adds the token, a
 * message is fetched with it and played from memory); no framing.
 */
function contentSecurityPolicy(styles: string): string {
  return [
    "default-src 'self'",
    `script-src 'self' ${importMapHash()}`,
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
