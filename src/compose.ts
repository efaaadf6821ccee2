/**
 * The composition root: opens the adapters the configuration names and builds every domain
 * service from them through its constructor, in the order they depend on each other. Nothing
 * is set on a service after it is built, and no service builds its own collaborators. The
 * HTTP layer (src/app.ts) only receives what is built here; src/build-app.ts joins the two.
 */
import { mkdir } from 'node:fs/promises';
import { registrationMode, type Config } from './config.js';
import { JwtVerifier } from './auth/jwt-verifier.js';
import { openDatabase, type Database } from './db/database.js';
import { SqlAttachmentRepository } from './db/repositories/attachments-repository.js';
import { SqlBlobReferences } from './db/repositories/blob-references.js';
import { SqlBlockRepository } from './db/repositories/blocks-repository.js';
import { SqlClipRepository } from './db/repositories/clips-repository.js';
import { SqlDeletionHolds } from './db/repositories/deletion-holds.js';
import { SqlErasureRepository } from './db/repositories/erasure-repository.js';
import { SqlExternalIdentityRepository } from './db/repositories/external-identities-repository.js';
import { SqlInviteRepository } from './db/repositories/invites-repository.js';
import { SqlProcessingRepository } from './db/repositories/media-processing-repository.js';
import { SqlMessageRepository } from './db/repositories/messages-repository.js';
import { SqlProbeVerdicts } from './db/repositories/probe-verdicts.js';
import { SqlSweepLedger } from './db/repositories/sweep-ledger.js';
import { SqlUploadExtrasRepository } from './db/repositories/upload-extras-repository.js';
import { SqlTokenRepository, SqlUserRepository } from './db/repositories/users-repository.js';
import { AttachmentService, type AttachmentLimits } from './domain/attachments/attachment-service.js';
import { UploadBytes } from './domain/attachments/upload-bytes.js';
import { UploadEngine } from './domain/attachments/upload-engine.js';
import { ClipService } from './domain/clips/clip-service.js';
import type { Clock } from './domain/clock.js';
import type { EventOutbox } from './domain/events/ports.js';
import { Outbox, type OutboxWriter } from './domain/jobs/outbox.js';
import type { JobQueue } from './domain/jobs/ports.js';
import { ForgottenBlobs } from './domain/maintenance/forgotten-blobs.js';
import { OrphanSweeper } from './domain/maintenance/orphan-sweeper.js';
import { ImageSizes, NEW_SIZES_PER_REQUEST } from './domain/media/image-sizes.js';
import { MediaIntake } from './domain/media/media-intake.js';
import { MEDIA_JOB, MEDIA_POLICY, MediaProcessingService, type MediaJobPayload } from './domain/media/processing.js';
import { MessageService } from './domain/messages/message-service.js';
import type { Metrics } from './domain/metrics.js';
import { ResumableUploads } from './domain/protocols/resumable-uploads.js';
import { PerMinuteRate } from './domain/rate-window.js';
import type { BlobStore } from './domain/storage/ports.js';
import { AccountErasure, registerErasureJob } from './domain/users/account-erasure.js';
import { BlockService } from './domain/users/blocks.js';
import { ExternalSignIn } from './domain/users/external-sign-in.js';
import { InviteCodes } from './domain/users/invites.js';
import { UserService } from './domain/users/user-service.js';
import { WorkQueue } from './domain/work-queue.js';
import type { JobLog } from './jobs/job-log.js';
import { openJobQueue } from './jobs/open-job-queue.js';
import { FfmpegAudioProcessor } from './media/audio-renditions.js';
import { locateFfmpeg } from './media/ffmpeg.js';
import { SharpImageProcessor } from './media/image-renditions.js';
import { IsolatedProber } from './media/isolated-prober.js';
import { RenditionStorage } from './media/rendition-storage.js';
import { sniffContentType } from './media/sniff.js';
import { openBlobStore } from './storage/open-store.js';
import { InProcessPrefixHasher, WorkerPrefixHasher } from './storage/prefix-hashers.js';
import { webhookKey, webhookOutbox } from './webhooks/webhook-wiring.js';

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
  /** What tus and the IETF draft need beyond attachments (SPEC 7). */
  uploads: ResumableUploads;
  /** Reading an upload's bytes as they stand (for tests and tools; the engine has its own). */
  uploadBytes: UploadBytes;
  clips: ClipService;
  messages: MessageService;
  orphans: OrphanSweeper;
  /** The durable job queue (src/domain/jobs/ports.ts); every job type is registered here. */
  jobs: JobQueue;
  /** Media processing (SPEC 8): renditions, loudness, waveforms, image sizes. */
  media: MediaProcessingService;
  /** Where ffmpeg was found; null: media processing is unavailable on this node. */
  ffmpeg: string | null;
  /** Starts the job queue; once, before the server is ready. */
  start(): Promise<void>;
  /** Stops the job queue, then closes every adapter (each even if one before it fails), the database last. */
  close(): Promise<void>;
}

