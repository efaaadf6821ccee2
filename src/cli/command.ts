/** The shape every `trickle` command has, and what it is given to run. */
import type { ParseArgsConfig } from 'node:util';
import { UsageError, type Output } from './output.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface CommandContext {
  output: Output;
  /** --server and --token as given (resolveConnection adds env and the saved login). */
  server: string | undefined;
  token: string | undefined;
  /** Aborted on Ctrl-C (SIGINT) or SIGTERM. */
  signal: AbortSignal;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | Array<string | boolean> | undefined>;
  positionals: string[];
}

export interface Command {
  name: string;
  summary: string;
  /** Synopsis and option lines for `trickle COMMAND --help`. */
  help: string;
  options: OptionSpec;
  /** Takes its arguments unparsed (in `positionals`): `serve` passes them to the server. */
  raw?: boolean;
  run(args: ParsedArgs, context: CommandContext): Promise<void>;
}

/** A positive integer argument, or a usage error naming it. */
export function positiveInteger(value: string | undefined, what: string): number {
  if (value === undefined || !/^[1-9]\d{0,14}$/.test(value)) throw new UsageError(`${what} must be a positive integer, got "${value ?? ''}"`);
  return Number(value);
}
