/**
 * Configuration from the environment, each setting also a command-line flag
 * (--port 9000 or --port=9000 for PORT). Flags win over the environment.
 */
import path from 'node:path';
import type { RegistrationMode } from './domain/users/user-service.js';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string;
  /** fdatasync chunks and fsync database commits before answering. */
  durableWrites: boolean;
  /** Null: blobs on the local disk under DATA_DIR; `s3://BUCKET[/PREFIX]`: in S3-compatible storage. */
  storageUrl: string | null;
  /** The S3 endpoint (e.g. http://127.0.0.1:7480); null for AWS. */
  s3Endpoint: string | null;
  s3Region: string;
  s3ForcePathStyle: boolean;
  /** How long S3 may take to connect, to answer a call that moves no bulk data, or stay silent mid-transfer. */
  s3TimeoutSeconds: number;
  maxAttachmentSize: number;
  maxOpenAttachments: number;
  /** Bytes one user's open attachments may declare but not have sent yet (429 reservation_limit beyond). */
  maxReservedBytes: number;
  /** Separate received ranges one attachment may have; a chunk that would add one more is refused. */
  maxAttachmentRanges: number;
  attachmentIdleTimeoutSeconds: number;
  minFreeBytes: number;
  /** A request body that sends nothing for this long is cut off. */
  uploadIdleTimeoutSeconds: number;
  sweepIntervalSeconds: number;
  /** A probe of an uploaded file that takes longer is stopped, and the file counts as unsupported. */
  probeTimeoutSeconds: number;
  registrationEnabled: boolean;
  /** Who may register (POST /users); null: as REGISTRATION_ENABLED says (see registrationMode). */
  registration: RegistrationMode | null;
  /** Origins allowed to call from a browser: a list, '*' for any, or null for none (no CORS). */
  corsOrigins: string[] | '*' | null;
  /** Registrations per minute from one address; 0 switches the limit off. */
  registrationRateLimit: number;
  /** Token requests per minute from one address; 0 switches the limit off. */
  tokenRateLimit: number;
  /** Seconds an access token lives; 0: no expiry. */
  accessTokenTtlSeconds: number;
  /** Sign-in with the app's identity provider: its JWKS URL, or a shared HS256 secret. */
  authJwksUrl: string | null;
  authJwtSecret: string | null;
  authIssuer: string | null;
  authAudience: string | null;
  authUsernameClaim: string;
  authClockSkewSeconds: number;
  authJwksCooldownSeconds: number;
  /** Where events are POSTed (Standard Webhooks), and the whsec_ secret they are signed with. */
  webhookUrl: string | null;
  webhookSecret: string | null;
  webhookTimeoutSeconds: number;
  /** Blobs that no record names are deleted once they are this old. */
  orphanGraceSeconds: number;
  /** The ffmpeg program: a path, or a name looked up on PATH at start; media processing is off without it. */
  ffmpegPath: string;
  /** Seconds one ffmpeg or sharp run of a media job may take before it is killed. */
  mediaJobTimeoutSeconds: number;
  /** Media jobs one node runs at the same time. */
  mediaConcurrency: number;
  /** Sizes one image may have on demand (image_size_hint) besides thumb and full; past them, the nearest stored size. */
  imageSizesPerImage: number;
  /** Images one node resizes at the same time (each on a thread of libuv's pool). */
  imageConcurrency: number;
  /** Resizes that may wait for a turn; a GET finding the line full gets null for the sizes it would make. */
  imageQueueLimit: number;
  /** Requests per minute from one address that may make new image sizes; 0 switches the limit off. */
  imageSizeRateLimit: number;
  passwordHashLog2N: number;
  /** Fastify's trustProxy: false, true (trust every hop), a hop count, or addresses/CIDRs. */
  trustProxy: boolean | number | string;
  /** Seconds that requests in flight may take to finish after SIGTERM before they are cut. */
  shutdownGraceSeconds: number;
  /** When set, GET /metrics needs `Authorization: Bearer <this>`. */
  metricsToken: string | null;
  /** When set, /metrics is served on this port (at metricsHost) only, not on the API's port. */
  metricsPort: number | null;
  metricsHost: string;
  logLevel: string;
  /** `json` (one object per line, for machines) or `pretty` (for people). */
  logFormat: 'json' | 'pretty';
}

