/**
 * A phone's link between clients and a real server, emulated in userspace on 127.0.0.1: a TCP
 * proxy whose connections all share one uplink and one downlink. Each direction has a rate, a
 * modem buffer (bytes that entered the link and wait their turn; lost when their connection
 * dies) and a one-way delay. A deterministic schedule of outages takes the link down:
 *
 * - `reset` (a handover): nothing flows, every open connection is reset at both ends, and new
 *   connections are reset until the link is back (the phone knows it has no network);
 * - `silent` (a lost NAT mapping): every open connection goes silent for good at both ends, no
 *   reset, nothing more in either direction; connections opened during the outage wait until
 *   it ends and then work. Only a client that watches its progress gets out.
 *
 * Link bytes (what the client pushed into the uplink, lost bytes included) are counted, so a
 * run can say how much of the link it burnt. Used by `npm run bench:links` and by tests.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

export type OutageKind = 'reset' | 'silent';

export interface Outage {
  /** Milliseconds after the link's (re)start. */
  atMs: number;
  durationMs: number;
  kind: OutageKind;
}

export interface LinkProfile {
  upBytesPerSecond: number;
  downBytesPerSecond: number;
  /** One-way delay; a round trip takes twice this. */
  delayMs: number;
  /** Bytes the uplink holds before the phone's sockets have to wait. */
  upBufferBytes: number;
  downBufferBytes: number;
  /** Sorted by `atMs`, not overlapping. */
  outages?: readonly Outage[];
}

export interface LinkStats {
  /** Connections accepted (refused ones during an outage included). */
  connections: number;
  /** Bytes the clients pushed into the uplink, including those lost. */
  upBytes: number;
  /** Uplink bytes that never reached the server (in the modem buffer or in the air when their connection died). */
  upLostBytes: number;
  downBytes: number;
  downLostBytes: number;
  /** Connections reset by an outage (open ones, and new ones refused while the link was down). */
  resets: number;
  /** Connections that went silent for good. */
  silenced: number;
}

/** Outages at a fixed period, from `firstAtMs` until `untilMs` (a bounded list). */
export function periodicOutages(options: { firstAtMs: number; everyMs: number; durationMs: number; kind: OutageKind; untilMs: number }): Outage[] {
  const { firstAtMs, everyMs, durationMs, kind, untilMs } = options;
  if (!(everyMs > durationMs)) throw new RangeError('outages must be shorter than their period');
  const outages: Outage[] = [];
  for (let at = firstAtMs; at < untilMs; at += everyMs) outages.push({ atMs: at, durationMs, kind });
  return outages;
}

/**
 * The least time a transfer of `bytes` can take from the link's start at `bytesPerSecond`:
 * the bytes at the link's rate, stretched by the time the link is down meanwhile.
 */
export function idealTransferMs(bytes: number, bytesPerSecond: number, outages: readonly Outage[] = []): number {
  let at = 0;
  let left = bytes;
  for (const outage of outages) {
    const window = Math.max(0, outage.atMs - at);
    if ((left / bytesPerSecond) * 1000 <= window) break;
    left -= (window * bytesPerSecond) / 1000;
    at = Math.max(at, outage.atMs + outage.durationMs);
  }
  return at + (left / bytesPerSecond) * 1000;
}

/** The most a connection keeps read from a socket before it stops reading (the phone's side, not the link). */
const SOCKET_BACKLOG = 64 * 1024;
/** Bytes taken from one connection at a time, so connections interleave as packets do. */
const SEGMENT = 1460;
const TICK_MS = 4;
/** A silenced connection's server side is closed after this long if the server has not closed it. */
const SILENT_UPSTREAM_LIMIT_MS = 180_000;

type Marker = 'end' | 'close';

interface Segment {
  connection: Connection;
  /** Bytes, or a marker that the sending side ended or closed. */
  bytes: Buffer | Marker;
  dueAt: number;
}

/** One side's reading: what a socket gave that has not entered the link yet. */
class Backlog {
  readonly pieces: Buffer[] = [];
  bytes = 0;
  ended = false;
  closed = false;
  markerSent = false;

