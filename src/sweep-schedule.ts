/**
 * The periodic sweep, every SWEEP_INTERVAL: attachments left whole but uploading by a crash
 * are completed, expired ones deleted, orphaned blobs swept, expired tokens forgotten, and
 * the media job counts refreshed for /metrics. A slow sweep never overlaps the next one.
 */
import type { Services } from './compose.js';
import { MEDIA_JOB } from './domain/media/processing.js';
import type { PrometheusMetrics } from './http/metrics.js';

/** Where the sweep reports (the server's logger). */
export interface SweepLog {
  warn(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
}

export type SweptServices = Pick<Services, 'attachments' | 'orphans' | 'users' | 'jobs' | 'media'>;

/** One sweep, start to end; a step that fails ends it (the next sweep tries again). */
export async function sweepOnce(services: SweptServices, metrics: Pick<PrometheusMetrics, 'setOrphansKept' | 'setMediaJobs'>, log: SweepLog): Promise<void> {
  await services.attachments.completeStragglers();
  await services.attachments.sweepExpired();
  const orphans = await services.orphans.sweep();
  metrics.setOrphansKept(orphans.kept);
  if (orphans.restoreFound) {
    log.warn(
      { kept_from: new Date(orphans.restoreFound.from).toISOString(), kept_to: new Date(orphans.restoreFound.to).toISOString(), kept: orphans.kept },
      `orphan sweep: ${orphans.restoreFound.reason} Stored files written in that time that no record names are kept, not deleted, until released (docs/operations.md).`,
    );
  }
  await services.users.sweepExpiredTokens();
  if (!services.media.available) return;
  for (const [state, count] of Object.entries(await services.jobs.counts(MEDIA_JOB))) metrics.setMediaJobs(state, count);
}

/** Starts sweeping every `intervalMs`; the returned function stops it (a sweep under way finishes on its own). */
export function scheduleSweeps(services: SweptServices, metrics: Pick<PrometheusMetrics, 'setOrphansKept' | 'setMediaJobs'>, log: SweepLog, intervalMs: number): () => void {
  let sweeping = false;
  const timer = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    sweepOnce(services, metrics, log)
      .catch((error: unknown) => log.error({ err: error }, 'sweep failed'))
      .finally(() => (sweeping = false));
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
