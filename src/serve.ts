/** Runs the server until SIGTERM/SIGINT, finishing requests in flight; shared by `npm start` and `trickle serve`. */
import { buildApp } from './app.js';
import { configHelp, loadConfig } from './config.js';
import { listenForMetrics } from './http/metrics.js';

export function serverUsage(command: string): string {
  return `Usage: ${command} [options]\n\nEvery option is also an environment variable:\n${configHelp()}\n`;
}

/** After the grace, cut requests get this long to record what they wrote before the process exits anyway. */
const AFTER_CUT_MS = 15_000;

export async function serve(argv: readonly string[], command = 'npm start --'): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(serverUsage(command));
    return;
  }
  const config = loadConfig(argv);
  const { http, drain, services } = await buildApp(config);
  await http.listen({ port: config.port, host: config.host });
  // METRICS_PORT: /metrics on a listener of its own; a port that cannot be had fails the start.
  const metricsServer =
    config.metricsPort === null ? null : await listenForMetrics(services.metrics, { host: config.metricsHost, port: config.metricsPort, token: config.metricsToken });

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    const exitCode = 128 + (signal === 'SIGINT' ? 2 : 15);
    if (stopping) {
      http.log.warn({ signal }, 'second signal: stopping at once');
      process.exit(exitCode);
    }
    stopping = true;
    drain.draining = true;
    const graceMs = config.shutdownGraceSeconds * 1000;
    http.log.info({ signal, grace_seconds: config.shutdownGraceSeconds }, 'stopping: finishing requests in flight');
    // Stops accepting now; waits for requests in flight (http.close() runs the onClose hooks,
    // which wait for running handlers before closing the database and storage).
    metricsServer?.close();
    metricsServer?.closeAllConnections();
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
