import type { Kysely } from 'kysely';
import type { BlobReferences } from '../../domain/ports.js';
import type { Database } from '../database.js';
import type { Tables } from '../schema.js';

/**
 * Every key the records name that must be stored: what a backup must hold. The same columns
 * as `referenced` below, except that an unfinished upload's file exists only where uploads are
 * written in place (on object storage it is the key its assembly will have).
 */
export function namedBlobKeys(db: Kysely<Tables>, uploadsInPlace: boolean) {
  return db
    .selectFrom('attachments')
    .select('storage_key')
    .$if(!uploadsInPlace, (query) => query.where('state', '<>', 'uploading'))
    .union(db.selectFrom('media_files').select('storage_key'))
    .union(db.selectFrom('attachment_pieces').select('storage_key'))
    .union(db.selectFrom('media_processing').select('mp3_key as storage_key').where('mp3_key', 'is not', null).$narrowType<{ storage_key: string }>())
    .union(db.selectFrom('media_processing').select('waveform_key as storage_key').where('waveform_key', 'is not', null).$narrowType<{ storage_key: string }>())
    .union(db.selectFrom('image_renditions').select('storage_key'));
}

export class SqlBlobReferences implements BlobReferences {
  private readonly database: Database;

  constructor(database: Database) {
    this.database = database;
  }

  async referenced(keys: string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const { db } = this.database;
    const rows = await db
      .selectFrom('attachments')
      .select('storage_key')
      .where('storage_key', 'in', keys)
      .union(db.selectFrom('media_files').select('storage_key').where('storage_key', 'in', keys))
      .union(db.selectFrom('attachment_pieces').select('storage_key').where('storage_key', 'in', keys))
      // Renditions made by media processing (SPEC 8).
      .union(db.selectFrom('media_processing').select('mp3_key as storage_key').where('mp3_key', 'in', keys).$narrowType<{ storage_key: string }>())
      .union(db.selectFrom('media_processing').select('low_opus_key as storage_key').where('low_opus_key', 'in', keys).$narrowType<{ storage_key: string }>())
      .union(db.selectFrom('media_processing').select('low_aac_key as storage_key').where('low_aac_key', 'in', keys).$narrowType<{ storage_key: string }>())
      .union(db.selectFrom('media_processing').select('waveform_key as storage_key').where('waveform_key', 'in', keys).$narrowType<{ storage_key: string }>())
      .union(db.selectFrom('image_renditions').select('storage_key').where('storage_key', 'in', keys))
      .execute();
    return new Set(rows.map((r) => r.storage_key));
  }
}
