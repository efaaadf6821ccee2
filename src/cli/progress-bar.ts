/** The upload progress bar (cli-progress) on stderr, only when a person is watching it. */
import cliProgress from 'cli-progress';
import type { UploadProgress } from '../client/node.js';
import { formatBytes, formatDuration } from './output.js';

export interface ProgressDisplay {
  update(progress: UploadProgress): void;
  stop(): void;
}

const SILENT: ProgressDisplay = { update: () => undefined, stop: () => undefined };

export function progressBar(label: string, enabled: boolean): ProgressDisplay {
  if (!enabled || !process.stderr.isTTY) return SILENT;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} {bar} {percentage}% | {done} of {total_size} | {rate}/s | ETA {left}`,
      hideCursor: true,
      clearOnComplete: false,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(progress) {
      const payload = {
        done: formatBytes(progress.acknowledgedBytes),
        total_size: formatBytes(progress.totalBytes),
        rate: formatBytes(Math.round(progress.bytesPerSecond)),
        left: formatDuration(progress.etaSeconds),
      };
      if (!started) {
        bar.start(progress.totalBytes, progress.acknowledgedBytes, payload);
        started = true;
      } else bar.update(progress.acknowledgedBytes, payload);
    },
    stop: () => started && bar.stop(),
  };
}
