/**
 * What `trickle-admin` works on: the configured database (SQLite or PostgreSQL) and, for an
 * erasure, the configured store (local disk or S3) and job queue, opened beside running servers.
 * The store gets a scratch folder of its own: the server's is emptied when a server opens it.
 */
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../config.js';
import { openDatabase, type Database } from '../db/database.js';
import { SqlAttachmentRepository } from '../db/repositories/attachments-repository.js';
import { SqlClipRepository } from '../db/repositories/clips-repository.js';
import { SqlErasureRepository } from '../db/repositories/erasure-repository.js';
import { SqlInviteRepository } from '../db/repositories/invites-repository.js';
import { SqlMessageRepository } from '../db/repositories/messages-repository.js';
import { SqlUserAdminRepository } from '../db/repositories/user-admin-repository.js';
import { SqlTokenRepository, SqlUserRepository } from '../db/repositories/users-repository.js';
import type { JobQueue } from '../domain/jobs/ports.js';
import type { BlobStore } from '../domain/storage/ports.js';
import type { Clock } from '../domain/clock.js';
import { AccountErasure, registerErasureJob } from '../domain/users/account-erasure.js';
import { InviteCodes } from '../domain/users/invites.js';
import { UserAdmin } from '../domain/users/user-admin.js';
import { openJobQueue } from '../jobs/open-job-queue.js';
import { openBlobStore } from '../storage/open-store.js';
import { webhookOutbox } from '../webhooks/webhook-wiring.js';

const clock: Clock = { now: () => Date.now() };

export class AdminContext {
  readonly config: Config;
  readonly database: Database;
  readonly users: UserAdmin;
  readonly invites: InviteCodes;
  private opened: Promise<{ store: BlobStore; jobs: JobQueue; erasure: AccountErasure; scratch: string }> | null = null;

  private constructor(config: Config, database: Database) {
    this.config = config;
    this.database = database;
    const users = new SqlUserRepository(database);
    this.users = new UserAdmin(new SqlUserAdminRepository(database), users, new SqlTokenRepository(database));
    this.invites = new InviteCodes(new SqlInviteRepository(database), clock);
  }

  static async open(config: Config): Promise<AdminContext> {
    return new AdminContext(config, await openDatabase({ url: config.databaseUrl, durable: config.durableWrites }));
  }

  /**
   * The erasure, with the store and a job queue that is never started here: it only enqueues
   * (the erasure job, and the `user.deleted` webhook its last step records), as a server would.
   */
  erasure(): Promise<AccountErasure> {
    this.opened ??= this.openErasure();
    return this.opened.then((opened) => opened.erasure);
  }

  private async openErasure(): Promise<{ store: BlobStore; jobs: JobQueue; erasure: AccountErasure; scratch: string }> {
    const scratch = path.join(os.tmpdir(), `trickle-admin-${process.pid}`);
    const store = await openBlobStore(this.config, scratch);
    const log = {
      warn: (message: string) => process.stderr.write(`trickle-admin: ${message}\n`),
      error: (error: unknown, message: string) => process.stderr.write(`trickle-admin: ${message}: ${error instanceof Error ? error.message : String(error)}\n`),
    };
    const jobs = openJobQueue(this.database, this.config.databaseUrl, log);
    const database = this.database;
    const webhooks = webhookOutbox(
      this.config,
      jobs,
      {
        attachment: (id) => new SqlAttachmentRepository(database).findById(id),
        clip: (id) => new SqlClipRepository(database).findById(id),
        message: (id) => new SqlMessageRepository(database).findById(id),
      },
      clock,
    );
    const erasure = new AccountErasure(new SqlErasureRepository(database), store, jobs, clock, webhooks);
    registerErasureJob(jobs, erasure);
    return { store, jobs, erasure, scratch };
  }

  async close(): Promise<void> {
    const opened = await this.opened?.catch(() => null);
    if (opened) {
      await opened.jobs.stop().catch(() => undefined);
      await opened.store.close().catch(() => undefined);
      await rm(opened.scratch, { recursive: true, force: true });
    }
    await this.database.close();
  }
}
