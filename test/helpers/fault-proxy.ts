/**
 * A TCP proxy between a client and the real server that misbehaves on purpose, like a phone's
 * network: it cuts connections after a random number of bytes, stalls them, resets them, or
 * answers 503 itself. Faults are drawn from a seeded generator and capped in number, so every
 * test ends. It can also throttle the upload direction, to make large uploads take time.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export type FaultKind = 'cut' | 'reset' | 'stall' | 'unavailable';

export interface FaultPlan {
  /** Chance per connection of each fault; the rest of the connections are clean. */
  odds?: Partial<Record<FaultKind, number>>;
  /** No more faults than this, in all. */
  maxFaults?: number;
  /** Faults strike after a random number of bytes up to this many (either direction). */
  maxBytesBeforeFault?: number;
  /** How long a stalled connection stays silent before it is closed. */
  stallMs?: number;
  /** Seconds the injected 503 asks the client to wait (Retry-After). */
  retryAfterSeconds?: number;
  /** Client-to-server bytes per second over all connections; unlimited when absent. */
  throttleBytesPerSecond?: number;
  seed?: number;
}

export interface ProxyStats {
  connections: number;
  /** Bytes forwarded from clients to the server. */
  bytesUp: number;
  bytesDown: number;
  faults: Record<FaultKind, number>;
}

/** mulberry32: small, seeded, good enough to pick faults reproducibly. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class FaultProxy {
  private readonly target: { host: string; port: number };
  private plan: FaultPlan;

  readonly stats: ProxyStats = { connections: 0, bytesUp: 0, bytesDown: 0, faults: { cut: 0, reset: 0, stall: 0, unavailable: 0 } };
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly random: () => number;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** When the throttled upstream direction may send again (ms since epoch). */
  private throttleFreeAt = 0;
  private faultsLeft: number;
  url = '';

  private constructor(
    target: { host: string; port: number },
    plan: FaultPlan,
  ) {
    this.target = target;
    this.plan = plan;
    this.random = seededRandom(plan.seed ?? 1);
    this.faultsLeft = plan.maxFaults ?? 0;
    this.server = net.createServer((client) => this.handle(client));
  }

  static async start(targetUrl: string, plan: FaultPlan = {}): Promise<FaultProxy> {
    const target = new URL(targetUrl);
    const proxy = new FaultProxy({ host: target.hostname, port: Number(target.port) }, plan);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.url = `http://127.0.0.1:${(proxy.server.address() as AddressInfo).port}`;
    return proxy;
  }

  /** New connections follow this plan (and its fault budget) from now on. */
  replan(plan: FaultPlan): void {
    this.plan = plan;
    this.faultsLeft = plan.maxFaults ?? 0;
  }

  private pickFault(): FaultKind | null {
    if (this.faultsLeft <= 0) return null;
    let roll = this.random();
    for (const [kind, odds] of Object.entries(this.plan.odds ?? {}) as Array<[FaultKind, number]>) {
      if (roll < odds) {
        this.faultsLeft -= 1;
        this.stats.faults[kind] += 1;
        return kind;
      }
      roll -= odds;
    }
    return null;
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
  }

  private later(ms: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, ms);
    this.timers.add(timer);
  }

  private handle(client: net.Socket): void {
    this.stats.connections += 1;
    this.track(client);
    const fault = this.pickFault();
    if (fault === 'unavailable') {
      const wait = this.plan.retryAfterSeconds ?? 1;
      client.end(`HTTP/1.1 503 Service Unavailable\r\nRetry-After: ${wait}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      return;
    }
    const upstream = net.connect(this.target.port, this.target.host);
    this.track(upstream);
    const destroyBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    // A client that goes away (even killed) leaves what it sent in flight to arrive, as on a
    // real network; only the faults above lose bytes on purpose.
    client.on('close', () => upstream.end());
    upstream.on('close', () => client.destroy());

    // Where the fault strikes: after this many bytes, in one direction.
    const strikeAt = Math.floor(this.random() * (this.plan.maxBytesBeforeFault ?? 1024 * 1024));
    const strikeUp = this.random() < 0.75;
    let struck = false;
    const strike = () => {
      struck = true;
      if (fault === 'cut') destroyBoth();
      else if (fault === 'reset') {
        client.resetAndDestroy();
        upstream.destroy();
      } else if (fault === 'stall') {
        // Stop forwarding either way; the client's timeout has to notice.
        client.pause();
        upstream.pause();
        this.later(this.plan.stallMs ?? 2000, destroyBoth);
      }
    };

    let sentUp = 0;
    let sentDown = 0;
    client.on('data', (data: Buffer) => {
      if (struck) return;
      let forward = data;
      if (fault !== null && strikeUp && sentUp + data.length >= strikeAt) forward = data.subarray(0, strikeAt - sentUp);
      sentUp += forward.length;
      this.stats.bytesUp += forward.length;
      if (forward.length > 0 && !upstream.write(forward)) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
      if (forward !== data) return strike();
      this.throttle(client, forward.length);
    });
    upstream.on('data', (data: Buffer) => {
      if (struck) return;
      let forward = data;
      if (fault !== null && !strikeUp && sentDown + data.length >= strikeAt) forward = data.subarray(0, strikeAt - sentDown);
      sentDown += forward.length;
      this.stats.bytesDown += forward.length;
      if (forward.length > 0 && !client.write(forward)) {
        upstream.pause();
        client.once('drain', () => upstream.resume());
      }
      if (forward !== data) strike();
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  }

  /** Pauses the client until its share of the upload bandwidth allows more. */
  private throttle(client: net.Socket, bytes: number): void {
    const rate = this.plan.throttleBytesPerSecond;
    if (!rate || bytes === 0) return;
    const now = Date.now();
    this.throttleFreeAt = Math.max(now, this.throttleFreeAt) + (bytes / rate) * 1000;
    const wait = this.throttleFreeAt - now;
    if (wait < 1) return;
    client.pause();
    this.later(wait, () => client.resume());
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
