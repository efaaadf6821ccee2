/**
 * Small JSON records kept on disk, so that an upload (or a whole CLI job) killed midway can
 * be continued by the next process. One file per key; written atomically (temp file, rename).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** The user's configuration directory for Trickle: TRICKLE_CONFIG_DIR, else the platform's usual place. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TRICKLE_CONFIG_DIR) return env.TRICKLE_CONFIG_DIR;
  if (process.platform === 'win32' && env.APPDATA) return path.join(env.APPDATA, 'trickle');
  return path.join(env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), 'trickle');
}

export class StateStore {
  readonly dir: string;

  constructor(dir: string = path.join(configDir(), 'uploads')) {
    this.dir = dir;
  }

  /** Keys may be any string; file names are their digests. */
  private fileFor(key: string): string {
    return path.join(this.dir, `${createHash('sha1').update(key).digest('hex')}.json`);
  }

  async get<T>(key: string): Promise<T | null> {
    try {
      const record = JSON.parse(await readFile(this.fileFor(key), 'utf8')) as { key?: string; value?: T };
      return record.key === key && record.value !== undefined ? record.value : null;
    } catch {
      // Missing or unreadable (e.g. cut off by a crash before the rename): nothing to resume.
      return null;
    }
  }

  async set<T>(key: string, value: T): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = this.fileFor(key);
    const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(temp, JSON.stringify({ key, value }), { mode: 0o600 });
    await rename(temp, file);
  }

  async delete(key: string): Promise<void> {
    await rm(this.fileFor(key), { force: true });
  }
}