/** REGISTRATION when set; else the older REGISTRATION_ENABLED: true is open, false closed. */
export function registrationMode(config: Pick<Config, 'registration' | 'registrationEnabled'>): RegistrationMode {
  return config.registration ?? (config.registrationEnabled ? 'open' : 'closed');
}

interface Setting {
  env: string;
  parse: (raw: string) => Config[keyof Config];
  fallback: (partial: Partial<Config>) => Config[keyof Config];
  help: string;
}

function integer(name: string, min: number): (raw: string) => number {
  return (raw) => {
    if (!/^[0-9]+$/.test(raw)) throw new Error(`${name} must be a whole number, got ${JSON.stringify(raw)}`);
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value < min) throw new Error(`${name} must be at least ${min}`);
    return value;
  };
}

function boolean(name: string): (raw: string) => boolean {
  return (raw) => {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    throw new Error(`${name} must be true or false, got ${JSON.stringify(raw)}`);
  };
}

function origins(raw: string): string[] | '*' | null {
  const list = raw.split(',').map((origin) => origin.trim()).filter((origin) => origin !== '');
  if (list.length === 0) return null;
  if (list.includes('*')) return '*';
  for (const origin of list) {
    if (!URL.canParse(origin) || new URL(origin).origin !== origin) throw new Error(`CORS_ORIGINS must list origins like https://app.example.com, got ${JSON.stringify(origin)}`);
  }
  return list;
}

function url(name: string): (raw: string) => string {
  return (raw) => {
    if (!URL.canParse(raw) || !/^https?:$/.test(new URL(raw).protocol)) throw new Error(`${name} must be an http:// or https:// URL, got ${JSON.stringify(raw)}`);
    return raw;
  };
}

