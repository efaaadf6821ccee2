/**
 * A MediaProber that runs each probe in a worker thread with a deadline. Parsers of
 * untrusted files can be made to spin (an MP3 of 0xFF bytes makes a frame-sync search
 * crawl); here that costs the worker, never the request thread, and a probe that passes
 * its deadline is answered "not supported" and its worker terminated (a fresh one serves
 * the next probe). Probes run one at a time, so probing keeps at most one core busy.
 */
import { Worker } from 'node:worker_threads';
import type { AudioInfo, ImageInfo, MediaProber } from '../domain/media/ports.js';
import type { ProbeReply, ProbeRequest } from './probe-worker.js';

type Info = AudioInfo | ImageInfo | null;

/** The probe worker; run from sources (tests, npm run dev) it is TypeScript and needs tsx's loader first. */
function spawnProbeWorker(): Worker {
  const source = new URL(import.meta.url.endsWith('.ts') ? './probe-worker.ts' : './probe-worker.js', import.meta.url);
  if (source.pathname.endsWith('.js')) return new Worker(source);
  return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(source.href)}); })`, { eval: true });
}

export class IsolatedProber implements MediaProber {
  private readonly timeoutMs: number;

  private worker: Promise<Worker> | null = null;
  private current: Worker | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 1;
  /** Probes answered "not supported" because they ran out of time (for tests and logs). */
  timeouts = 0;

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
  }

  probeAudio(path: string): Promise<AudioInfo | null> {
    return this.enqueue('audio', path) as Promise<AudioInfo | null>;
  }

  probeImage(path: string): Promise<ImageInfo | null> {
    return this.enqueue('image', path) as Promise<ImageInfo | null>;
  }


  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.current = null;
    if (worker) await (await worker.catch(() => null))?.terminate();
  }

  private enqueue(kind: ProbeRequest['kind'], path: string): Promise<Info> {
    const run = this.queue.then(() => this.probe(kind, path));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private started(): Promise<Worker> {
    this.worker ??= new Promise<Worker>((resolve, reject) => {
      const worker = spawnProbeWorker();
      worker.unref();
      worker.once('message', () => resolve((this.current = worker)));
      worker.once('error', reject);
      worker.once('exit', () => reject(new Error('the probe worker exited before it was ready')));
    });
    const starting = this.worker;
    // A worker that failed to start is not kept: the next probe tries again.
    starting.catch(() => this.worker === starting && (this.worker = null));
    return starting;
  }

  private async probe(kind: ProbeRequest['kind'], path: string): Promise<Info> {
    const worker = await this.started();
    const id = this.nextId++;
    return new Promise<Info>((resolve) => {
      const finish = (info: Info) => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        resolve(info);
      };
      const onMessage = (reply: ProbeReply) => {
        if ('id' in reply && reply.id === id) finish(reply.info);
      };
      const onExit = () => {
        this.forget(worker);
        finish(null);
      };
      const timer = setTimeout(() => {
        this.timeouts += 1;
        this.forget(worker);
        void worker.terminate();
        finish(null);
      }, this.timeoutMs);
      worker.on('message', onMessage);
      worker.once('exit', onExit);
      worker.postMessage({ id, kind, path } satisfies ProbeRequest);
    });
  }

  private forget(worker: Worker): void {
    if (this.current !== worker) return;
    this.current = null;
    this.worker = null;
  }
}
