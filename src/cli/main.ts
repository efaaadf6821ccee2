#!/usr/bin/env node
/** `trickle`: the command line for a Trickle server; commands live in ./commands. */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Command, OptionSpec } from './command.js';
import { passwordCommand } from './commands/account.js';
import { downloadCommand } from './commands/download.js';
import { clipsCommand, inboxCommand, outboxCommand } from './commands/listings.js';
import { loginCommand, logoutCommand, registerCommand } from './commands/login.js';
import { serveCommand } from './commands/serve.js';
import { uploadCommand } from './commands/upload.js';
import { EXIT, Output, UsageError } from './output.js';
import { exitOnOldNode } from '../required-node.js';

// The commands import nothing native, but `serve` loads the server, which would crash on an old Node.
exitOnOldNode();

const COMMANDS: Command[] = [serveCommand, registerCommand, loginCommand, logoutCommand, passwordCommand, uploadCommand, clipsCommand, inboxCommand, outboxCommand, downloadCommand];

const GLOBAL_OPTIONS: OptionSpec = {
  server: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
};

const GLOBAL_HELP = [
  '  --server URL         the server (else TRICKLE_SERVER, else the one you logged in to, else http://127.0.0.1:8080)',
  '  --token TOKEN        an access token (else TRICKLE_TOKEN, else the one `trickle login` saved)',
  '  --json               print one JSON document, for scripts (errors: one JSON object on stderr)',
  '  -h, --help           help; `trickle COMMAND --help` for a command',
].join('\n');

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: trickle [--server URL] [--token TOKEN] [--json] COMMAND [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    GLOBAL_HELP,
    '',
    'Exit status: 0 on success, 1 when the command failed, 2 for a bad command line, 130 when interrupted.',
  ].join('\n');
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Splits off the command word; global options may come before it. */
function findCommand(argv: string[]): { index: number; command: Command | undefined } {
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (arg === '--server' || arg === '--token') i += 1;
    else if (!arg.startsWith('-')) return { index: i, command: COMMANDS.find((c) => c.name === arg) };
  }
  return { index: -1, command: undefined };
}

async function main(argv: string[]): Promise<number> {
  const { index, command } = findCommand(argv);
  const json = argv.includes('--json');
  const output = new Output(json);
  const interrupt = new AbortController();
  try {
    if (index !== -1 && !command) throw new UsageError(`unknown command "${argv[index]}"`);
    if (!command) {
      if (argv.includes('--version')) return void output.result(version(), { version: version() }), EXIT.ok;
      if (argv.includes('--help') || argv.includes('-h') || argv.length === 0) return void process.stdout.write(`${usage()}\n`), EXIT.ok;
      throw new UsageError('no command given');
    }
    const before = argv.slice(0, index);
    const after = argv.slice(index + 1);
    const globals = parseArgs({ args: before, options: GLOBAL_OPTIONS, strict: true }).values;
    if (command.raw) {
      await command.run({ values: globals, positionals: after }, { output, server: undefined, token: undefined, signal: interrupt.signal });
      return EXIT.ok;
    }
    const parsed = parseArgs({ args: after, options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true });
    const values = { ...globals, ...parsed.values };
    if (values.help) {
      process.stdout.write(`${command.help}\n\nOptions for every command:\n${GLOBAL_HELP}\n`);
      return EXIT.ok;
    }
    const stop = (signal: NodeJS.Signals) => {
      if (interrupt.signal.aborted) process.exit(EXIT.interrupted);
      interrupt.abort(new Interrupted(signal));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const context = { output, server: values.server as string | undefined, token: values.token as string | undefined, signal: interrupt.signal };
    await command.run({ values, positionals: parsed.positionals }, context);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof Interrupted || interrupt.signal.aborted) {
      output.note('\ninterrupted; run the same command again to continue where it stopped');
      return EXIT.interrupted;
    }
    // parseArgs reports unknown or malformed options with these codes.
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) return output.error(new UsageError((error as Error).message));
    return output.error(error);
  }
}

class Interrupted extends Error {
  constructor(signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
  }
}

main(process.argv.slice(2)).then((code) => {
  // `serve` keeps running; everything else is done.
  process.exitCode = code;
});
