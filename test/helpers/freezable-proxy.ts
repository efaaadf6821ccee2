/**
 * A TCP proxy that can freeze: while frozen it forwards nothing in either direction and holds
 * new connections open without answering, as a server stopped with SIGSTOP does (its kernel
 * still accepts connections). Thawed, everything held moves on. Tests put it in front of a
 * shared server (S3, PostgreSQL) to freeze it for one client without touching it.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export class FreezableProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private frozen = false;
  /** What arrived as the proxy froze, in order, sent on at thaw. */
  private held: Array<{ to: net.Socket; chunk: Buffer }> = [];
  readonly port: number;

  private constructor(server: net.Server) {
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  static async start(target: { host: string; port: number }): Promise<FreezableProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = new FreezableProxy(server);
    server.on('connection', (client) => proxy.join(client, net.connect(target.port, target.host)));
    return proxy;
  }

  private join(client: net.Socket, upstream: net.Socket): void {
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => [client, upstream].forEach((s) => s.destroy()));
      if (this.frozen) socket.pause();
    }
    this.forward(client, upstream);
    this.forward(upstream, client);
  }

  /** By hand rather than pipe(): a drain must not resume a frozen connection. */
  private forward(from: net.Socket, to: net.Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (this.frozen) {
        from.pause();
        this.held.push({ to, chunk });
      } else if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => {
          if (!this.frozen) from.resume();
        });
      }
    });
    from.on('end', () => to.end());
  }

  /** From now on nothing moves: reads stop on every connection, old and new. */
  freeze(): void {
    this.frozen = true;
    for (const socket of this.sockets) socket.pause();
  }

  thaw(): void {
    this.frozen = false;
    for (const { to, chunk } of this.held.splice(0)) if (!to.destroyed) to.write(chunk);
    for (const socket of this.sockets) socket.resume();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
