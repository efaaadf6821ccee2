/**
 * Puts the server together: a Fastify instance with the server's options and logger, the
 * services of the composition root (src/compose.ts), the application plugin (src/app.ts) on
 * top, and their lifecycle: the services start before the server is ready, the sweeps run
 * while it serves, and on close every adapter closes once the last handler has finished.
 * src/serve.ts listens with it; tests build it the same way.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { app, serverOptions } from './app.js';
import { compose, type Services } from './compose.js';
import type { Config } from './config.js';
import type { Clock } from './domain/clock.js';
import { Drain } from './http/drain.js';
import { PrometheusMetrics } from './http/metrics.js';
import { LogDestination } from './log-destination.js';
import { scheduleSweeps } from './sweep-schedule.js';

export interface App {
  http: FastifyInstance;
  services: Services;
  metrics: PrometheusMetrics;
  drain: Drain;
}

export interface BuildOptions {
  clock?: Clock;
  logger?: boolean;
  /** Idle poll interval of the job queue in ms (tests shorten it). */
  jobPollMs?: number;
  /** ffmpeg's search, already under way (compose.ts starts it otherwise). */
  ffmpeg?: Promise<string | null>;
}

const systemClock: Clock = { now: () => Date.now() };

/** Both formats write through `stdout`, which drops what it cannot write instead of waiting. */
async function logger(config: Config, stdout: LogDestination): Promise<FastifyServerOptions['logger']> {
  const options = { level: config.logLevel, redact: ['req.headers.authorization', 'req.headers.cookie'] };
  if (config.logFormat === 'json') return { ...options, stream: stdout };
  const { prettyFactory } = (await import('pino-pretty')).default;
  const pretty = prettyFactory({ translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true });
  return { ...options, stream: { write: (line: string) => stdout.write(pretty(line)) } };
}

export async function buildApp(config: Config, options: BuildOptions = {}): Promise<App> {
  const metrics = new PrometheusMetrics();
  // The JSON log: a line that cannot be written (a full disk) is dropped and counted, never waited for.
  const logOutput = new LogDestination(1, (lines) => metrics.logLinesDropped(lines));
  const http = Fastify(serverOptions(config, options.logger === false ? false : await logger(config, logOutput)));
  let services: Services;
  try {
    services = await compose(config, {
      clock: options.clock ?? systemClock,
      metrics,
      jobLog: {
        warn: (message) => http.log.warn(message),
        error: (error, message) => http.log.error({ err: error }, message),
      },
      jobPollMs: options.jobPollMs,
      ffmpeg: options.ffmpeg,
    });
  } catch (error) {
    logOutput.close();
    throw error;
  }
  if (services.ffmpeg) http.log.info({ ffmpeg: services.ffmpeg }, 'media processing on: ffmpeg found');
  else http.log.warn({ ffmpeg_path: config.ffmpegPath }, 'media processing unavailable: ffmpeg not found (set FFMPEG_PATH); clips and messages say processing "unavailable"');

  const drain = new Drain();
  let stopSweeps: (() => void) | null = null;
  http.addHook('onReady', async () => {
    await services.start();
    stopSweeps = scheduleSweeps(services, metrics, http.log, config.sweepIntervalSeconds * 1000);
  });
  http.addHook('onClose', async () => {
    stopSweeps?.();
    // Handlers of cut connections still record what they wrote; they need the adapters.
    await drain.idle();
    try {
      await services.close();
    } finally {
      logOutput.close();
    }
  });
  await http.register(app, { config, services, metrics, drain });
  return { http, services, metrics, drain };
}