const SETTINGS: { [K in keyof Config]: Setting } = {
  port: { env: 'PORT', parse: integer('PORT', 0), fallback: () => 8080, help: 'TCP port to listen on' },
  host: { env: 'HOST', parse: (raw) => raw, fallback: () => '127.0.0.1', help: 'address to listen on' },
  dataDir: { env: 'DATA_DIR', parse: (raw) => raw, fallback: () => './data', help: 'where files and the SQLite database live' },
  databaseUrl: {
    env: 'DATABASE_URL',
    parse: (raw) => raw,
    fallback: (c) => path.join(c.dataDir ?? './data', 'trickle.sqlite'),
    help: 'SQLite file path or postgres://… URL',
  },
  durableWrites: { env: 'DURABLE_WRITES', parse: boolean('DURABLE_WRITES'), fallback: () => true, help: 'fsync before acknowledging (only turn off for benchmarks)' },
  storageUrl: {
    env: 'STORAGE_URL',
    parse: (raw) => {
      if (!/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[A-Za-z0-9._/-]*)?$/.test(raw)) throw new Error(`STORAGE_URL must be s3://BUCKET or s3://BUCKET/PREFIX, got ${JSON.stringify(raw)}`);
      return raw;
    },
    fallback: () => null,
    help: 's3://BUCKET[/PREFIX] keeps every byte in S3-compatible storage (default: the local disk under DATA_DIR)',
  },
  s3Endpoint: { env: 'S3_ENDPOINT', parse: url('S3_ENDPOINT'), fallback: () => null, help: 'S3 endpoint URL, e.g. http://127.0.0.1:7480 (leave out for AWS)' },
  s3Region: { env: 'S3_REGION', parse: (raw) => raw, fallback: () => 'us-east-1', help: 'S3 region' },
  s3ForcePathStyle: {
    env: 'S3_FORCE_PATH_STYLE',
    parse: boolean('S3_FORCE_PATH_STYLE'),
    fallback: (c) => c.s3Endpoint !== null && c.s3Endpoint !== undefined,
    help: 'path-style S3 URLs (default: true when S3_ENDPOINT is set)',
  },
  s3TimeoutSeconds: {
    env: 'S3_TIMEOUT',
    parse: integer('S3_TIMEOUT', 1),
    fallback: () => 10,
    help: 'seconds S3 may take to connect, to answer a call that moves no bulk data, or stay silent mid-transfer (then 503)',
  },
  maxAttachmentSize: { env: 'MAX_ATTACHMENT_SIZE', parse: integer('MAX_ATTACHMENT_SIZE', 1), fallback: () => 2 * 1024 ** 3, help: 'largest attachment in bytes' },
  maxOpenAttachments: { env: 'MAX_OPEN_ATTACHMENTS', parse: integer('MAX_OPEN_ATTACHMENTS', 1), fallback: () => 100, help: 'unused attachments one user may hold' },
  maxReservedBytes: {
    env: 'MAX_RESERVED_BYTES',
    parse: integer('MAX_RESERVED_BYTES', 1),
    // Two attachments of the largest size may be under way at once.
    fallback: (c) => 2 * (c.maxAttachmentSize ?? 2 * 1024 ** 3),
    help: "bytes one user's open attachments may declare but not have sent yet (default: twice MAX_ATTACHMENT_SIZE)",
  },
  maxAttachmentRanges: {
    env: 'MAX_ATTACHMENT_RANGES',
    parse: integer('MAX_ATTACHMENT_RANGES', 1),
    fallback: () => 10_000,
    help: 'separate received ranges one attachment may have (409 beyond)',
  },
  attachmentIdleTimeoutSeconds: {
    env: 'ATTACHMENT_IDLE_TIMEOUT',
    parse: integer('ATTACHMENT_IDLE_TIMEOUT', 1),
    fallback: () => 24 * 3600,
    help: 'seconds an unused attachment lives after its last chunk',
  },
  minFreeBytes: { env: 'MIN_FREE_BYTES', parse: integer('MIN_FREE_BYTES', 0), fallback: () => 256 * 1024 ** 2, help: 'disk space kept free; creates beyond it answer 507' },
  uploadIdleTimeoutSeconds: { env: 'UPLOAD_IDLE_TIMEOUT', parse: integer('UPLOAD_IDLE_TIMEOUT', 1), fallback: () => 60, help: 'seconds a stalled request may send nothing' },
  sweepIntervalSeconds: { env: 'SWEEP_INTERVAL', parse: integer('SWEEP_INTERVAL', 1), fallback: () => 60, help: 'seconds between expiry sweeps' },
  probeTimeoutSeconds: { env: 'PROBE_TIMEOUT', parse: integer('PROBE_TIMEOUT', 1), fallback: () => 10, help: 'seconds a probe of an uploaded file may take before the file counts as unsupported' },
  corsOrigins: {
    env: 'CORS_ORIGINS',
    parse: origins,
    fallback: () => null,
    help: 'origins that may call from a browser, comma-separated, or * for any (default: none)',
  },
  registrationEnabled: { env: 'REGISTRATION_ENABLED', parse: boolean('REGISTRATION_ENABLED'), fallback: () => true, help: 'allow POST /users (REGISTRATION, when set, wins)' },
  registration: {
    env: 'REGISTRATION',
    parse: (raw) => {
      if (raw !== 'open' && raw !== 'invite' && raw !== 'closed') throw new Error(`REGISTRATION must be open, invite or closed, got ${JSON.stringify(raw)}`);
      return raw;
    },
    fallback: () => null,
    help: 'open, invite (POST /users needs an invite code) or closed; unset: open, or closed with REGISTRATION_ENABLED=false',
  },
  registrationRateLimit: { env: 'REGISTRATION_RATE_LIMIT', parse: integer('REGISTRATION_RATE_LIMIT', 0), fallback: () => 10, help: 'registrations per minute per address (0: no limit)' },
  tokenRateLimit: { env: 'TOKEN_RATE_LIMIT', parse: integer('TOKEN_RATE_LIMIT', 0), fallback: () => 30, help: 'token requests per minute per address (0: no limit)' },
  accessTokenTtlSeconds: { env: 'ACCESS_TOKEN_TTL', parse: integer('ACCESS_TOKEN_TTL', 0), fallback: () => 0, help: 'seconds an access token lives (0: no expiry)' },
  authJwksUrl: { env: 'AUTH_JWKS_URL', parse: url('AUTH_JWKS_URL'), fallback: () => null, help: "JWKS URL of the app's identity provider: its JWTs sign users in" },
  authJwtSecret: { env: 'AUTH_JWT_SECRET', parse: (raw) => raw, fallback: () => null, help: 'shared secret (32+ bytes) for HS256 JWTs from the app' },
  authIssuer: { env: 'AUTH_ISSUER', parse: (raw) => raw, fallback: () => null, help: 'the iss a JWT must have (required with JWTs)' },
  authAudience: { env: 'AUTH_AUDIENCE', parse: (raw) => raw, fallback: () => null, help: 'the aud a JWT must have (required with JWTs)' },
  authUsernameClaim: {
    env: 'AUTH_USERNAME_CLAIM',
    parse: (raw) => raw,
    fallback: () => 'preferred_username',
    help: "JWT claim naming a new user's username",
  },
  authClockSkewSeconds: { env: 'AUTH_CLOCK_SKEW', parse: integer('AUTH_CLOCK_SKEW', 0), fallback: () => 30, help: 'seconds of clock difference allowed on JWT exp/nbf' },
  authJwksCooldownSeconds: {
    env: 'AUTH_JWKS_COOLDOWN',
    parse: integer('AUTH_JWKS_COOLDOWN', 0),
    fallback: () => 30,
    help: 'least seconds between JWKS fetches for unknown key ids',
  },
  webhookUrl: { env: 'WEBHOOK_URL', parse: url('WEBHOOK_URL'), fallback: () => null, help: 'where events are POSTed (needs WEBHOOK_SECRET)' },
  webhookSecret: { env: 'WEBHOOK_SECRET', parse: (raw) => raw, fallback: () => null, help: 'whsec_<base64> secret that signs webhooks' },
  webhookTimeoutSeconds: { env: 'WEBHOOK_TIMEOUT', parse: integer('WEBHOOK_TIMEOUT', 1), fallback: () => 10, help: 'seconds a webhook receiver has to answer' },
  orphanGraceSeconds: { env: 'ORPHAN_GRACE', parse: integer('ORPHAN_GRACE', 0), fallback: () => 3600, help: 'seconds before an unreferenced file is deleted' },
  ffmpegPath: { env: 'FFMPEG_PATH', parse: (raw) => raw, fallback: () => 'ffmpeg', help: 'ffmpeg program, a path or a name on PATH; without it media is not processed' },
  mediaJobTimeoutSeconds: {
    env: 'MEDIA_JOB_TIMEOUT',
    parse: integer('MEDIA_JOB_TIMEOUT', 1),
    fallback: () => 600,
    help: 'seconds one ffmpeg or sharp run of a media job may take before it is killed',
  },
  mediaConcurrency: { env: 'MEDIA_CONCURRENCY', parse: integer('MEDIA_CONCURRENCY', 1), fallback: () => 1, help: 'media jobs one node runs at the same time' },
  imageSizesPerImage: {
    env: 'IMAGE_SIZES_PER_IMAGE',
    parse: integer('IMAGE_SIZES_PER_IMAGE', 0),
    fallback: () => 16,
    help: 'sizes one image may have on demand (image_size_hint) besides thumb and full; past them, the nearest stored size is answered',
  },
  imageConcurrency: {
    env: 'IMAGE_CONCURRENCY',
    parse: (raw) => {
      const value = integer('IMAGE_CONCURRENCY', 1)(raw);
      // Each resize holds a thread of libuv's pool (4 threads) while it runs; file and DNS work needs the rest.
      if (value > 3) throw new Error('IMAGE_CONCURRENCY must be at most 3');
      return value;
    },
    fallback: () => 1,
    help: 'images one node resizes at the same time (1 to 3)',
  },
  imageQueueLimit: {
    env: 'IMAGE_QUEUE_LIMIT',
    parse: integer('IMAGE_QUEUE_LIMIT', 0),
    fallback: () => 8,
    help: 'resizes that may wait for a turn; past it a GET gets null for the sizes it would make',
  },
  imageSizeRateLimit: {
    env: 'IMAGE_SIZE_RATE_LIMIT',
    parse: integer('IMAGE_SIZE_RATE_LIMIT', 0),
    fallback: () => 10,
    help: 'requests per minute per address that may make new image sizes (0: no limit)',
  },
  passwordHashLog2N: { env: 'PASSWORD_HASH_LOG2N', parse: integer('PASSWORD_HASH_LOG2N', 10), fallback: () => 15, help: 'scrypt cost (log2 N)' },
  trustProxy: {
    env: 'TRUST_PROXY',
    parse: (raw) => {
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      if (/^[0-9]+$/.test(raw)) return Number(raw);
      return raw;
    },
    fallback: () => false,
    help: 'trust X-Forwarded-For from a reverse proxy: true, a number of hops, or comma-separated addresses/CIDRs',
  },
  shutdownGraceSeconds: {
    env: 'SHUTDOWN_GRACE',
    parse: integer('SHUTDOWN_GRACE', 0),
    fallback: () => 30,
    help: 'seconds requests in flight may take to finish after SIGTERM before they are cut',
  },
  metricsToken: { env: 'METRICS_TOKEN', parse: (raw) => raw, fallback: () => null, help: 'bearer token GET /metrics requires (default: none, open)' },
  metricsPort: {
    env: 'METRICS_PORT',
    parse: integer('METRICS_PORT', 1),
    fallback: () => null,
    help: 'serve /metrics on this port only, not on the API port (default: none, the API port)',
  },
  metricsHost: { env: 'METRICS_HOST', parse: (raw) => raw, fallback: () => '127.0.0.1', help: 'address the METRICS_PORT listener binds' },
  logLevel: { env: 'LOG_LEVEL', parse: (raw) => raw, fallback: () => 'info', help: 'fatal, error, warn, info, debug or silent' },
  logFormat: {
    env: 'LOG_FORMAT',
    parse: (raw) => {
      if (raw !== 'json' && raw !== 'pretty') throw new Error(`LOG_FORMAT must be json or pretty, got ${JSON.stringify(raw)}`);
      return raw;
    },
    fallback: () => 'json',
    help: 'json (one object per line) or pretty (for people)',
  },
};

