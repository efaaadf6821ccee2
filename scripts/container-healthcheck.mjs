#!/usr/bin/env node
// The container image's HEALTHCHECK (Containerfile): liveness, GET /healthz on the server in
// the same container (the process serves and its database answers; the storage is not
// contacted, since restarting a container does not bring a storage back: proxies route by
// /readyz instead, docs/operations.md). Exit 0 when it answers 200 within 4 s, else 1.
const host = process.env.HOST ?? '127.0.0.1';
// A server listening on every address is reached on the loopback one.
const target = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
const url = `http://${target.includes(':') ? `[${target}]` : target}:${process.env.PORT ?? '8080'}/healthz`;
try {
  const reply = await fetch(url, { signal: AbortSignal.timeout(4000) });
  process.exit(reply.status === 200 ? 0 : 1);
} catch {
  process.exit(1);
}
