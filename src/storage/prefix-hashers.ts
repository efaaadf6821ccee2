/**
 * Two PrefixHashers: one that hashes on the calling thread from streams (any store), and
 * one that hands reading and hashing to a worker thread (sources with local paths),
 * keeping the request thread free for requests.
 */
import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { ByteSource, PrefixHasher } from '../domain/attachments/ports.js';
import type { HashReply, HashRequest } from './sha1-worker.js';

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export class InProcessPrefixHasher implements PrefixHasher {
  private readonly hashes = new Map<string, { hash: Hash; at: number }>();

  async extend(name: string, source: ByteSource, from: number, to: number): Promise<void> {
    let state = this.hashes.get(name);
    if (!state && from === 0) this.hashes.set(name, (state = { hash: createHash('sha1'), at: 0 }));
    if (!state || state.at !== from) throw new Error(`hash ${name} stands at ${state?.at ?? 'nothing'}, not ${from}`);
    // Hashed into a copy first: a read that fails midway leaves the hash where it stood.
    const next = state.hash.copy();
    let position = from;
    for await (const piece of source.read(from, to)) {
      next.update(piece);
      position += piece.length;
    }
    if (position !== to) throw new Error(`short read: ${position - from} of ${to - from} bytes`);
    state.hash = next;
    state.at = to;
  }

  async digest(name: string): Promise<string> {
    return (this.hashes.get(name)?.hash ?? createHash('sha1')).copy().digest('hex');
  }

  discard(name: string): void {
    this.hashes.delete(name);
  }

  async close(): Promise<void> {
    this.hashes.clear();
  }
}

export class WorkerPrefixHasher implements PrefixHasher {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (reply: HashReply) => void; reject: (error: Error) => void }>();

  async extend(name: string, source: ByteSource, from: number, to: number): Promise<void> {
    if (source.localPath === null) throw new Error('the worker hasher reads local files only');
    await this.call({ op: 'extend', name, path: source.localPath, from, to });
  }

  async digest(name: string): Promise<string> {
    const reply = await this.call({ op: 'digest', name });
    return reply.ok && reply.hex ? reply.hex : '';
  }

  discard(name: string): void {
    if (this.worker) void this.call({ op: 'discard', name }).catch(() => undefined);
  }


  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
  }

  private start(): Worker {
    // Compiled, the worker is sha1-worker.js. Run from sources (tests, npm run dev), it is
    // TypeScript, and a worker does not inherit tsx's loader: register it first.
    const worker = import.meta.url.endsWith('.ts')
      ? new Worker(
          `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(new URL('./sha1-worker.ts', import.meta.url).href)}); })`,
          { eval: true },
        )
      : new Worker(new URL('./sha1-worker.js', import.meta.url));
    worker.unref();
    worker.on('message', (reply: HashReply) => {
      const waiting = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      waiting?.resolve(reply);
    });
    const fail = (error: Error) => {
      // Its hashes died with it: callers see the error and start their hashes again.
      if (this.worker === worker) this.worker = null;
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`hash worker exited with ${code}`)));
    return worker;
  }

  private call(request: WithoutId<HashRequest>): Promise<HashReply & { ok: true }> {
    this.worker ??= this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, {
        resolve: (reply) => (reply.ok ? resolve(reply) : reject(new Error(reply.error))),
        reject,
      });
      this.worker!.postMessage({ ...request, id } as HashRequest);
    });
  }
}
