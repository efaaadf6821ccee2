/**
 * Unknown paths answer 404; known paths with another method answer 405 with Allow.
 * Fastify only knows "no route", so the routes' patterns are collected as they register.
 */
import type { FastifyInstance } from 'fastify';
import { errorEnvelope } from './envelope.js';

export function registerNotFound(app: FastifyInstance): void {
  const patterns: Array<{ regex: RegExp; methods: Set<string> }> = [];
  app.addHook('onRoute', (route) => {
    const source = '^' + route.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z_]+/g, '[^/]+') + '/?$';
    let entry = patterns.find((p) => p.regex.source === source);
    if (!entry) {
      entry = { regex: new RegExp(source), methods: new Set() };
      patterns.push(entry);
    }
    for (const method of [route.method].flat()) entry.methods.add(method);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allowed = new Set<string>();
    for (const pattern of patterns) if (pattern.regex.test(path)) for (const m of pattern.methods) allowed.add(m);
    if (allowed.size > 0) {
      return reply
        .code(405)
        .header('allow', [...allowed].sort().join(', '))
        .send(errorEnvelope('method_not_allowed', `${request.method} is not allowed here; use ${[...allowed].sort().join(', ')}.`));
    }
    return reply.code(404).send(errorEnvelope('not_found', `There is nothing at ${request.method} ${path}.`));
  });
}
