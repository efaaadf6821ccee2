/**
 * Knows which route handlers are still running, so shutdown closes the database and storage
 * only after every handler has finished, including one whose connection was cut midway and
 * that is still recording the bytes it fully wrote.
 */
import type { FastifyInstance, RouteHandlerMethod } from 'fastify';

export class Drain {
  private running = 0;
  private idleWaiters: Array<() => void> = [];
  /** Set once shutdown begins: answers then carry `Connection: close`. */
  draining = false;

  get handlersRunning(): number {
    return this.running;
  }

  /** Resolves once no handler is running. */
  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async track<T>(work: PromiseLike<T>): Promise<T> {
    this.running += 1;
    try {
      return await work;
    } finally {
      this.running -= 1;
      if (this.running === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  /** Wraps every route registered after this call; must run before the routes are added. */
  register(http: FastifyInstance): void {
    http.addHook('onRoute', (route) => {
      const handler = route.handler as RouteHandlerMethod;
      const track = <T>(work: Promise<T>) => this.track(work);
      route.handler = function (this: FastifyInstance, request, reply) {
        const result = handler.call(this, request, reply) as unknown;
        return result instanceof Promise ? track(result) : result;
      } as RouteHandlerMethod;
    });
    http.addHook('onSend', async (_request, reply) => {
      // Clients must not send the next request on a connection that is about to close.
      if (this.draining) reply.header('connection', 'close');
    });
  }
}
