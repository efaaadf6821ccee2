/**
 * A webhook receiver on 127.0.0.1 for tests: it can be down (not listening: connections are
 * refused), answer every request with a status of the test's choosing, and keeps what came.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { freePort } from './server-process.js';

export interface Received {
  id: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
  /** What the receiver answered. */
  status: number;
}

export class WebhookReceiver {
  readonly received: Received[] = [];
  /** Chooses the answer for each request; 204 by default. */
  answer: (request: { id: string; attempt: number }) => number = () => 204;
  private server: Server | null = null;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  /** Picks a port without listening on it yet: until up(), deliveries are refused. */
  async reserve(): Promise<void> {
    this.port = await freePort();
  }

  async up(): Promise<void> {
    if (this.port === 0) await this.reserve();
    this.server = createServer((request, response) => {
      let body = '';
      request.on('data', (piece: Buffer) => (body += piece.toString()));
      request.on('end', () => {
        const id = String(request.headers['webhook-id']);
        const status = this.answer({ id, attempt: this.received.filter((r) => r.id === id).length + 1 });
        this.received.push({ id, headers: request.headers, body, at: Date.now(), status });
        response.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.port, '127.0.0.1', resolve);
    });
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  /** Requests answered 2xx, by webhook-id. */
  delivered(): Map<string, Received[]> {
    const byId = new Map<string, Received[]>();
    for (const r of this.received) if (r.status < 300) byId.set(r.id, [...(byId.get(r.id) ?? []), r]);
    return byId;
  }

  /** Waits (bounded) until `check` holds, polling every 50 ms. */
  async until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received: ${JSON.stringify(this.received.map((r) => [r.id, r.status]))}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
