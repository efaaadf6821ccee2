/** What the CLI prints: human lines, or one JSON document per command with --json; errors as one line. */
import { TrickleApiError, TrickleNetworkError, TrickleTimeoutError, TrickleUploadError } from '../client/node.js';

/** Bad command line: exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

export class Output {
  constructor(
    readonly json: boolean,
    private readonly stdout: NodeJS.WritableStream = process.stdout,
    private readonly stderr: NodeJS.WritableStream = process.stderr,
  ) {}

  /** The command's result: `human` for people, `data` for --json. */
  result(human: string, data: unknown): void {
    this.stdout.write(this.json ? `${JSON.stringify(data, null, 2)}\n` : `${human}\n`);
  }

  /** Side remarks for people; silent with --json so stdout stays one document. */
  note(line: string): void {
    if (!this.json) this.stderr.write(`${line}\n`);
  }

  error(error: unknown): number {
    const { message, name, status, exit } = describeError(error);
    this.stderr.write(`trickle: ${message}\n`);
    if (this.json) this.stdout.write(`${JSON.stringify({ error: { name, status, message } })}\n`);
    return exit;
  }
}

function describeError(error: unknown): { message: string; name: string; status: number | null; exit: number } {
  if (error instanceof UsageError) return { message: `${error.message} (see trickle --help)`, name: 'usage', status: null, exit: EXIT.usage };
  if (error instanceof TrickleApiError) return { message: `${error.message} [${error.errorName}, HTTP ${error.status}]`, name: error.errorName, status: error.status, exit: EXIT.failed };
  if (error instanceof TrickleNetworkError || error instanceof TrickleTimeoutError) {
    return { message: `cannot reach the server: ${error.message}`, name: 'network', status: null, exit: EXIT.failed };
  }
  if (error instanceof TrickleUploadError) return { message: error.message, name: 'upload', status: null, exit: EXIT.failed };
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
    return { message: (error as Error).message, name: 'file', status: null, exit: EXIT.failed };
  }
  return { message: error instanceof Error ? error.message : String(error), name: 'error', status: null, exit: EXIT.failed };
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
