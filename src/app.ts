/**
 * Builds the application: adapters (database, storage), domain services, and the
 * HTTP layer on Fastify. server.ts only listens and shuts down.
 */
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { sql } from 'kysely';
import { registrationMode, type Config } from './config.js';
import { openDatabase, type Database } from './db/database.js';
import { SqlAttachmentRepository } from './db/repositories/attachments-repository.js';
import { SqlBlobReferences } from './db/repositories/blob-references.js';
import { SqlSweepLedger } from './db/repositories/sweep-ledger.js';
import { SqlClipRepository } from './db/repositories/clips-repository.js';
import { SqlMessageRepository } from './db/repositories/messages-repository.js';
import { SqlTokenRepository, SqlUserRepository } from './db/repositories/users-repository.js';
import { SqlExternalIdentityRepository } from './db/repositories/external-identities-repository.js';
import { SqlBlockRepository } from './db/repositories/blocks-repository.js';
import { SqlInviteRepository } from './db/repositories/invites-repository.js';
import { SqlErasureRepository } from './db/repositories/erasure-repository.js';
import { SqlProbeVerdicts } from './db/repositories/probe-verdicts.js';
import { JwtVerifier } from './auth/jwt-verifier.js';
import { ExternalSignIn } from './domain/users/external-sign-in.js';
import { AttachmentService } from './domain/attachments/attachment-service.js';
import { ClipService } from './domain/clips/clip-service.js';
import { OrphanSweeper } from './domain/maintenance/orphan-sweeper.js';
import { MediaIntake } from './domain/media/media-intake.js';
import { MEDIA_JOB, MEDIA_POLICY, MediaProcessingService, type MediaJobPayload } from './domain/media/processing.js';
import { SqlProcessingRepository } from './db/repositories/media-processing-repository.js';
import { FfmpegAudioProcessor } from './media/audio-renditions.js';
import { locateFfmpeg } from './media/ffmpeg.js';
import { SharpImageProcessor } from './media/image-renditions.js';
import { ImageSizes, NEW_SIZES_PER_REQUEST } from './domain/media/image-sizes.js';
import { PerMinuteRate } from './domain/rate-window.js';
import { WorkQueue } from './domain/work-queue.js';
import { RenditionStorage } from './media/rendition-storage.js';
import { MessageService } from './domain/messages/message-service.js';
import type { JobQueue } from './domain/jobs/ports.js';
import { Outbox } from './domain/jobs/outbox.js';
import { webhookKey, webhookOutbox } from './webhooks/webhook-wiring.js';
import type { JobLog } from './jobs/job-log.js';
import { openJobQueue } from './jobs/open-job-queue.js';
import type { BlobStore } from './domain/storage/ports.js';
import type { Clock } from './domain/clock.js';
import { UserService } from './domain/users/user-service.js';
import { BlockService } from './domain/users/blocks.js';
import { InviteCodes } from './domain/users/invites.js';
import { AccountErasure, registerErasureJob } from './domain/users/account-erasure.js';
import { ApiError } from './domain/errors.js';
import { clientErrorHandler } from './http/client-errors.js';
import { rejectBodyCodings } from './http/codings.js';
import { Drain } from './http/drain.js';
import { registerErrorHandler } from './http/error-handler.js';
import { completeOpenApi } from './http/openapi.js';
import { PrometheusMetrics, registerMetricsRoute, registerRequestMetrics } from './http/metrics.js';
import { registerNotFound } from './http/method-not-allowed.js';
import { parseQueryString, parseUrlQuery, rejectMalformedQuery } from './http/params.js';
import { attachmentRoutes } from './http/routes/attachments.js';
import { registerCors } from './http/cors.js';
import { resumableUploadRoutes } from './http/protocols/index.js';
import { SqlUploadExtrasRepository } from './db/repositories/upload-extras-repository.js';
import { ResumableUploads } from './domain/protocols/resumable-uploads.js';
import { clipRoutes } from './http/routes/clips.js';
import { messageRoutes } from './http/routes/messages.js';
import { healthRoutes } from './http/routes/health.js';
import { userRoutes } from './http/routes/users.js';
import { blockRoutes } from './http/routes/blocks.js';
import { webRoutes } from './http/web.js';
import { IsolatedProber } from './media/isolated-prober.js';
import { sniffContentType, warmUpSniffer } from './media/sniff.js';
import { openBlobStore } from './storage/open-store.js';
import { InProcessPrefixHasher, WorkerPrefixHasher } from './storage/prefix-hashers.js';
import { mkdir } from 'node:fs/promises';
import { LogDestination } from './log-destination.js';