  readonly socket: net.Socket;

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (data: Buffer) => {
      this.pieces.push(data);
      this.bytes += data.length;
      if (this.bytes >= SOCKET_BACKLOG) socket.pause();
    });
    socket.on('end', () => (this.ended = true));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }

  /** Up to `limit` bytes, or null if none are waiting. */
  take(limit: number): Buffer | null {
    const first = this.pieces[0];
    if (first === undefined || limit <= 0) return null;
    let piece: Buffer;
    if (first.length <= limit) {
      piece = first;
      this.pieces.shift();
    } else {
      piece = first.subarray(0, limit);
      this.pieces[0] = first.subarray(limit);
    }
    this.bytes -= piece.length;
    if (this.bytes < SOCKET_BACKLOG / 2 && !this.closed) this.socket.resume();
    return piece;
  }

  drop(): void {
    this.pieces.length = 0;
    this.bytes = 0;
  }

  /** The marker to send once every byte has entered the link. */
  finalMarker(): Marker | null {
    if (this.markerSent) return null;
    if (this.closed && !this.ended) {
      // Torn down without an orderly end: what the socket had not sent yet goes with it.
      this.drop();
      return 'close';
    }
    if (this.bytes > 0) return null;
    if (this.ended) return 'end';
    return null;
  }
}

class Connection {
  state: 'open' | 'silent' | 'gone' = 'open';
  readonly up: Backlog;
  readonly down: Backlog;
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  /** Nothing leaves the phone before this (the TCP handshake's round trip, or the end of a silent outage). */
  sendsFrom: number;

  constructor(
    client: net.Socket,
    upstream: net.Socket,
    sendsFrom: number,
  ) {
    this.client = client;
    this.upstream = upstream;
    this.sendsFrom = sendsFrom;
    this.up = new Backlog(client);
    this.down = new Backlog(upstream);
  }
}

/** One direction of the link: a modem buffer drained at the link's rate, then the delay. */
class Direction {
  readonly queue: Segment[] = [];
  queuedBytes = 0;
  readonly air: Segment[] = [];
  /** When the link has finished sending what it took so far (performance.now() ms). */
  private busyUntil = 0;
  bytes = 0;
  lostBytes = 0;

  private readonly bytesPerSecond: number;
  private readonly bufferBytes: number;
  private readonly delayMs: number;
  private readonly deliver: (segment: Segment) => void;

  constructor(
    bytesPerSecond: number,
    bufferBytes: number,
    delayMs: number,
    deliver: (segment: Segment) => void,
  ) {
    this.bytesPerSecond = bytesPerSecond;
    this.bufferBytes = bufferBytes;
    this.delayMs = delayMs;
    this.deliver = deliver;
  }

  get room(): number {
    return this.bufferBytes - this.queuedBytes;
  }

  enqueue(connection: Connection, bytes: Buffer | Marker, now: number): void {
    if (this.queue.length === 0) this.busyUntil = Math.max(this.busyUntil, now);
    this.queue.push({ connection, bytes, dueAt: 0 });
    if (typeof bytes !== 'string') {
      this.queuedBytes += bytes.length;
      this.bytes += bytes.length;
    }
  }

  /** Sends what the rate allows up to `now`, then hands over what has crossed. */
  step(now: number, up: boolean): void {
    if (!up) this.busyUntil = now;
    else if (this.queue.length === 0) this.busyUntil = Math.max(this.busyUntil, now);
    while (up && this.queue.length > 0 && this.busyUntil < now) {
      const head = this.queue[0]!;
      if (typeof head.bytes === 'string') {
        this.queue.shift();
        this.air.push({ ...head, dueAt: this.busyUntil + this.delayMs });
        continue;
      }
      const budget = Math.floor(((now - this.busyUntil) * this.bytesPerSecond) / 1000);
      if (budget <= 0) break;
      const take = Math.min(budget, head.bytes.length);
      const piece = head.bytes.subarray(0, take);
      if (take === head.bytes.length) this.queue.shift();
      else head.bytes = head.bytes.subarray(take);
      this.queuedBytes -= take;
      this.busyUntil += (take * 1000) / this.bytesPerSecond;
      this.air.push({ connection: head.connection, bytes: piece, dueAt: this.busyUntil + this.delayMs });
    }
    while (this.air.length > 0 && this.air[0]!.dueAt <= now) this.deliver(this.air.shift()!);
  }

