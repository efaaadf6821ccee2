/** What the CLI prints: human lines, or one JSON document per command with --json; errors as one line (one JSON object with --json). */
import { TrickleApiError, TrickleNetworkError, TrickleTimeoutError, TrickleUploadError } from '../client/node.js';

/** Bad command line: exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

export class Output {
  readonly json: boolean;
  private readonly stdout: NodeJS.WritableStream;
  private readonly stderr: NodeJS.WritableStream;

  constructor(
    json: boolean,
    stdout: NodeJS.WritableStream = process.stdout,
    stderr: NodeJS.WritableStream = process.stderr,
  ) {
    this.json = json;
    this.stdout = stdout;
    this.stderr = stderr;
  }

  /** The command's result: `human` for people, `data` for --json. */
  result(human: string, data: unknown): void {
    this.stdout.write(this.json ? `${JSON.stringify(data, null, 2)}\n` : `${human}\n`);
  }

  /** Side remarks for people; silent with --json so stdout stays one document. */
  note(line: string): void {
    if (!this.json) this.stderr.write(`${line}\n`);
  }

  /**
   * Prints a failure and answers the exit status. People get one line on stderr; with --json,
   * stderr holds one JSON object instead (stdout stays empty, so a script never mistakes it for a result).
   */
  error(error: unknown): number {
    const described = describeError(error);
    if (this.json) {
      const { name, code, status, description, details } = described;
      this.stderr.write(`${JSON.stringify({ error: { name, code, status, description, details } })}\n`);
    } else this.stderr.write(`trickle: ${described.line}\n`);
    return described.exit;
  }
}

/** A failure as the CLI reports it: `name`, `code`, `status` and `details` as the API gives them. */
export interface DescribedError {
  /** The API's error name (e.g. `not_found`, `invalid_grant`), or the CLI's own: usage, network, upload, file, error. */
  name: string;
  /** The API's integer code; null when the server gave none. */
  code: number | null;
  /** The HTTP status; null when there was no answer. */
  status: number | null;
  description: string;
  details: Record<string, unknown> | null;
  /** The line people see. */
  line: string;
  exit: number;
}

export function describeError(error: unknown): DescribedError {
  const own = (name: string, description: string, line = description, exit: number = EXIT.failed): DescribedError => ({ name, code: null, status: null, description, details: null, line, exit });
  if (error instanceof UsageError) return own('usage', error.message, `${error.message} (see trickle --help)`, EXIT.usage);
  if (error instanceof TrickleApiError) {
    return {
      name: error.errorName,
      code: error.code,
      status: error.status,
      description: error.message,
      details: error.details ?? null,
      line: `${error.message} [${error.errorName}, HTTP ${error.status}]`,
      exit: EXIT.failed,
    };
  }
  if (error instanceof TrickleNetworkError || error instanceof TrickleTimeoutError) return own('network', `cannot reach the server: ${error.message}`);
  if (error instanceof TrickleUploadError) return own('upload', error.message);
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') return own('file', (error as Error).message);
  return own('error', error instanceof Error ? error.message : String(error));
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '-';
  const whole = Math.round(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** Left-aligned columns for listings. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
