/**
 * Schema migrations, in order. Each is written once and never edited after it has
 * shipped; a change to the schema is a new migration.
 */
import type { ColumnDefinitionBuilder, Kysely } from 'kysely';
import type { Migration, MigrationProvider } from 'kysely/migration';
import type { SqlDialectName } from './database.js';

type DialectMigration = (db: Kysely<unknown>, dialect: SqlDialectName) => Promise<void>;

const migrations: Record<string, DialectMigration> = {
  '0001_users_tokens_attachments': async (db, dialect) => {
    const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
    await db.schema
      .createTable('users')
      .addColumn('id', 'integer', (c) => (dialect === 'postgres' ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement()))
      .addColumn('username', 'text', (c) => c.notNull())
      .addColumn('username_key', 'text', (c) => c.notNull().unique())
      .addColumn('email', 'text', (c) => c.notNull())
      .addColumn('password_hash', 'text', (c) => c.notNull())
      .addColumn('messaging_enabled', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('created_at', bigint, (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('access_tokens')
      .addColumn('token_hash', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('created_at', bigint, (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('attachments')
      .addColumn('id', 'integer', (c) => (dialect === 'postgres' ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement()))
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('filename', 'text', (c) => c.notNull())
      .addColumn('content_type', 'text')
      .addColumn('size', bigint, (c) => c.notNull())
      .addColumn('ranges', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('received_bytes', bigint, (c) => c.notNull().defaultTo(0))
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('sha1', 'text')
      .addColumn('used_by_type', 'text')
      .addColumn('used_by_id', 'integer')
      .addColumn('storage_key', 'text', (c) => c.notNull())
      .addColumn('created_at', bigint, (c) => c.notNull())
      .addColumn('updated_at', bigint, (c) => c.notNull())
      .addColumn('expires_at', bigint)
      .execute();
    await db.schema.createIndex('attachments_user_state').on('attachments').columns(['user_id', 'state']).execute();
    await db.schema.createIndex('attachments_expires_at').on('attachments').column('expires_at').execute();
  },
  '0002_media_clips_messages': async (db, dialect) => {
    const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
    const real = dialect === 'postgres' ? 'double precision' : 'real';
    const id = (c: ColumnDefinitionBuilder) => (dialect === 'postgres' ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement());
    await db.schema
      .createTable('media_files')
      .addColumn('id', 'integer', id)
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('storage_key', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('filename', 'text', (c) => c.notNull())
      .addColumn('content_type', 'text', (c) => c.notNull())
      .addColumn('size', bigint, (c) => c.notNull())
      .addColumn('sha1', 'text', (c) => c.notNull())
      .addColumn('codec', 'text')
      .addColumn('sample_rate', 'integer')
      .addColumn('channels', 'integer')
      .addColumn('duration', real)
      .addColumn('width', 'integer')
      .addColumn('height', 'integer')
      .addColumn('created_at', bigint, (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('audio_clips')
      .addColumn('id', 'integer', id)
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('uuid', 'text')
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('tags', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('audio_file_id', 'integer', (c) => c.notNull().references('media_files.id'))
      .addColumn('image_file_id', 'integer', (c) => c.references('media_files.id'))
      .addColumn('recorded_at', bigint)
      .addColumn('latitude', real)
      .addColumn('longitude', real)
      .addColumn('accuracy', real)
      .addColumn('created_at', bigint, (c) => c.notNull())
      .addColumn('updated_at', bigint, (c) => c.notNull())
      .addUniqueConstraint('audio_clips_user_uuid', ['user_id', 'uuid'])
      .execute();
    await db.schema.createIndex('audio_clips_created_at').on('audio_clips').columns(['created_at', 'id']).execute();
    await db.schema.createIndex('audio_clips_user_created_at').on('audio_clips').columns(['user_id', 'created_at']).execute();
    await db.schema
      .createTable('messages')
      .addColumn('id', 'integer', id)
      .addColumn('sender_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('recipient_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('uuid', 'text')
      .addColumn('title', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('parent_id', 'integer')
      .addColumn('played', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('audio_file_id', 'integer', (c) => c.notNull().references('media_files.id'))
      .addColumn('image_file_id', 'integer', (c) => c.references('media_files.id'))
      .addColumn('recorded_at', bigint)
      .addColumn('sender_deleted', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('recipient_deleted', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', bigint, (c) => c.notNull())
      .addUniqueConstraint('messages_sender_uuid', ['sender_id', 'uuid'])
      .execute();
    await db.schema.createIndex('messages_recipient').on('messages').columns(['recipient_id', 'created_at']).execute();
    await db.schema.createIndex('messages_sender').on('messages').columns(['sender_id', 'created_at']).execute();
  },
  '2026_11_25_integration_token_expiry': async (db, dialect) => {
    const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
    // Null: the token never expires (ACCESS_TOKEN_TTL unset when it was issued).
    await db.schema.alterTable('access_tokens').addColumn('expires_at', bigint).execute();
    // Signing out everywhere deletes a user's tokens by user.
    await db.schema.createIndex('access_tokens_user_id').on('access_tokens').column('user_id').execute();
  },
  '2026_11_25_integration_external_identities': async (db, dialect) => {
    const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
    // A user signed in by the app's identity provider: the JWT's (iss, sub) names one user.
    await db.schema
      .createTable('external_identities')
      .addColumn('issuer', 'text', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('user_id', 'integer', (c) => c.notNull().unique().references('users.id').onDelete('cascade'))
      .addColumn('created_at', bigint, (c) => c.notNull())
      .addPrimaryKeyConstraint('external_identities_pkey', ['issuer', 'subject'])
      .execute();
  },
  // SPEC 3.8: an attachment may be created before its size is known; `size` is 0 until it is.
  '2026_11_25_protocols_attachment_size_known': async (db) => {
    await db.schema.alterTable('attachments').addColumn('size_known', 'integer', (c) => c.notNull().defaultTo(1)).execute();
  },
  '2026_11_25_media_jobs': async (db, dialect) => {
    // PostgreSQL's jobs live in pg-boss's schema, which pg-boss creates and migrates itself.
    if (dialect !== 'sqlite') return;
    await db.schema
      .createTable('jobs')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('max_attempts', 'integer', (c) => c.notNull())
      .addColumn('run_at', 'integer', (c) => c.notNull())
      .addColumn('lease_until', 'integer')
      .addColumn('last_error', 'text')
      .addColumn('created_at', 'integer', (c) => c.notNull())
      .addColumn('updated_at', 'integer', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('jobs_type_state_run_at').on('jobs').columns(['type', 'state', 'run_at']).execute();
  },
  // tus and the IETF draft: what the client sent at creation, and tus concatenation.
  '2026_11_25_protocols_upload_extras': async (db) => {
    await db.schema
      .createTable('upload_extras')
      .addColumn('attachment_id', 'integer', (c) => c.primaryKey().references('attachments.id').onDelete('cascade'))
      .addColumn('metadata', 'text')
      .addColumn('concat', 'text')
      .execute();
  },
  // The engine's shared state (several nodes): the content version that a SHA1 is checked
  // against, and the pieces of uploads kept in an object store (newest covering piece wins).
  '2026_12_06_engine_content_version_and_pieces': async (db, dialect) => {
    const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
    await db.schema.alterTable('attachments').addColumn('content_version', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    await db.schema
      .createTable('attachment_pieces')
      .addColumn('id', 'integer', (c) => (dialect === 'postgres' ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement()))
      .addColumn('attachment_id', 'integer', (c) => c.notNull().references('attachments.id').onDelete('cascade'))
      .addColumn('start_offset', bigint, (c) => c.notNull())
      .addColumn('end_offset', bigint, (c) => c.notNull())
      .addColumn('storage_key', 'text', (c) => c.notNull())
      .addColumn('created_at', bigint, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('attachment_pieces_attachment').on('attachment_pieces').columns(['attachment_id', 'id']).execute();
    await db.schema.createIndex('attachment_pieces_storage_key').on('attachment_pieces').column('storage_key').execute();
  },
  // Issue 11: an attachment found not to be decodable audio is not probed again; keyed to its SHA1.
  '2026_12_06_attachment_probe': async (db) => {
    await db.schema.alterTable('attachments').addColumn('audio_rejected_sha1', 'text').execute();
  },
  // Issue 15, media processing (SPEC 8): one row per clip's or message's audio file with the
  // state and results of its processing, and the image renditions made from image files.
  '2026_12_01_media_processing': async (db, dialect) => {
    const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
    const real = dialect === 'postgres' ? 'double precision' : 'real';
    await db.schema
      .createTable('media_processing')
      .addColumn('audio_file_id', 'integer', (c) => c.primaryKey().references('media_files.id').onDelete('cascade'))
      .addColumn('subject_type', 'text', (c) => c.notNull())
      .addColumn('subject_id', 'integer', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('error_name', 'text')
      .addColumn('error_description', 'text')
      .addColumn('integrated_lufs', real)
      .addColumn('true_peak_dbtp', real)
      .addColumn('mp3_key', 'text')
      .addColumn('mp3_size', bigint)
      .addColumn('mp3_sha1', 'text')
      .addColumn('waveform_key', 'text')
      .addColumn('waveform_size', bigint)
      .addColumn('waveform_sha1', 'text')
      .addColumn('updated_at', bigint, (c) => c.notNull())
      .addUniqueConstraint('media_processing_subject', ['subject_type', 'subject_id'])
      .execute();
    await db.schema
      .createTable('image_renditions')
      .addColumn('id', 'integer', (c) => (dialect === 'postgres' ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement()))
      .addColumn('image_file_id', 'integer', (c) => c.notNull().references('media_files.id').onDelete('cascade'))
      // Canonical geometry: `100x100/c` (crop to fill), `1024x1024` (fit, never enlarged), `300x200<` (fit).
      .addColumn('geometry', 'text', (c) => c.notNull())
      .addColumn('storage_key', 'text', (c) => c.notNull())
      .addColumn('content_type', 'text', (c) => c.notNull())
      .addColumn('size', bigint, (c) => c.notNull())
      .addColumn('sha1', 'text', (c) => c.notNull())
      .addColumn('width', 'integer', (c) => c.notNull())
      .addColumn('height', 'integer', (c) => c.notNull())
      .addColumn('created_at', bigint, (c) => c.notNull())
      .addUniqueConstraint('image_renditions_file_geometry', ['image_file_id', 'geometry'])
      .execute();
    // The orphan sweeper asks which storage keys records still name.
    await db.schema.createIndex('media_processing_mp3_key').on('media_processing').column('mp3_key').execute();
    await db.schema.createIndex('media_processing_waveform_key').on('media_processing').column('waveform_key').execute();
    await db.schema.createIndex('image_renditions_storage_key').on('image_renditions').column('storage_key').execute();
  },
  // Issue 11: creates add up the bytes open attachments still expect (state = 'uploading').
  '2026_12_06_attachment_reserved_space': async (db) => {
    await db.schema.createIndex('attachments_state').on('attachments').column('state').execute();
  },
  // Issue 25 (SPEC 10): who blocks whom. The blocked side is indexed for erasing a user.
  '2026_12_20_accounts_blocks': async (db, dialect) => {
    const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
    await db.schema
      .createTable('blocks')
      .addColumn('blocker_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('blocked_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('created_at', bigint, (c) => c.notNull())
      .addPrimaryKeyConstraint('blocks_pkey', ['blocker_id', 'blocked_id'])
      .execute();
    await db.schema.createIndex('blocks_blocked').on('blocks').column('blocked_id').execute();
  },
  // Issue 25 (SPEC 10): single-use invite codes for REGISTRATION=invite, kept as SHA-256 digests.
  '2026_12_20_accounts_invites': async (db, dialect) => {
    const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
    await db.schema
      .createTable('invite_codes')
      .addColumn('id', 'integer', (c) => (dialect === 'postgres' ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement()))
      .addColumn('code_hash', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', bigint, (c) => c.notNull())
      .addColumn('expires_at', bigint, (c) => c.notNull())
      .addColumn('used_at', bigint)
      .addColumn('used_by', 'integer', (c) => c.references('users.id').onDelete('set null'))
      .execute();
  },
  // Issue 25 (SPEC 10): a user is active, disabled by an administrator, or being erased; blobs
  // whose rows an erasure deleted are listed until they are gone from the store, so a crash
  // between the two loses track of none.
  '2026_12_20_accounts_erasure': async (db, dialect) => {
    const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
    await db.schema.alterTable('users').addColumn('state', 'text', (c) => c.notNull().defaultTo('active')).execute();
    await db.schema
      .createTable('blob_deletions')
      .addColumn('storage_key', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'integer', (c) => c.notNull())
      .addColumn('created_at', bigint, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('blob_deletions_user').on('blob_deletions').column('user_id').execute();
  },
  // IETF integrity digests (RFC 9530) sent with an upload before it completes.
  '2026_12_21_protocols_upload_digests': async (db) => {
    await db.schema.alterTable('upload_extras').addColumn('digests', 'text').execute();
  },
  // Issue 22 (SPEC 3.6): a tus partial upload consumed by a final concatenation no longer counts
  // against its owner's open attachments; it counts again if the final goes.
  '2026_12_21_quota_consumed_partials': async (db) => {
    await db.schema.alterTable('attachments').addColumn('consumed_by', 'integer', (c) => c.references('attachments.id').onDelete('set null')).execute();
    await db.schema.createIndex('attachments_consumed_by').on('attachments').column('consumed_by').execute();
  },
  // Issue 26 (SPEC 8): the small renditions for slow networks, indexed for the orphan sweeper.
  '2026_12_22_listen_small_renditions': async (db, dialect) => {
    const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
    for (const name of ['low_opus', 'low_aac']) {
      await db.schema.alterTable('media_processing').addColumn(`${name}_key`, 'text').execute();
      await db.schema.alterTable('media_processing').addColumn(`${name}_size`, bigint).execute();
      await db.schema.alterTable('media_processing').addColumn(`${name}_sha1`, 'text').execute();
      await db.schema.createIndex(`media_processing_${name}_key`).on('media_processing').column(`${name}_key`).execute();
    }
  },
  // Issue 24: the orphan sweep's epoch (compared with the store's record of it, to tell a
  // database restored from a backup) and the windows of time whose unnamed blobs it keeps.
  '2026_12_22_orphan_sweep_epoch': async (db, dialect) => {
    const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
    await db.schema
      .createTable('sweep_epoch')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('epoch', bigint, (c) => c.notNull())
      .addColumn('advanced_at', bigint, (c) => c.notNull())
      .execute();
    await db.insertInto('sweep_epoch' as never).values({ id: 1, epoch: 0, advanced_at: 0 } as never).execute();
    await db.schema
      .createTable('kept_blob_windows')
      .addColumn('id', 'integer', (c) => (dialect === 'postgres' ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement()))
      .addColumn('from_at', bigint, (c) => c.notNull())
      .addColumn('to_at', bigint, (c) => c.notNull())
      .addColumn('found_at', bigint, (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .execute();
  },
  // A backup's hold on blob deletions (src/backup/commands.ts): one row per running backup,
  // until a time it renews; while a row is current, forgotten blobs are left to the orphan sweep.
  '2026_12_23_backup_deletion_holds': async (db, dialect) => {
    const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
    await db.schema
      .createTable('deletion_holds')
      .addColumn('holder', 'text', (c) => c.primaryKey())
      .addColumn('held_until', bigint, (c) => c.notNull())
      .execute();
  },
};

export function migrationProvider(dialect: SqlDialectName): MigrationProvider {
  return {
    async getMigrations(): Promise<Record<string, Migration>> {
      const out: Record<string, Migration> = {};
      for (const [name, up] of Object.entries(migrations)) out[name] = { up: (db) => up(db, dialect) };
      return out;
    },
  };
}