  /** Drops every byte of the connections `dies` selects; counts them lost. */
  drop(dies: (connection: Connection) => boolean): void {
    const keep = (list: Segment[], queued: boolean) => {
      const kept = list.filter((segment) => {
        if (!dies(segment.connection)) return true;
        if (typeof segment.bytes !== 'string') {
          this.lostBytes += segment.bytes.length;
          if (queued) this.queuedBytes -= segment.bytes.length;
        }
        return false;
      });
      list.splice(0, list.length, ...kept);
    };
    keep(this.queue, true);
    keep(this.air, false);
  }
}

export class LinkEmulator {
  url = '';
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  private readonly silenced = new Set<Connection>();
  private settings!: LinkProfile;
  private uplink!: Direction;
  private downlink!: Direction;
  private startedAt = 0;
  private nextOutage = 0;
  private current: Outage | null = null;
  private refused = 0;
  private accepted = 0;
  private resets = 0;
  private silencedCount = 0;
  private readonly turns = { up: 0, down: 0 };
  private readonly timer: NodeJS.Timeout;
  private readonly target: { host: string; port: number };

  private constructor(target: { host: string; port: number }, profile: LinkProfile) {
    this.target = target;
    this.server = net.createServer((client) => this.accept(client));
    this.reset(profile);
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  /** A link to `targetUrl` (http://127.0.0.1:PORT), listening on a free port of 127.0.0.1. */
  static async start(targetUrl: string, profile: LinkProfile): Promise<LinkEmulator> {
    const target = new URL(targetUrl);
    const link = new LinkEmulator({ host: target.hostname, port: Number(target.port) }, profile);
    await new Promise<void>((resolve) => link.server.listen(0, '127.0.0.1', resolve));
    link.url = `http://127.0.0.1:${(link.server.address() as AddressInfo).port}`;
    return link;
  }

  /** Ends every connection and starts the link afresh: time 0 of its schedule, counters at 0. */
  restart(profile: LinkProfile = this.settings): void {
    for (const connection of [...this.connections, ...this.silenced]) this.destroy(connection);
    this.reset(profile);
  }

  get profile(): LinkProfile {
    return this.settings;
  }

  get stats(): LinkStats {
    return {
      connections: this.accepted + this.refused,
      upBytes: this.uplink.bytes,
      upLostBytes: this.uplink.lostBytes,
      downBytes: this.downlink.bytes,
      downLostBytes: this.downlink.lostBytes,
      resets: this.resets,
      silenced: this.silencedCount,
    };
  }

  /** Milliseconds since the (re)start. */
  elapsedMs(): number {
    return performance.now() - this.startedAt;
  }

  /** Time down, in ms, between the (re)start and `elapsedMs`. */
  downtimeMs(until = this.elapsedMs()): number {
    let down = 0;
    for (const outage of this.settings.outages ?? []) {
      if (outage.atMs >= until) break;
      down += Math.min(until, outage.atMs + outage.durationMs) - outage.atMs;
    }
    return down;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const connection of [...this.connections, ...this.silenced]) this.destroy(connection);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private reset(profile: LinkProfile): void {
    this.settings = profile;
    this.uplink = new Direction(profile.upBytesPerSecond, profile.upBufferBytes, profile.delayMs, (s) => this.arrive(s, 'up'));
    this.downlink = new Direction(profile.downBytesPerSecond, profile.downBufferBytes, profile.delayMs, (s) => this.arrive(s, 'down'));
    this.startedAt = performance.now();
    this.nextOutage = 0;
    this.current = null;
    this.refused = this.accepted = this.resets = this.silencedCount = 0;
  }

  private accept(client: net.Socket): void {
    client.on('error', () => undefined);
    if (this.current?.kind === 'reset') {
      this.refused += 1;
      this.resets += 1;
      client.resetAndDestroy();
      return;
    }
    this.accepted += 1;
    const upstream = net.connect(this.target.port, this.target.host);
    upstream.setNoDelay(true);
    client.setNoDelay(true);
    const now = performance.now();
    // During a silent outage the phone's SYN gets through only once the outage ends.
    const from = this.current?.kind === 'silent' ? this.startedAt + this.current.atMs + this.current.durationMs : now;
    const connection = new Connection(client, upstream, from + 2 * this.settings.delayMs);
    this.connections.add(connection);
    client.on('close', () => {
      if (connection.state === 'silent') this.dropSilenced(connection, 'client');
    });
    upstream.on('close', () => {
      if (connection.state === 'silent') this.dropSilenced(connection, 'upstream');
    });
  }

  private tick(): void {
    const now = performance.now();
    this.followSchedule(now);
    const up = this.current === null;
    this.feed(now, up);
    this.uplink.step(now, up);
    this.downlink.step(now, up);
    this.feed(now, up);
  }

  /** Starts and ends outages as the schedule says; each outage is taken once. */
  private followSchedule(now: number): void {
    const elapsed = now - this.startedAt;
    if (this.current && elapsed >= this.current.atMs + this.current.durationMs) this.current = null;
    const outages = this.settings.outages ?? [];
    while (this.nextOutage < outages.length && outages[this.nextOutage]!.atMs <= elapsed) {
      const outage = outages[this.nextOutage]!;
      this.nextOutage += 1;
      this.begin(outage);
      // An outage the event loop slept through still cut what was open.
      this.current = elapsed < outage.atMs + outage.durationMs ? outage : null;
    }
  }

  private begin(outage: Outage): void {
    const open = [...this.connections].filter((c) => c.state === 'open');
    const dies = new Set(open);
    this.uplink.drop((c) => dies.has(c));
    this.downlink.drop((c) => dies.has(c));
    for (const connection of open) {
      if (outage.kind === 'reset') {
        this.resets += 1;
        this.destroy(connection, true);
      } else {
        this.silencedCount += 1;
        this.silence(connection);
      }
    }
  }

  /**
   * Moves bytes from the sockets into the link while its buffers have room, a segment per
   * connection in turn (the turn carries over between ticks, so no connection is favoured).
   */
  private feed(now: number, up: boolean): void {
    if (!up) return;
    const ready = [...this.connections].filter((c) => c.state === 'open' && c.sendsFrom <= now);
    if (ready.length === 0) return;
    for (const side of ['up', 'down'] as const) {
      const direction = side === 'up' ? this.uplink : this.downlink;
      let turn = this.turns[side];
      // Each pass either moves a byte into a buffer with room, or counts a connection with nothing to move.
      for (let idle = 0; idle < ready.length && direction.room > 0; turn += 1) {
        const piece = ready[turn % ready.length]![side].take(Math.min(SEGMENT, direction.room));
        if (piece) {
          direction.enqueue(ready[turn % ready.length]!, piece, now);
          idle = 0;
        } else {
          idle += 1;
        }
      }
      this.turns[side] = turn % ready.length;
      for (const connection of ready) {
        const marker = connection[side].finalMarker();
        if (marker === null) continue;
        connection[side].markerSent = true;
        direction.enqueue(connection, marker, now);
      }
    }
  }

  /** A segment has crossed the link: hand it to the other side. */
  private arrive(segment: Segment, direction: 'up' | 'down'): void {
    const { connection } = segment;
    if (connection.state !== 'open') return;
    const to = direction === 'up' ? connection.upstream : connection.client;
    if (segment.bytes === 'end') to.end();
    else if (segment.bytes === 'close') this.destroy(connection);
    else to.write(segment.bytes);
  }

  private silence(connection: Connection): void {
    connection.state = 'silent';
    this.connections.delete(connection);
    this.silenced.add(connection);
    // Neither end hears anything again; each may fill its socket buffers and then wait.
    connection.client.pause();
    connection.upstream.pause();
    connection.up.drop();
    connection.down.drop();
    const limit = setTimeout(() => this.destroy(connection), SILENT_UPSTREAM_LIMIT_MS);
    limit.unref();
  }

  /** One end of a silenced connection gave up; the other never learns (until the limit). */
  private dropSilenced(connection: Connection, side: 'client' | 'upstream'): void {
    if (side === 'client' && connection.upstream.destroyed) this.destroy(connection);
    if (side === 'upstream' && connection.client.destroyed) this.destroy(connection);
  }

  private destroy(connection: Connection, reset = false): void {
    connection.state = 'gone';
    this.connections.delete(connection);
    this.silenced.delete(connection);
    if (reset) {
      if (!connection.client.destroyed) connection.client.resetAndDestroy();
      if (!connection.upstream.destroyed) connection.upstream.resetAndDestroy();
    } else {
      connection.client.destroy();
      connection.upstream.destroy();
    }
  }
}
