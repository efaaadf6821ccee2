/**
 * GET /metrics in Prometheus text format (SPEC 6), on the API's port or a port of its own,
 * open or behind a bearer token; and one log line per request.
 * Application metrics live in a registry per app (tests run several apps in one process);
 * process metrics (CPU, memory, event loop, GC) are collected once per process.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ApiError } from '../domain/errors.js';
import type { Metrics } from '../domain/metrics.js';

let processRegistry: Registry | null = null;

function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** The Prometheus side of the domain's Metrics port, plus the HTTP request metrics. */
export class PrometheusMetrics implements Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'trickle_http_requests_total',
    help: 'HTTP requests answered, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: 'trickle_http_request_duration_seconds',
    help: 'Time from the request to the end of the answer, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly receivedBytes = new Counter({
    name: 'trickle_http_received_bytes_total',
    help: 'Bytes read from clients (request lines, headers and bodies)',
    registers: [this.registry],
  });
  private readonly chunksAccepted = new Counter({
    name: 'trickle_chunks_accepted_total',
    help: 'Chunks recorded',
    registers: [this.registry],
  });
  private readonly chunksRejected = new Counter({
    name: 'trickle_chunks_rejected_total',
    help: 'Chunks refused, by the error name of the answer',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly attachmentsCompleted = new Counter({
    name: 'trickle_attachments_completed_total',
    help: 'Attachments that received their last byte',
    registers: [this.registry],
  });
  private readonly chunkRequestsInFlight = new Gauge({
    name: 'trickle_chunk_requests_in_flight',
    help: 'Chunk requests (REST chunks, tus PATCHes, IETF appends) being received right now',
    registers: [this.registry],
  });
  /** The same count under its first name, which said uploads; kept for dashboards that use it. */
  private readonly deprecatedUploadsInFlight = new Gauge({
    name: 'trickle_uploads_in_flight',
    help: 'Deprecated: trickle_chunk_requests_in_flight under its old name (it counts chunk requests, not uploads)',
    registers: [this.registry],
  });
  private readonly logLinesLost = new Counter({
    name: 'trickle_log_lines_dropped_total',
    help: 'Log lines that could not be written (the log\'s disk full, its reader gone or too slow) and were dropped',
    registers: [this.registry],
  });
  private readonly mediaJobs = new Gauge({
    name: 'trickle_media_jobs',
    help: 'Media processing jobs, by state',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });
  private readonly imageResizes = new Counter({
    name: 'trickle_image_resizes_total',
    help: 'Images resized (sizes and masters made), by what they were made from: original or master',
    labelNames: ['from'] as const,
    registers: [this.registry],
  });
  private readonly imageSizesDeclined = new Counter({
    name: 'trickle_image_sizes_declined_total',
    help: 'Sizes asked for with image_size_hint and not made, by reason: sizes_per_image, per_request, rate, busy, unreadable',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly orphansKept = new Gauge({
    name: 'trickle_orphans_kept',
    help: 'Stored files no record names that the last orphan sweep kept: written while the database was not watching (restored from a backup?)',
    registers: [this.registry],
  });

  chunkAccepted(): void {
    this.chunksAccepted.inc();
  }

  chunkRejected(reason: string): void {
    this.chunksRejected.inc({ reason });
  }

  attachmentCompleted(): void {
    this.attachmentsCompleted.inc();
  }

  chunkRequestStarted(): () => void {
    this.chunkRequestsInFlight.inc();
    this.deprecatedUploadsInFlight.inc();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.chunkRequestsInFlight.dec();
      this.deprecatedUploadsInFlight.dec();
    };
  }

  logLinesDropped(lines: number): void {
    this.logLinesLost.inc(lines);
  }

  setMediaJobs(state: string, count: number): void {
    this.mediaJobs.set({ state }, count);
  }

  imageResized(from: 'original' | 'master'): void {
    this.imageResizes.inc({ from });
  }

  imageSizeDeclined(reason: string): void {
    this.imageSizesDeclined.inc({ reason });
  }

  setOrphansKept(count: number): void {
    this.orphansKept.set(count);
  }

  async exposition(): Promise<string> {
    return (await this.registry.metrics()) + (await processMetrics().metrics());
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

const startedAt = new WeakMap<FastifyRequest, bigint>();
/** Socket byte counts already attributed to earlier requests on the same connection. */
const counted = new WeakMap<Socket, { read: number; written: number }>();

/** Bytes read and written on the request's connection since the previous request ended there. */
function bytesSinceLastRequest(socket: Socket | undefined): { bytesIn: number; bytesOut: number } {
  if (!socket) return { bytesIn: 0, bytesOut: 0 };
  const before = counted.get(socket) ?? { read: 0, written: 0 };
  const now = { read: socket.bytesRead, written: socket.bytesWritten };
  counted.set(socket, now);
  return { bytesIn: Math.max(0, now.read - before.read), bytesOut: Math.max(0, now.written - before.written) };
}

/** The route pattern, not the URL: ids would make a label per attachment. */
function routeOf(request: FastifyRequest): string {
  return request.routeOptions.url ?? 'unmatched';
}

/**
 * Counts and times every request and logs it once, when its answer is done, with the route,
 * status, bytes and duration. Only the path is logged: headers (Authorization) and query
 * strings stay out of the logs.
 */
export function registerRequestMetrics(http: FastifyInstance, metrics: PrometheusMetrics): void {
  // Callback hooks, not async ones: they run on every request, and a promise each costs more than they do.
  http.addHook('onRequest', (request, _reply, done) => {
    startedAt.set(request, process.hrtime.bigint());
    done();
  });
  http.addHook('onResponse', (request, reply, done) => {
    const started = startedAt.get(request);
    if (started !== undefined) recordRequest(metrics, request, reply, Number(process.hrtime.bigint() - started) / 1e9);
    done();
  });
}

/** Logger levels at which a request's line is written. */
const LOGS_INFO = new Set(['trace', 'debug', 'info']);

function recordRequest(metrics: PrometheusMetrics, request: FastifyRequest, reply: FastifyReply, seconds: number): void {
  const { bytesIn, bytesOut } = bytesSinceLastRequest(request.raw.socket);
  const labels = { method: request.method, route: routeOf(request), status: String(reply.statusCode) };
  metrics.requests.inc(labels);
  metrics.requestDuration.observe(labels, seconds);
  metrics.receivedBytes.inc(bytesIn);
  // The line is built only when it will be written.
  if (!LOGS_INFO.has(request.log.level)) return;
  request.log.info(
    {
      method: request.method,
      route: labels.route,
      path: request.url.split('?', 1)[0],
      status: reply.statusCode,
      bytes_in: bytesIn,
      bytes_out: bytesOut,
      duration_ms: Math.round(seconds * 10_000) / 10,
      ip: request.ip,
    },
    'request',
  );
}

/** Whether a request with this Authorization header may read the metrics: any when no token is configured. */
export function metricsAllowed(token: string | null, authorization: string | undefined): boolean {
  if (token === null) return true;
  const given = Buffer.from(authorization ?? '');
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** GET /metrics on the API's port; with a token, only for requests that carry it. */
export function registerMetricsRoute(http: FastifyInstance, metrics: PrometheusMetrics, token: string | null): void {
  http.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['operations'], security: token === null ? [] : [{ bearer: [] }] } }, async (request, reply) => {
    if (!metricsAllowed(token, request.headers.authorization)) {
      throw new ApiError(request.headers.authorization ? 'invalid_token' : 'authentication_required', 'The metrics need the token configured as METRICS_TOKEN.');
    }
    reply.header('content-type', metrics.contentType);
    return metrics.exposition();
  });
}

/**
 * /metrics on a listener of its own (METRICS_PORT), for a scraper on a private network: the
 * API's port then does not answer it at all. Resolves once listening; close() stops it.
 */
export async function listenForMetrics(metrics: PrometheusMetrics, options: { host: string; port: number; token: string | null }): Promise<Server> {
  // Imported here: an ES import of node:http at start builds its facade, which loads undici (~50 ms).
  const { createServer } = await import('node:http');
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?', 1)[0];
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('Only GET /metrics here.\n');
      return;
    }
    if (!metricsAllowed(options.token, request.headers.authorization)) {
      response.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' }).end('The metrics need the token configured as METRICS_TOKEN.\n');
      return;
    }
    metrics.exposition().then(
      (text) => response.writeHead(200, { 'content-type': metrics.contentType }).end(request.method === 'HEAD' ? undefined : text),
      () => response.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
