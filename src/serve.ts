/** Runs the server until SIGTERM/SIGINT, finishing requests in flight; shared by `npm start` and `trickle serve`. */
import { buildApp } from './app.js';
import { configHelp, loadConfig } from './config.js';

export function serverUsage(command: string): string {
  return `Usage: ${command} [options]\n\nEvery option is also an environment variable:\n${configHelp()}\n`;
}

export async function serve(argv: readonly string[], command = 'npm start --'): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(serverUsage(command));
    return;
  }
  const config = loadConfig(argv);
  const { http } = await buildApp(config);
  await http.listen({ port: config.port, host: config.host });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    http.log.info({ signal }, 'stopping: finishing requests in flight');
    http.close().then(
      () => process.exit(0),
      (error: unknown) => {
        http.log.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
