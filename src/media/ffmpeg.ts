/**
 * Running ffmpeg (Debian's package): found once at start, then spawned with an argument
 * array (no shell), with a time limit past which it is killed with SIGKILL. Output pipes are
 * handed to readers as streams; stderr keeps only its tail, which becomes the error text.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MediaFailure, type ProcessingErrorName } from '../domain/media/processing.js';

/** stderr kept per run: enough for ebur128's summary and the last error lines. */
const STDERR_KEPT = 32 * 1024;

/** An executable regular file (checked synchronously: a few system calls). */
function isExecutableFile(candidate: string): boolean {
  try {
    accessSync(candidate, constants.X_OK);
    return statSync(candidate).isFile();
  } catch {
    return false;
  }
}

/**
 * Resolves `setting` (a path, or a name looked up on PATH) to a working ffmpeg, or null. The
 * first candidate is spawned before this returns, so its run overlaps whatever the caller does
 * next (serve.ts: loading the server's modules).
 */
export async function locateFfmpeg(setting: string, env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  const candidates = setting.includes('/') ? [setting] : (env.PATH ?? '').split(path.delimiter).filter((dir) => dir !== '').map((dir) => path.join(dir, setting));
  for (const candidate of candidates) {
    if (!isExecutableFile(candidate)) continue;
    try {
      await runTool({ program: candidate, args: ['-hide_banner', '-version'], timeoutMs: 10_000 });
      return candidate;
    } catch {
      continue; // not a working ffmpeg; look further
    }
  }
  return null;
}

export interface ToolRun {
  program: string;
  args: string[];
  /** Piped to the tool's stdin. */
  stdin?: Readable;
  /** Readers of the tool's stdout (the first) and of the pipes at fd 3, 4, … (the rest); null leaves one unread. */
  outputs?: Array<((stream: Readable) => Promise<void>) | null>;
  timeoutMs: number;
  signal?: AbortSignal;
  /** What to call the failure when the tool exits with an error. */
  failure?: ProcessingErrorName;
}

/** The last lines of stderr worth showing a person, without ebur128's summary. */
export function stderrDescription(tail: string): string {
  const lines = tail.split('\n');
  const summary = lines.findIndex((line) => /\] Summary:\s*$/.test(line));
  const useful = (summary >= 0 ? lines.slice(0, summary) : lines).map((line) => line.trim()).filter((line) => line !== '');
  const text = useful.slice(-3).join(' / ');
  return text.length > 500 ? `…${text.slice(-500)}` : text;
}

/** Runs the tool to its end; resolves the tail of its stderr. Rejects MediaFailure on an error exit or the time limit. */
export function runTool(run: ToolRun): Promise<string> {
  const outputs = run.outputs ?? [];
  const stdio: Array<'pipe' | 'ignore'> = [run.stdin ? 'pipe' : 'ignore', outputs[0] ? 'pipe' : 'ignore', 'pipe', ...outputs.slice(1).map(() => 'pipe' as const)];
  return new Promise((resolve, reject) => {
    const child = spawn(run.program, run.args, { stdio, windowsHide: true });
    let stderr = '';
    let stopped: 'timeout' | 'aborted' | null = null;
    let readerError: unknown = null;
    const kill = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    const timer = setTimeout(() => {
      stopped ??= 'timeout';
      kill();
    }, run.timeoutMs);
    const onAbort = () => {
      stopped ??= 'aborted';
      kill();
    };
    run.signal?.addEventListener('abort', onAbort, { once: true });
    if (run.signal?.aborted) onAbort();
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      stderr += text;
      if (stderr.length > 2 * STDERR_KEPT) stderr = stderr.slice(-STDERR_KEPT);
    });
    // The tool may exit before it has read all of its input (EPIPE): that is its answer, not ours.
    if (run.stdin) pipeline(run.stdin, child.stdin as Writable).catch(() => undefined);
    const readers = outputs.map((reader, index) => {
      if (!reader) return Promise.resolve();
      const stream = child.stdio[index === 0 ? 1 : index + 2] as Readable;
      return reader(stream).catch((error: unknown) => {
        readerError ??= error;
        kill();
        stream.resume(); // drain, so the tool is never blocked on a full pipe
      });
    });
    let spawnError: Error | null = null;
    child.once('error', (error) => {
      spawnError = error;
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      run.signal?.removeEventListener('abort', onAbort);
      void Promise.all(readers).then(() => {
        const tail = stderr.slice(-STDERR_KEPT);
        const seconds = Math.round(run.timeoutMs / 100) / 10;
        if (spawnError) reject(spawnError);
        else if (stopped === 'aborted') reject(new Error(`${path.basename(run.program)} stopped: the job was cancelled`));
        else if (stopped === 'timeout') reject(new MediaFailure('media_timeout', `Processing took longer than ${seconds} s and was stopped. ${stderrDescription(tail)}`.trim()));
        else if (readerError) reject(readerError);
        else if (code !== 0) {
          const why = stderrDescription(tail) || `${path.basename(run.program)} exited with ${signal ?? `code ${code}`}`;
          reject(new MediaFailure(run.failure ?? 'media_unreadable', why));
        } else resolve(tail);
      });
    });
  });
}