export interface Services {
  database: Database;
  store: BlobStore;
  users: UserService;
  /** Who blocks whom (SPEC 10). */
  blocks: BlockService;
  /** Invite codes for REGISTRATION=invite (SPEC 10). */
  invites: InviteCodes;
  /** Erasing accounts (SPEC 10), a durable job. */
  erasure: AccountErasure;
  attachments: AttachmentService;
  clips: ClipService;
  messages: MessageService;
  orphans: OrphanSweeper;
  metrics: PrometheusMetrics;
  /** The durable job queue (src/domain/jobs/ports.ts); register job types before the app is ready. */
  jobs: JobQueue;
  /** Jobs committed with every new clip or message (src/domain/jobs/outbox.ts). */
  outbox: Outbox;
  /** Media processing (SPEC 8): renditions, loudness, waveforms, image sizes. */
  media: MediaProcessingService;
}

export interface App {
  http: FastifyInstance;
  services: Services;
  drain: Drain;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Largest non-file request body (JSON, urlencoded) and multipart field. */
const FORM_BODY_LIMIT = 1024 * 1024;

/** A hop count means: trust that many proxies nearest to the server. */
function trustProxy(setting: Config['trustProxy']): boolean | string | ((address: string, hop: number) => boolean) {
  return typeof setting === 'number' ? (_address, hop) => hop < setting : setting;
}

/** Both formats write through `stdout`, which drops what it cannot write instead of waiting. */
async function logger(config: Config, stdout: LogDestination): Promise<FastifyServerOptions['logger']> {
  const options = { level: config.logLevel, redact: ['req.headers.authorization', 'req.headers.cookie'] };
  if (config.logFormat === 'json') return { ...options, stream: stdout };
  const { prettyFactory } = (await import('pino-pretty')).default;
  const pretty = prettyFactory({ translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true });
  return { ...options, stream: { write: (line: string) => stdout.write(pretty(line)) } };
}

function jwtVerifier(config: Config, clock: Clock): JwtVerifier {
  return new JwtVerifier(
    {
      jwksUrl: config.authJwksUrl,
      secret: config.authJwtSecret,
      issuer: config.authIssuer ?? '',
      audience: config.authAudience ?? '',
      usernameClaim: config.authUsernameClaim,
      clockSkewSeconds: config.authClockSkewSeconds,
      jwksCooldownMs: config.authJwksCooldownSeconds * 1000,
    },
    clock,
  );
}

export interface BuildOptions {
  clock?: Clock;
  logger?: boolean;
  /** Idle poll interval of the job queue in ms (tests shorten it). */
  jobPollMs?: number;
}

export async function buildApp(config: Config, options: BuildOptions = {}): Promise<App> {
  const clock = options.clock ?? systemClock;
  // Built first: a bad identity setting fails the start before anything is opened.
  const verifier = config.authJwksUrl || config.authJwtSecret ? jwtVerifier(config, clock) : null;
  webhookKey(config);
  await mkdir(config.dataDir, { recursive: true });
  const database = await openDatabase({ url: config.databaseUrl, durable: config.durableWrites });
  const store = await openBlobStore(config);
  const limits = {
    maxSize: config.maxAttachmentSize,
    maxOpenPerUser: config.maxOpenAttachments,
    maxReservedBytes: config.maxReservedBytes,
    maxRanges: config.maxAttachmentRanges,
    idleTimeoutMs: config.attachmentIdleTimeoutSeconds * 1000,
    minFreeBytes: config.minFreeBytes,
  };
  const userRepository = new SqlUserRepository(database);
  const blockRepository = new SqlBlockRepository(database);
  const inviteRepository = new SqlInviteRepository(database);
  const attachmentRepository = new SqlAttachmentRepository(database);
  // SHA1s of growing uploads: read and computed on a worker thread where uploads are local
  // files, off the request thread; streamed from the store otherwise.
  const hasher = store.localPaths ? new WorkerPrefixHasher() : new InProcessPrefixHasher();
  const attachments = new AttachmentService(attachmentRepository, store, clock, limits, sniffContentType, hasher);
  const metrics = new PrometheusMetrics();
  // The JSON log: a line that cannot be written (a full disk) is dropped and counted, never waited for.
  const logOutput = new LogDestination(1, (lines) => metrics.logLinesDropped(lines));
  attachments.metrics = metrics;
  // Probing untrusted files runs on a worker thread with a deadline, off the request thread.
  const prober = new IsolatedProber(config.probeTimeoutSeconds * 1000);
  const intake = new MediaIntake(attachments, store, prober, new SqlProbeVerdicts(database));
  const external = verifier ? new ExternalSignIn(verifier, new SqlExternalIdentityRepository(database), clock) : null;
  const outbox = new Outbox();
  const jobLog: JobLog = {
    warn: (message) => http.log.warn(message),
    error: (error, message) => http.log.error({ err: error }, message),
  };
  const jobs = openJobQueue(database, config.databaseUrl, jobLog, options.jobPollMs ? { pollMs: options.jobPollMs } : {});
  // Media processing (SPEC 8): ffmpeg is looked for once; without it clips say `unavailable`.
  const ffmpeg = await locateFfmpeg(config.ffmpegPath);
  const renditions = new RenditionStorage(store);
  const mediaTimeoutMs = config.mediaJobTimeoutSeconds * 1000;
  const processingRepository = new SqlProcessingRepository(database);
  const imageSizes = new ImageSizes({
    repository: processingRepository,
    processor: new SharpImageProcessor(renditions, mediaTimeoutMs),
    disposal: renditions,
    clock,
    work: new WorkQueue(config.imageConcurrency, config.imageQueueLimit),
    rate: new PerMinuteRate(config.imageSizeRateLimit, clock),
    metrics,
    limits: { sizesPerImage: config.imageSizesPerImage, newSizesPerRequest: NEW_SIZES_PER_REQUEST },
  });
  const media = new MediaProcessingService(
    processingRepository,
    ffmpeg ? new FfmpegAudioProcessor(ffmpeg, renditions, { timeoutMs: mediaTimeoutMs }) : null,
    imageSizes,
    renditions,
    clock,
  );
  if (ffmpeg) {
    jobs.register<MediaJobPayload>(MEDIA_JOB, { ...MEDIA_POLICY, concurrency: config.mediaConcurrency }, (payload, job) =>
      media.run({ type: payload.subject_type, id: payload.subject_id }, job),
    );
  }
  outbox.add(async (scope, created) => {
    if (await media.begin(scope, created)) await jobs.enqueue(MEDIA_JOB, { subject_type: created.type, subject_id: created.id }, { within: scope });
  });
  const clipRepository = new SqlClipRepository(database);
  const messageRepository = new SqlMessageRepository(database);
  const webhooks = webhookOutbox(
    config,
    jobs,
    {
      attachment: (id) => attachmentRepository.findById(id),
      clip: (id) => clipRepository.findById(id),
      message: (id) => messageRepository.findById(id),
    },
    clock,
  );
  if (webhooks) {
    attachments.events = webhooks;
    media.events = webhooks;
    outbox.add((scope, created) => webhooks.record({ type: `${created.type}.created`, subjectId: created.id, occurredAt: clock.now() }, scope));
  }
  const erasure = new AccountErasure(new SqlErasureRepository(database), store, jobs, clock, webhooks);
  registerErasureJob(jobs, erasure);
  const services: Services = {
    database,
    store,
    users: new UserService(userRepository, new SqlTokenRepository(database), inviteRepository, clock, {
      registration: registrationMode(config),
      passwordCost: { log2N: config.passwordHashLog2N },
      accessTokenTtlSeconds: config.accessTokenTtlSeconds,
    }, external),
    blocks: new BlockService(blockRepository, userRepository, clock),
    invites: new InviteCodes(inviteRepository, clock),
    erasure,
    attachments,
    clips: new ClipService(clipRepository, intake, store, clock, outbox),
    messages: new MessageService(messageRepository, userRepository, blockRepository, intake, store, clock, outbox),
    metrics,
    orphans: new OrphanSweeper(store, new SqlBlobReferences(database), new SqlSweepLedger(database), clock, config.orphanGraceSeconds * 1000),
    jobs,
    outbox,
    media,
  };

  const http = Fastify({
    logger: options.logger === false ? false : await logger(config, logOutput),
    // One line per request, written by the metrics hook when the answer is done.
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { querystringParser: (text) => parseUrlQuery(text), maxParamLength: 100 },
    bodyLimit: FORM_BODY_LIMIT,
    // A stalled upload frees its socket after this long without a byte.
    connectionTimeout: config.uploadIdleTimeoutSeconds * 1000,
    requestTimeout: 0,
    return503OnClosing: true,
    clientErrorHandler,
    // Behind a reverse proxy, rate limits and logs see the client's address from X-Forwarded-For.
    trustProxy: trustProxy(config.trustProxy),
  });
  // Parameters are merged from query, form, multipart and JSON before they are checked
  // (http/params.ts decodeParams), so Fastify's per-source validation is off; the route
  // schemas still document the API and shape the replies.
  http.setValidatorCompiler(() => () => true);

  if (ffmpeg) http.log.info({ ffmpeg }, 'media processing on: ffmpeg found');
  else http.log.warn({ ffmpeg_path: config.ffmpegPath }, 'media processing unavailable: ffmpeg not found (set FFMPEG_PATH); clips and messages say processing "unavailable"');

  const drain = new Drain();
  drain.register(http);
  registerErrorHandler(http);
  registerRequestMetrics(http, metrics);
  http.addHook('onRequest', async (request) => {
    rejectMalformedQuery(request.query);
    rejectBodyCodings(request);
  });
  registerNotFound(http);
  await http.register(swagger, {
    openapi: {
      info: { title: 'Trickle API', version: '0.1.0', description: 'Resumable, chunked audio uploads. See docs/api.md.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    transformObject: (document) => ('openapiObject' in document ? completeOpenApi(document.openapiObject) : document.swaggerObject),
  });
  await http.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) =>
      new ApiError('rate_limited', `Too many requests; try again in ${Math.ceil(context.ttl / 1000)} s.`, { retry_after: Math.ceil(context.ttl / 1000) }),
  });
  await http.register(formbody, { parser: (text) => parseQueryString(text), bodyLimit: FORM_BODY_LIMIT });
  await http.register(multipart, {
    limits: {
      fieldNameSize: 200,
      fieldSize: FORM_BODY_LIMIT,
      fields: 100,
      files: 4,
      parts: 110,
      headerPairs: 50,
      fileSize: config.maxAttachmentSize,
    },
    throwFileSizeLimit: true,
  });

