/** Runs the server until SIGTERM/SIGINT, finishing requests in flight; shared by `npm start` and `trickle serve`. */
import { buildApp } from './build-app.js';
import { reclaimSocketBuffers } from './buffer-reclaim.js';
import { configHelp, loadConfig } from './config.js';
import { listenForMetrics } from './http/metrics.js';
import { stopOnSignals } from './shutdown.js';

export function serverUsage(command: string): string {
  return `Usage: ${command} [options]\n\nEvery option is also an environment variable:\n${configHelp()}\n`;
}

export async function serve(argv: readonly string[], command = 'npm start --'): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(serverUsage(command));
    return;
  }
  const config = loadConfig(argv);
  const app = await buildApp(config);
  await app.http.listen({ port: config.port, host: config.host });
  // METRICS_PORT: /metrics on a listener of its own; a port that cannot be had fails the start.
  const metricsServer =
    config.metricsPort === null ? null : await listenForMetrics(app.metrics, { host: config.metricsHost, port: config.metricsPort, token: config.metricsToken });
  reclaimSocketBuffers();
  stopOnSignals(app, { graceSeconds: config.shutdownGraceSeconds, metricsServer });
}
