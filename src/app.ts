/**
 * The application as a Fastify plugin: the HTTP layer over the services the composition root
 * built (src/compose.ts). Framework plugins load first (the OpenAPI route, rate limits, body parsers),
 * then the routes. Every hook, parser and handler here is scoped to this plugin;
 * src/build-app.ts registers it on a Fastify instance made with serverOptions().
 */
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { sql } from 'kysely';
import type { Services } from './compose.js';
import type { Config } from './config.js';
import { ApiError } from './domain/errors.js';
import { clientErrorHandler } from './http/client-errors.js';
import { rejectBodyCodings } from './http/codings.js';
import { registerCors } from './http/cors.js';
import type { Drain } from './http/drain.js';
import { registerErrorHandler } from './http/error-handler.js';
import { schemaController } from './http/lazy-schemas.js';
import { registerNotFound } from './http/method-not-allowed.js';
import { registerMetricsRoute, registerRequestMetrics, type PrometheusMetrics } from './http/metrics.js';
import { registerOpenApiRoute } from './http/openapi-route.js';
import { parseQueryString, parseUrlQuery, rejectMalformedQuery } from './http/params.js';
import { resumableUploadRoutes } from './http/protocols/index.js';
import { attachmentRoutes } from './http/routes/attachments.js';
import { blockRoutes } from './http/routes/blocks.js';
import { clipRoutes } from './http/routes/clips.js';
import { healthRoutes } from './http/routes/health.js';
import { messageRoutes } from './http/routes/messages.js';
import { userRoutes } from './http/routes/users.js';
import { webRoutes } from './http/web.js';

export interface AppOptions {
  config: Config;
  services: Services;
  metrics: PrometheusMetrics;
  /** Tracks running handlers, so shutdown closes the adapters only after the last one. */
  drain: Drain;
}

/** Largest non-file request body (JSON, urlencoded) and multipart field. */
const FORM_BODY_LIMIT = 1024 * 1024;

/** A hop count means: trust that many proxies nearest to the server. */
function trustProxy(setting: Config['trustProxy']): boolean | string | ((address: string, hop: number) => boolean) {
  return typeof setting === 'number' ? (_address, hop) => hop < setting : setting;
}

/** The Fastify instance's own options: timeouts, limits, proxies, the router, the logger given. */
export function serverOptions(config: Config, logger: FastifyServerOptions['logger']): FastifyServerOptions {
  return {
    logger,
    // One line per request, written by the metrics hook when the answer is done.
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { querystringParser: (text) => parseUrlQuery(text), maxParamLength: 100 },
    bodyLimit: FORM_BODY_LIMIT,
    // A stalled upload frees its socket after this long without a byte.
    connectionTimeout: config.uploadIdleTimeoutSeconds * 1000,
    requestTimeout: 0,
    return503OnClosing: true,
    clientErrorHandler,
    // Behind a reverse proxy, rate limits and logs see the client's address from X-Forwarded-For.
    trustProxy: trustProxy(config.trustProxy),
    // Parameters are merged from query, form, multipart and JSON before they are checked
    // (http/params.ts decodeParams), so Fastify validates nothing; the route schemas document
    // the API and shape the replies, through serializers built on first use.
    schemaController,
  };
}

export async function app(http: FastifyInstance, options: AppOptions): Promise<void> {
  const { config, services, metrics, drain } = options;
  const { users, store, media } = services;
  drain.register(http);
  registerErrorHandler(http);
  registerRequestMetrics(http, metrics);
  http.addHook('onRequest', async (request) => {
    rejectMalformedQuery(request.query);
    rejectBodyCodings(request);
  });
  registerNotFound(http);

  registerOpenApiRoute(http);
  await http.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) =>
      new ApiError('rate_limited', `Too many requests; try again in ${Math.ceil(context.ttl / 1000)} s.`, { retry_after: Math.ceil(context.ttl / 1000) }),
  });
  await http.register(formbody, { parser: (text) => parseQueryString(text), bodyLimit: FORM_BODY_LIMIT });
  await http.register(multipart, {
    limits: {
      fieldNameSize: 200,
      fieldSize: FORM_BODY_LIMIT,
      fields: 100,
      files: 4,
      parts: 110,
      headerPairs: 50,
      fileSize: config.maxAttachmentSize,
    },
    throwFileSizeLimit: true,
  });
  if (config.corsOrigins !== null) await registerCors(http, config.corsOrigins);

  await http.register(healthRoutes, { ping: async () => void (await sql`select 1`.execute(services.database.db)), store });
  // With METRICS_PORT, serve.ts answers /metrics on that port instead.
  if (config.metricsPort === null) registerMetricsRoute(http, metrics, config.metricsToken);
  await http.register(userRoutes, {
    users,
    erasure: services.erasure,
    limits: services.attachments.limits,
    rateLimits: { registration: config.registrationRateLimit, token: config.tokenRateLimit },
  });
  await http.register(blockRoutes, { blocks: services.blocks, users });
  await http.register(attachmentRoutes, { attachments: services.attachments, users, store });
  await http.register(resumableUploadRoutes, { uploads: services.uploads, users });
  await http.register(clipRoutes, { clips: services.clips, users, store, maxFileSize: config.maxAttachmentSize, media });
  await http.register(messageRoutes, { messages: services.messages, users, store, maxFileSize: config.maxAttachmentSize, media });
  await http.register(webRoutes);
}
