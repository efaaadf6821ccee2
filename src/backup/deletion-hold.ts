/**
 * A backup's hold on blob deletions (DeletionHolds): taken before its first copy pass, renewed
 * while it runs, released at its end. Servers then leave the blobs of records they forget to the
 * orphan sweep, which waits for the hold too, so no file the backup's snapshot names is deleted
 * before the backup copies it (src/domain/maintenance/forgotten-blobs.ts says why).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { DeletionHolds } from '../domain/maintenance/ports.js';

/**
 * How long a hold lasts unless renewed: a backup that dies holds deletions this long at most.
 * Servers compare it with their own clocks, so those may run ahead of this one by up to
 * HOLD_MS - RENEW_MS before a hold looks lapsed to them early.
 */
export const HOLD_MS = 120_000;
const RENEW_MS = 15_000;

/** Runs `work` under a hold of this process's own; `warn` hears of renewals that failed (the hold may then lapse). */
export async function holdingDeletions<T>(holds: DeletionHolds, work: () => Promise<T>, warn: (line: string) => void): Promise<T> {
  const holder = `backup on ${hostname()}, pid ${process.pid}, ${randomUUID()}`;
  await holds.hold(holder, Date.now() + HOLD_MS);
  // Renewals one after another, and none after the release (it would take the hold again).
  let renewing = Promise.resolve();
  const renew = () => holds.hold(holder, Date.now() + HOLD_MS).catch((error: unknown) => warn(`the deletion hold was not renewed: ${String(error)}`));
  const timer = setInterval(() => (renewing = renewing.then(renew)), RENEW_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    await renewing;
    await holds.release(holder);
  }
}