  if (config.corsOrigins !== null) await registerCors(http, config.corsOrigins);
  await http.register(healthRoutes, { ping: async () => void (await sql`select 1`.execute(database.db)), store });
  // With METRICS_PORT, serve.ts answers /metrics on that port instead.
  if (config.metricsPort === null) registerMetricsRoute(http, metrics, config.metricsToken);
  await http.register(userRoutes, {
    users: services.users,
    erasure: services.erasure,
    limits,
    rateLimits: { registration: config.registrationRateLimit, token: config.tokenRateLimit },
  });
  await http.register(blockRoutes, { blocks: services.blocks, users: services.users });
  await http.register(attachmentRoutes, { attachments: services.attachments, users: services.users, store });
  await http.register(resumableUploadRoutes, {
    uploads: new ResumableUploads(services.attachments, new SqlUploadExtrasRepository(database), store),
    users: services.users,
  });
  await http.register(clipRoutes, { clips: services.clips, users: services.users, store, maxFileSize: config.maxAttachmentSize, media });
  await http.register(messageRoutes, { messages: services.messages, users: services.users, store, maxFileSize: config.maxAttachmentSize, media });
  http.get('/openapi.json', { schema: { hide: true } }, async () => http.swagger());
  await http.register(webRoutes);

  let sweeper: NodeJS.Timeout | null = null;
  http.addHook('onReady', async () => {
    await Promise.all([hasher instanceof WorkerPrefixHasher ? hasher.warmUp() : null, prober.warmUp(), warmUpSniffer(), jobs.start()]);
    let sweeping = false; // a slow sweep must not overlap the next one
    sweeper = setInterval(() => {
      if (sweeping) return;
      sweeping = true;
      services.attachments
        .completeStragglers()
        .then(() => services.attachments.sweepExpired())
        .then(async () => {
          const orphans = await services.orphans.sweep();
          metrics.setOrphansKept(orphans.kept);
          if (orphans.restoreFound) {
            http.log.warn(
              { kept_from: new Date(orphans.restoreFound.from).toISOString(), kept_to: new Date(orphans.restoreFound.to).toISOString(), kept: orphans.kept },
              `orphan sweep: ${orphans.restoreFound.reason} Stored files written in that time that no record names are kept, not deleted, until released (docs/operations.md).`,
            );
          }
        })
        .then(() => services.users.sweepExpiredTokens())
        .then(async () => {
          if (!ffmpeg) return;
          for (const [state, count] of Object.entries(await jobs.counts(MEDIA_JOB))) metrics.setMediaJobs(state, count);
        })
        .catch((error: unknown) => http.log.error({ err: error }, 'sweep failed'))
        .finally(() => (sweeping = false));
    }, config.sweepIntervalSeconds * 1000);
    sweeper.unref();
  });
  http.addHook('onClose', async () => {
    if (sweeper) clearInterval(sweeper);
    // Handlers of cut connections still record what they wrote; they need the adapters.
    await drain.idle();
    // Each adapter closes even when one before it fails, the database last.
    try {
      await jobs.stop();
    } finally {
      await Promise.allSettled([hasher.close(), prober.close(), store.close()]);
      await database.close();
      logOutput.close();
    }
  });
  return { http, services, drain };
}
