/** Entry point: read the configuration, build the app, listen, stop cleanly on SIGTERM/SIGINT. */
import { buildApp } from './app.js';
import { configHelp, loadConfig } from './config.js';

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(`Usage: npm start -- [options]\n\nEvery option is also an environment variable:\n${configHelp()}\n`);
    return;
  }
  const config = loadConfig();
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

main().catch((error: unknown) => {
  process.stderr.write(`trickle: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