function flagName(env: string): string {
  return '--' + env.toLowerCase().replace(/_/g, '-');
}

/** Reads the configuration; throws with a readable message on bad values or unknown flags. */
export function loadConfig(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Config {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    const [name, inline] = arg.split(/=(.*)/s, 2) as [string, string | undefined];
    const setting = Object.values(SETTINGS).find((s) => flagName(s.env) === name);
    if (!setting) throw new Error(`unknown option ${name}; try --help`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`${name} needs a value`);
    flags.set(setting.env, value);
  }
  const config: Partial<Config> = {};
  // In declaration order, so fallbacks can use settings declared before them.
  for (const [key, setting] of Object.entries(SETTINGS) as Array<[keyof Config, Setting]>) {
    const raw = flags.get(setting.env) ?? env[setting.env];
    (config as Record<string, unknown>)[key] = raw !== undefined && raw !== '' ? setting.parse(raw) : setting.fallback(config);
  }
  return config as Config;
}

/** Each setting's default as people read it ("none" when unset), in declaration order. */
export function configDefaults(): Array<{ env: string; flag: string; fallback: string; help: string }> {
  const partial: Partial<Config> = {};
  return (Object.entries(SETTINGS) as Array<[keyof Config, Setting]>).map(([key, setting]) => {
    const value = setting.fallback(partial);
    (partial as Record<string, unknown>)[key] = value;
    const fallback = value === null || value === undefined || value === '' ? 'none' : Array.isArray(value) ? value.join(',') || 'none' : String(value);
    return { env: setting.env, flag: flagName(setting.env), fallback, help: setting.help };
  });
}

export function configHelp(): string {
  return configDefaults()
    .map((s) => `  ${s.flag.padEnd(28)} ${s.env.padEnd(26)} ${s.help} (default: ${s.fallback})`)
    .join('\n');
}
