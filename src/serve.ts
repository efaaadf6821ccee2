/**
 * Runs the server until SIGTERM/SIGINT, finishing requests in flight; shared by `npm start` and
 * `trickle serve`. Only the configuration and ffmpeg's search are imported up front, so that
 * ffmpeg's `-version` run (about 0.1 s) overlaps the loading of the server's modules (about
 * 0.3 s) instead of following it.
 */
import { configHelp, loadConfig } from './config.js';
import { locateFfmpeg } from './media/ffmpeg.js';

export function serverUsage(command: string): string {
  return `Usage: ${command} [options]\n\nEvery option is also an environment variable:\n${configHelp()}\n`;
}

export async function serve(argv: readonly string[], command = 'npm start --'): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(serverUsage(command));
    return;
  }
  const config = loadConfig(argv);
  const ffmpeg = locateFfmpeg(config.ffmpegPath).catch(() => null);
  const [{ buildApp }, { reclaimSocketBuffers }, { limitHeapGrowth }, { listenForMetrics }, { stopOnSignals }] = await Promise.all([
    import('./build-app.js'),
    import('./buffer-reclaim.js'),
    import('./heap-growth.js'),
    import('./http/metrics.js'),
    import('./shutdown.js'),
  ]);
  const app = await buildApp(config, { ffmpeg });
  await app.http.listen({ port: config.port, host: config.host });
  // METRICS_PORT: /metrics on a listener of its own; a port that cannot be had fails the start.
  const metricsServer =
    config.metricsPort === null ? null : await listenForMetrics(app.metrics, { host: config.metricsHost, port: config.metricsPort, token: config.metricsToken });
  reclaimSocketBuffers();
  limitHeapGrowth();
  stopOnSignals(app, { graceSeconds: config.shutdownGraceSeconds, metricsServer });
}
