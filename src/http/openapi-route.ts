/**
 * GET /openapi.json, derived by @fastify/swagger from the route schemas, on its first request
 * rather than at start. Registered on the server, the plugin loads its YAML and JSON Schema
 * resolver packages with it: about 50 ms of every start and a few MiB that most servers never
 * use. Here the server only records its routes as they are added; the first request registers
 * them again, with their schemas, on a Fastify instance of its own that carries the plugin, and
 * keeps the document it derives (the routes never change after start).
 */
import type { SwaggerOptions } from '@fastify/swagger';
import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify';
import { completeOpenApi } from './openapi.js';

const OPTIONS: SwaggerOptions = {
  openapi: {
    info: { title: 'Trickle API', version: '0.1.0', description: 'Resumable, chunked audio uploads. See docs/api.md.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  },
  transformObject: (document) => ('openapiObject' in document ? completeOpenApi(document.openapiObject) : document.swaggerObject),
};

/** Builds the document from the recorded routes, as @fastify/swagger would have on the server. */
async function deriveDocument(routes: readonly RouteOptions[]): Promise<unknown> {
  const { default: swagger } = await import('@fastify/swagger');
  // Fastify's own HEAD twins of GET routes are not recorded (the plugin leaves them out too).
  const mirror = Fastify({ exposeHeadRoutes: false });
  // Only the schemas' text matters here: nothing is validated or serialized.
  mirror.setValidatorCompiler(() => () => true);
  mirror.setSerializerCompiler(() => (data) => JSON.stringify(data));
  await mirror.register(swagger, OPTIONS);
  for (const route of routes) {
    mirror.route({ method: route.method, url: route.url, schema: route.schema, config: route.config, constraints: route.constraints, handler: async () => null });
  }
  await mirror.ready();
  const document = mirror.swagger();
  await mirror.close();
  return document;
}

/** Records every route added after this call, and serves their OpenAPI document. */
export function registerOpenApiRoute(http: FastifyInstance): void {
  const routes: RouteOptions[] = [];
  http.addHook('onRoute', (route) => {
    // @fastify/swagger skips every HEAD route (exposeHeadRoutes is off in its options).
    if (route.method !== 'HEAD') routes.push(route);
  });
  let document: Promise<unknown> | null = null;
  http.get('/openapi.json', { schema: { hide: true } }, async () => {
    document ??= deriveDocument(routes).catch((error: unknown) => {
      document = null; // the next request tries again
      throw error;
    });
    return document;
  });
}
