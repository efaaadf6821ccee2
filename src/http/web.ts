/**
 * The web app: its page at `/`, its files under `/app/` (the plain ES modules and styles in
 * web/, and the SDK bundled for browsers in dist/web/ by the build). Nothing here shadows an
 * API route: `/` and `/app/*` are the only paths it answers.
 */
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { errorEnvelope } from './envelope.js';

/** The same from src/http (tsx) and dist/http (compiled). */
const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
const BUNDLE_DIR = fileURLToPath(new URL('../../dist/web/', import.meta.url));
const BUNDLE = 'trickle-client.js';

/**
 * Only this origin's scripts, styles and API; audio from here or from blob: URLs (messages
 * are fetched with the token, then played from memory); no framing.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export async function webRoutes(app: FastifyInstance): Promise<void> {
  await app.register(fastifyStatic, {
    root: [WEB_DIR, BUNDLE_DIR],
    prefix: '/app/',
    index: false,
    list: false,
    dotfiles: 'deny',
    // A new deployment must reach browsers at once; ETags keep the revalidation cheap.
    cacheControl: true,
    maxAge: 0,
    setHeaders: (reply) => {
      reply.header('x-content-type-options', 'nosniff');
      reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    },
  });
  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.sendFile('index.html', WEB_DIR));
  app.addHook('onReady', async () => {
    if (!existsSync(BUNDLE_DIR + BUNDLE)) app.log.warn(`the web app needs ${BUNDLE_DIR}${BUNDLE}: run npm run build`);
  });
  // The bundle is built, not committed: say so instead of a bare 404.
  app.get(`/app/${BUNDLE}`, { schema: { hide: true } }, async (_request, reply) => {
    if (existsSync(BUNDLE_DIR + BUNDLE)) return reply.sendFile(BUNDLE, BUNDLE_DIR);
    return reply.code(404).send(errorEnvelope('not_found', 'The web client is not built yet: run npm run build.'));
  });
}