export interface ComposeOptions {
  clock: Clock;
  /** What the domain reports for monitoring (the HTTP layer exports it). */
  metrics: Metrics;
  /** Where the job queue reports what goes wrong in the background. */
  jobLog: JobLog;
  /** Idle poll interval of the job queue in ms (tests shorten it). */
  jobPollMs?: number | undefined;
  /** ffmpeg's search, when the caller started it earlier (serve.ts, before the modules load). */
  ffmpeg?: Promise<string | null> | undefined;
}

/** The attachment limits the configuration sets (SPEC 3.6). */
export function attachmentLimits(config: Config): AttachmentLimits {
  return {
    maxSize: config.maxAttachmentSize,
    maxOpenPerUser: config.maxOpenAttachments,
    maxReservedBytes: config.maxReservedBytes,
    maxRanges: config.maxAttachmentRanges,
    idleTimeoutMs: config.attachmentIdleTimeoutSeconds * 1000,
    minFreeBytes: config.minFreeBytes,
  };
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

export async function compose(config: Config, options: ComposeOptions): Promise<Services> {
  const { clock, metrics } = options;
  // Checked first: a bad identity or webhook setting fails the start before anything is opened.
  const verifier = config.authJwksUrl || config.authJwtSecret ? jwtVerifier(config, clock) : null;
  webhookKey(config);
  // ffmpeg answers `-version` in about 0.1 s: looked for while the database opens, not after.
  const ffmpegFound = options.ffmpeg ?? locateFfmpeg(config.ffmpegPath).catch(() => null);
  await mkdir(config.dataDir, { recursive: true });
  const database = await openDatabase({ url: config.databaseUrl, durable: config.durableWrites });
  const store = await openBlobStore(config);
  const jobs = openJobQueue(database, config.databaseUrl, options.jobLog, options.jobPollMs ? { pollMs: options.jobPollMs } : {});

  const userRepository = new SqlUserRepository(database);
  const blockRepository = new SqlBlockRepository(database);
  const inviteRepository = new SqlInviteRepository(database);
  const attachmentRepository = new SqlAttachmentRepository(database);
  const clipRepository = new SqlClipRepository(database);
  const messageRepository = new SqlMessageRepository(database);
  const processingRepository = new SqlProcessingRepository(database);

  // Webhooks, when configured: delivery jobs on the queue, and the outbox every event goes through.
  const webhooks: EventOutbox | null = webhookOutbox(
    config,
    jobs,
    {
      attachment: (id) => attachmentRepository.findById(id),
      clip: (id) => clipRepository.findById(id),
      message: (id) => messageRepository.findById(id),
    },
    clock,
  );

  // Attachments: the engine moves the bytes; the service decides who may and within what limits.
  // SHA1s of growing uploads are read and computed on a worker thread where uploads are local
  // files, off the request thread; streamed from the store otherwise.
  const limits = attachmentLimits(config);
  const hasher = store.localPaths ? new WorkerPrefixHasher() : new InProcessPrefixHasher();
  const uploadBytes = new UploadBytes(attachmentRepository, store);
  // Blobs whose records are gone are deleted, unless a backup holds deletions (npm run backup).
  const deletionHolds = new SqlDeletionHolds(database);
  const forgotten = new ForgottenBlobs(store, deletionHolds, clock);
  const engine = new UploadEngine({
    repo: attachmentRepository,
    store,
    bytes: uploadBytes,
    clock,
    limits,
    sniff: sniffContentType,
    hasher,
    metrics,
    events: webhooks,
    forgotten,
  });
  const attachments = new AttachmentService(attachmentRepository, store, clock, limits, engine, forgotten);

  // Media processing (SPEC 8): ffmpeg is looked for once; without it clips say `unavailable`.
  const ffmpeg = await ffmpegFound;
  const renditions = new RenditionStorage(store);
  const mediaTimeoutMs = config.mediaJobTimeoutSeconds * 1000;
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
  const audio = ffmpeg ? new FfmpegAudioProcessor(ffmpeg, renditions, { timeoutMs: mediaTimeoutMs }) : null;
  const media = new MediaProcessingService(processingRepository, audio, imageSizes, renditions, clock, webhooks);
  if (ffmpeg) {
    jobs.register<MediaJobPayload>(MEDIA_JOB, { ...MEDIA_POLICY, concurrency: config.mediaConcurrency }, (payload, job) =>
      media.run({ type: payload.subject_type, id: payload.subject_id }, job),
    );
  }

  // What is committed with every new clip or message: its processing job, and its event.
  const writers: OutboxWriter[] = [
    async (scope, created) => {
      if (await media.begin(scope, created)) await jobs.enqueue(MEDIA_JOB, { subject_type: created.type, subject_id: created.id }, { within: scope });
    },
  ];
  if (webhooks) writers.push((scope, created) => webhooks.record({ type: `${created.type}.created`, subjectId: created.id, occurredAt: clock.now() }, scope));
  const outbox = new Outbox(writers);

  // Probing untrusted files runs on a worker thread with a deadline, off the request thread.
  const prober = new IsolatedProber(config.probeTimeoutSeconds * 1000);
  const intake = new MediaIntake(attachments, store, prober, new SqlProbeVerdicts(database));

  const erasure = new AccountErasure(new SqlErasureRepository(database), store, jobs, clock, webhooks);
  registerErasureJob(jobs, erasure);
  const external = verifier ? new ExternalSignIn(verifier, new SqlExternalIdentityRepository(database), clock) : null;

  return {
    database,
    store,
    users: new UserService(
      userRepository,
      new SqlTokenRepository(database),
      inviteRepository,
      clock,
      { registration: registrationMode(config), passwordCost: { log2N: config.passwordHashLog2N }, accessTokenTtlSeconds: config.accessTokenTtlSeconds },
      external,
    ),
    blocks: new BlockService(blockRepository, userRepository, clock),
    invites: new InviteCodes(inviteRepository, clock),
    erasure,
    attachments,
    uploads: new ResumableUploads(attachments, new SqlUploadExtrasRepository(database), store),
    uploadBytes,
    clips: new ClipService(clipRepository, intake, forgotten, clock, outbox),
    messages: new MessageService(messageRepository, userRepository, blockRepository, intake, forgotten, clock, outbox),
    orphans: new OrphanSweeper(store, new SqlBlobReferences(database), new SqlSweepLedger(database), deletionHolds, clock, config.orphanGraceSeconds * 1000),
    jobs,
    media,
    ffmpeg,
    // The hash and probe workers and the sniffer start on first use, not here: they were a third
    // of the start's CPU and 23 MiB of an idle server. Measured alone: the hash worker answers 90-98 ms
    // after it is made, the probe worker 52-55 ms; the first upload that needs one waits that once.
    start: () => jobs.start(),
    close: async () => {
      try {
        await jobs.stop();
      } finally {
        await Promise.allSettled([hasher.close(), prober.close(), store.close()]);
        await database.close();
      }
    },
  };
}
