/** A small file system of its own (tmpfs) for tests of a full disk; mounting needs root. */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface SmallDisk {
  dir: string;
  unmount(): Promise<void>;
}

/** A fresh tmpfs of `sizeMiB`, or why there cannot be one here. */
export async function mountSmallDisk(sizeMiB: number): Promise<SmallDisk | string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trickle-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    await rm(dir, { recursive: true, force: true });
    return 'cannot mount a small file system here (needs root)';
  }
  return {
    dir,
    unmount: async () => {
      // A descriptor closing a moment late makes the file system busy: retry, then detach it.
      for (let attempt = 0; ; attempt += 1) {
        try {
          execFileSync('umount', [attempt < 10 ? dir : '-l', ...(attempt < 10 ? [] : [dir])], { stdio: 'ignore' });
          break;
        } catch (error) {
          if (attempt >= 10) throw error;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Why tests of a full disk are skipped here, or undefined when a small disk can be mounted. */
export async function mountingNotAllowed(): Promise<string | undefined> {
  const probe = await mountSmallDisk(1);
  if (typeof probe === 'string') return probe;
  await probe.unmount();
  return undefined;
}

/** Runs `use` with a fresh small disk, unmounted afterwards whatever happens; nothing where mounting is not allowed. */
export async function withSmallDisk(sizeMiB: number, use: (dir: string) => Promise<void>): Promise<void> {
  const disk = await mountSmallDisk(sizeMiB);
  if (typeof disk === 'string') return;
  try {
    await use(disk.dir);
  } finally {
    await disk.unmount();
  }
}
