/**
 * Graceful shutdown on SIGTERM or SIGINT: stop accepting, let requests in flight finish
 * within the grace period, then cut the connections still open; the adapters close once the
 * last handler has finished (src/build-app.ts). A second signal stops at once.
 */
import type { Server } from 'node:http';
import type { App } from './build-app.js';

/** After the grace, cut requests get this long to record what they wrote before the process exits anyway. */
const AFTER_CUT_MS = 15_000;

export interface ShutdownOptions {
  graceSeconds: number;
  /** The /metrics listener of METRICS_PORT, closed at once. */
  metricsServer: Server | null;
}

export function stopOnSignals(app: App, options: ShutdownOptions): void {
  const { http, drain } = app;
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    const exitCode = 128 + (signal === 'SIGINT' ? 2 : 15);
    if (stopping) {
      http.log.warn({ signal }, 'second signal: stopping at once');
      process.exit(exitCode);
    }
    stopping = true;
    drain.draining = true;
    const graceMs = options.graceSeconds * 1000;
    http.log.info({ signal, grace_seconds: options.graceSeconds }, 'stopping: finishing requests in flight');
    // Stops accepting now; waits for requests in flight (http.close() runs the onClose hooks,
    // which wait for running handlers before closing the database and storage).
    options.metricsServer?.close();
    options.metricsServer?.closeAllConnections();
    const closing = http.close();
    const cut = setTimeout(() => {
      http.log.warn({ handlers_running: drain.handlersRunning }, 'grace period over: cutting the connections still open');
      http.server.closeAllConnections();
    }, graceMs);
    const giveUp = setTimeout(() => {
      http.log.error({ handlers_running: drain.handlersRunning }, 'requests did not end after they were cut: exiting');
      process.exit(1);
    }, graceMs + AFTER_CUT_MS);
    closing.then(
      () => {
        clearTimeout(cut);
        clearTimeout(giveUp);
        http.log.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        http.log.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
