/**
 * The web app: its page at `/`, its files under `/app/`: the plain ES modules and styles in
 * web/, the SDK's portable modules as the build made them (dist/client/, at /app/client/), and
 * the one library they import (@noble/hashes, at /app/vendor/). The page's import map names
 * the last two, so browsers load modules as they are, with no bundler in the build. Nothing
 * here shadows an API route: `/` and `/app/*` are the only paths it answers.
 */
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The same from src/http (tsx) and dist/http (built). */
const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
const CLIENT_DIR = fileURLToPath(new URL('../../dist/client/', import.meta.url));
const HASHES_DIR = path.dirname(createRequire(import.meta.url).resolve('@noble/hashes/legacy.js')) + path.sep;

/** The CSP hash of the page's inline import map, the one inline script it may run. */
function importMapHash(): string {
  const map = /<script type="importmap">([\s\S]*?)<\/script>/.exec(readFileSync(path.join(WEB_DIR, 'index.html'), 'utf8'));
  if (!map) throw new Error('web/index.html has no import map');
  return `'sha256-${createHash('sha256').update(map[1]!).digest('base64')}'`;
}

/**
 * Only this origin's scripts (and the import map), styles and API; audio from here or from
 * blob: URLs (messages are fetched with the token, then played from memory); no framing.
 */
function contentSecurityPolicy(): string {
  return [
    "default-src 'self'",
    `script-src 'self' ${importMapHash()}`,
    "style-src 'self'",
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
  const policy = contentSecurityPolicy();
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
  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.sendFile('index.html', WEB_DIR));
  app.addHook('onReady', async () => {
    if (!existsSync(path.join(CLIENT_DIR, 'index.js'))) app.log.warn(`the web app needs the SDK's modules in ${CLIENT_DIR}: run npm run build`);
  });
}
