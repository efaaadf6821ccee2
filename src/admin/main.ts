#!/usr/bin/env node
/**
 * `trickle-admin` (or `npm run admin --`): administration against the configured database and
 * storage, beside running servers. Settings come from the same environment variables and flags
 * as the server (DATABASE_URL, DATA_DIR, STORAGE_URL, S3_*, WEBHOOK_*, ...).
 */
import { parseArgs } from 'node:util';
import { configDefaults, loadConfig } from '../config.js';
import { EXIT, Output, UsageError } from '../cli/output.js';
import { ApiError } from '../domain/errors.js';
import { COMMANDS, type AdminCommand } from './commands.js';
import { AdminContext } from './context.js';

const PROGRAM = 'trickle-admin';
const SETTING_FLAGS = new Set(configDefaults().map((setting) => setting.flag));

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `Usage: ${PROGRAM} [--json] [server settings] COMMAND [options]`,
    '',
    'Commands (USER is an id or a username):',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    '  --json               print one JSON document (errors: one JSON object on stderr)',
    '  -h, --help           help; `trickle-admin COMMAND --help` for a command',
    '',
    'The database and storage are those the server uses: DATABASE_URL, DATA_DIR, STORAGE_URL,',
    'S3_* and WEBHOOK_* from the environment, or as flags (`--database-url URL`; `npm start -- --help` lists them).',
    'Exit status: 0 on success, 1 when the command failed, 2 for a bad command line.',
  ].join('\n');
}

/** Splits global options, server settings and the command; settings take a value (`--flag V` or `--flag=V`). */
function split(argv: string[]): { json: boolean; help: boolean; settings: string[]; command: AdminCommand | null; rest: string[] } {
  const settings: string[] = [];
  let json = false;
  let help = false;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (arg === '--json') json = true;
    else if (arg === '--help' || arg === '-h') help = true;
    else if (arg.startsWith('-')) {
      const name = arg.split('=', 1)[0]!;
      if (!SETTING_FLAGS.has(name)) throw new UsageError(`unknown option ${name}`);
      if (arg.includes('=')) settings.push(arg);
      else if (argv[i + 1] === undefined) throw new UsageError(`${name} needs a value`);
      else settings.push(arg, argv[++i]!);
    } else {
      const command = COMMANDS.find((c) => c.name === arg);
      if (!command) throw new UsageError(`unknown command "${arg}"`);
      return { json, help, settings, command, rest: argv.slice(i + 1) };
    }
  }
  return { json, help, settings, command: null, rest: [] };
}

function describe(error: unknown): { name: string; description: string; exit: number } {
  if (error instanceof UsageError) return { name: 'usage', description: `${error.message} (see ${PROGRAM} --help)`, exit: EXIT.usage };
  if (error instanceof ApiError) return { name: error.errorName, description: error.message, exit: EXIT.failed };
  return { name: 'error', description: error instanceof Error ? error.message : String(error), exit: EXIT.failed };
}

async function main(argv: string[]): Promise<number> {
  let output = new Output(argv.includes('--json'));
  try {
    const { json, help, settings, command, rest } = split(argv);
    output = new Output(json);
    if (!command) {
      if (help || argv.length === 0) return void process.stdout.write(`${usage()}\n`), EXIT.ok;
      throw new UsageError('no command given');
    }
    const parsed = parseArgs({ args: rest, options: { ...command.options, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    if (parsed.values.json) output = new Output(true);
    if (help || parsed.values.help) return void process.stdout.write(`Usage: ${PROGRAM} ${command.name} ${command.synopsis}\n\n${command.summary}\n`), EXIT.ok;
    const context = await AdminContext.open(loadConfig(settings));
    try {
      await command.run({ values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals }, context, output);
    } finally {
      await context.close();
    }
    return EXIT.ok;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const failure = describe(typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS') ? new UsageError((error as Error).message) : error);
    if (output.json) process.stderr.write(`${JSON.stringify({ error: { name: failure.name, description: failure.description } })}\n`);
    else process.stderr.write(`${PROGRAM}: ${failure.description}\n`);
    return failure.exit;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // The command is done: a pool or pg-boss timer left behind must not keep the process alive.
  setTimeout(() => process.exit(code), 2000).unref();
});
