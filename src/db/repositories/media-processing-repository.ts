/** Processing state and renditions of clips' and messages' media (SPEC 8) in SQL. */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { TransactionScope } from '../../domain/jobs/ports.js';
import { analysisKeys, FULL, geometryText, type ImageRendition, type MediaProcessing, NEVER_PROCESSED, type ProcessingErrorName, type ProcessingState, type ProcessingSubject, THUMB } from '../../domain/media/processing.js';
import type { ImageRenditionRepository, ProcessingOutcome, ProcessingRepository, ProcessingWork } from '../../domain/media/ports.js';
import { FIXED_GEOMETRIES, isOnDemand } from '../../domain/media/image-size-policy.js';
import type { Database } from '../database.js';
import type { ImageRenditionsTable, MediaProcessingTable, Tables } from '../schema.js';
import { scopeOf, transactionOf } from '../transaction-scope.js';
import { toMediaFile } from './media-files.js';

const BACKGROUND_GEOMETRIES = [geometryText(THUMB), geometryText(FULL)];

function toImageRendition(row: Selectable<ImageRenditionsTable>): ImageRendition {
  return {
    geometry: row.geometry,
    storageKey: row.storage_key,
    contentType: row.content_type,
    size: row.size,
    sha1: row.sha1,
    width: row.width,
    height: row.height,
  };
}

function toProcessing(row: Selectable<MediaProcessingTable>, images: Map<string, ImageRendition>): MediaProcessing {
  const rendition = (key: string | null, size: number | null, sha1: string | null, contentType: string) =>
    key === null ? null : { storageKey: key, size: size ?? 0, sha1: sha1 ?? '', contentType };
  return {
    state: row.state as ProcessingState,
    error: row.error_name === null ? null : { name: row.error_name as ProcessingErrorName, description: row.error_description ?? '' },
    loudness: row.state === 'ready' ? { integratedLufs: row.integrated_lufs, truePeakDbtp: row.true_peak_dbtp } : null,
    mp3: rendition(row.mp3_key, row.mp3_size, row.mp3_sha1, 'audio/mpeg'),
    lowOpus: rendition(row.low_opus_key, row.low_opus_size, row.low_opus_sha1, 'audio/ogg'),
    lowAac: rendition(row.low_aac_key, row.low_aac_size, row.low_aac_sha1, 'audio/mp4'),
    waveform: rendition(row.waveform_key, row.waveform_size, row.waveform_sha1, 'application/json'),
    images: { thumb: images.get(geometryText(THUMB)) ?? null, full: images.get(geometryText(FULL)) ?? null },
  };
}

/**
 * The processing of a page of clips or messages in two queries, by audio file id; each
 * record names its audio file and its image file (whose thumb and full renditions come along).
 */
export async function loadProcessing(db: Kysely<Tables>, records: Array<{ audioFileId: number; imageFileId: number | null }>): Promise<Map<number, MediaProcessing>> {
  const out = new Map<number, MediaProcessing>();
  if (records.length === 0) return out;
  const rows = await db.selectFrom('media_processing').selectAll().where('audio_file_id', 'in', [...new Set(records.map((r) => r.audioFileId))]).execute();
  const imageIds = [...new Set(records.flatMap((r) => (r.imageFileId === null ? [] : [r.imageFileId])))];
  const images = new Map<number, Map<string, ImageRendition>>();
  if (imageIds.length > 0) {
    const renditions = await db
      .selectFrom('image_renditions')
      .selectAll()
      .where('image_file_id', 'in', imageIds)
      .where('geometry', 'in', BACKGROUND_GEOMETRIES)
      .execute();
    for (const row of renditions) {
      const forFile = images.get(row.image_file_id) ?? new Map<string, ImageRendition>();
      forFile.set(row.geometry, toImageRendition(row));
      images.set(row.image_file_id, forFile);
    }
  }
  const byAudio = new Map(rows.map((row) => [row.audio_file_id, row]));
  for (const record of records) {
    const row = byAudio.get(record.audioFileId);
    const renditions = (record.imageFileId === null ? undefined : images.get(record.imageFileId)) ?? new Map<string, ImageRendition>();
    out.set(record.audioFileId, row ? toProcessing(row, renditions) : NEVER_PROCESSED);
  }
  return out;
}

/** Inside a transaction deleting file rows: forgets their processing and renditions; resolves the storage keys to delete. */
export async function deleteRenditions(trx: Transaction<Tables>, fileIds: number[]): Promise<string[]> {
  if (fileIds.length === 0) return [];
  const processed = await trx.selectFrom('media_processing').select(['mp3_key', 'low_opus_key', 'low_aac_key', 'waveform_key']).where('audio_file_id', 'in', fileIds).execute();
  const images = await trx.selectFrom('image_renditions').select('storage_key').where('image_file_id', 'in', fileIds).execute();
  await trx.deleteFrom('media_processing').where('audio_file_id', 'in', fileIds).execute();
  await trx.deleteFrom('image_renditions').where('image_file_id', 'in', fileIds).execute();
  return [...processed.flatMap((r) => [r.mp3_key, r.low_opus_key, r.low_aac_key, r.waveform_key]), ...images.map((r) => r.storage_key)].filter((key): key is string => key !== null);
}

async function insertRendition(db: Kysely<Tables>, imageFileId: number, rendition: ImageRendition, now: number): Promise<boolean> {
  const row = await db
    .insertInto('image_renditions')
    .values({
      image_file_id: imageFileId,
      geometry: rendition.geometry,
      storage_key: rendition.storageKey,
      content_type: rendition.contentType,
      size: rendition.size,
      sha1: rendition.sha1,
      width: rendition.width,
      height: rendition.height,
      created_at: now,
    })
    .onConflict((conflict) => conflict.columns(['image_file_id', 'geometry']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export class SqlProcessingRepository implements ProcessingRepository, ImageRenditionRepository {
  private readonly database: Database;

  constructor(database: Database) {
    this.database = database;
  }

  async begin(scope: TransactionScope, subject: ProcessingSubject, state: 'queued' | 'unavailable', now: number): Promise<void> {
    const trx = transactionOf(scope);
    const table = subject.type === 'audio_clip' ? 'audio_clips' : 'messages';
    const owner = await trx.selectFrom(table).select('audio_file_id').where('id', '=', subject.id).executeTakeFirstOrThrow();
    await trx
      .insertInto('media_processing')
      .values({ audio_file_id: owner.audio_file_id, subject_type: subject.type, subject_id: subject.id, state, updated_at: now })
      .execute();
  }

  async load(subject: ProcessingSubject): Promise<ProcessingWork | null> {
    const { db } = this.database;
    const table = subject.type === 'audio_clip' ? 'audio_clips' : 'messages';
    const owner = await db.selectFrom(table).select(['audio_file_id', 'image_file_id']).where('id', '=', subject.id).executeTakeFirst();
    if (!owner) return null;
    const row = await db.selectFrom('media_processing').select('state').where('audio_file_id', '=', owner.audio_file_id).executeTakeFirst();
    if (!row) return null;
    const ids = owner.image_file_id === null ? [owner.audio_file_id] : [owner.audio_file_id, owner.image_file_id];
    const files = new Map((await db.selectFrom('media_files').selectAll().where('id', 'in', ids).execute()).map((f) => [f.id, toMediaFile(f)]));
    const audio = files.get(owner.audio_file_id);
    if (!audio) return null;
    return { audio, image: owner.image_file_id === null ? null : (files.get(owner.image_file_id) ?? null), state: row.state as ProcessingState };
  }

  async start(audioFileId: number, now: number): Promise<boolean> {
    const result = await this.database.db
      .updateTable('media_processing')
      .set({ state: 'processing', updated_at: now })
      .where('audio_file_id', '=', audioFileId)
      .where('state', 'in', ['queued', 'processing'])
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async finish(
    audioFileId: number,
    outcome: ProcessingOutcome,
    now: number,
    also: (scope: TransactionScope) => Promise<void>,
  ): Promise<{ written: boolean; unused: string[] }> {
    const made = 'ready' in outcome ? [...analysisKeys(outcome.ready), ...outcome.images.map((i) => i.storageKey)] : [];
    return this.database.db.transaction().execute(async (trx) => {
      const values =
        'ready' in outcome
          ? {
              state: 'ready',
              error_name: null,
              error_description: null,
              integrated_lufs: outcome.ready.loudness.integratedLufs,
              true_peak_dbtp: outcome.ready.loudness.truePeakDbtp,
              mp3_key: outcome.ready.mp3.storageKey,
              mp3_size: outcome.ready.mp3.size,
              mp3_sha1: outcome.ready.mp3.sha1,
              low_opus_key: outcome.ready.lowOpus.storageKey,
              low_opus_size: outcome.ready.lowOpus.size,
              low_opus_sha1: outcome.ready.lowOpus.sha1,
              low_aac_key: outcome.ready.lowAac.storageKey,
              low_aac_size: outcome.ready.lowAac.size,
              low_aac_sha1: outcome.ready.lowAac.sha1,
              waveform_key: outcome.ready.waveform.storageKey,
              waveform_size: outcome.ready.waveform.size,
              waveform_sha1: outcome.ready.waveform.sha1,
            }
          : { state: 'failed', error_name: outcome.failed.name, error_description: outcome.failed.description };
      const result = await trx
        .updateTable('media_processing')
        .set({ ...values, updated_at: now })
        .where('audio_file_id', '=', audioFileId)
        .where('state', '=', 'processing')
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return { written: false, unused: made };
      const unused: string[] = [];
      if ('ready' in outcome) {
        // The duration as decoded replaces what the header said (some recordings declare none).
        await trx.updateTable('media_files').set({ duration: outcome.ready.duration }).where('id', '=', audioFileId).execute();
        const owner = await trx.selectFrom('media_processing').select(['subject_type', 'subject_id']).where('audio_file_id', '=', audioFileId).executeTakeFirstOrThrow();
        const table = owner.subject_type === 'audio_clip' ? 'audio_clips' : 'messages';
        const image = await trx.selectFrom(table).select('image_file_id').where('id', '=', owner.subject_id).executeTakeFirst();
        for (const rendition of outcome.images) {
          const added = image?.image_file_id != null && (await insertRendition(trx, image.image_file_id, rendition, now));
          if (!added) unused.push(rendition.storageKey);
        }
      }
      await also(scopeOf(trx));
      return { written: true, unused };
    });
  }

  async findImageRendition(imageFileId: number, geometry: string): Promise<ImageRendition | null> {
    const row = await this.database.db.selectFrom('image_renditions').selectAll().where('image_file_id', '=', imageFileId).where('geometry', '=', geometry).executeTakeFirst();
    return row ? toImageRendition(row) : null;
  }

  async listImageRenditions(imageFileIds: number[]): Promise<Map<number, ImageRendition[]>> {
    const out = new Map<number, ImageRendition[]>();
    if (imageFileIds.length === 0) return out;
    const rows = await this.database.db.selectFrom('image_renditions').selectAll().where('image_file_id', 'in', [...new Set(imageFileIds)]).orderBy('id').execute();
    for (const row of rows) {
      const forFile = out.get(row.image_file_id) ?? [];
      forFile.push(toImageRendition(row));
      out.set(row.image_file_id, forFile);
    }
    return out;
  }

  async addImageRendition(imageFileId: number, rendition: ImageRendition, now: number, maxOnDemand: number): Promise<{ rendition: ImageRendition; added: boolean } | null> {
    return this.database.db.transaction().execute(async (trx) => {
      // The image's row is locked so that two nodes cannot both pass the count.
      const file = trx.selectFrom('media_files').select('id').where('id', '=', imageFileId);
      if (!(await (this.database.dialect === 'postgres' ? file.forUpdate() : file).executeTakeFirst())) throw new Error(`image file ${imageFileId} is gone`);
      const existing = await trx.selectFrom('image_renditions').selectAll().where('image_file_id', '=', imageFileId).where('geometry', '=', rendition.geometry).executeTakeFirst();
      if (existing) return { rendition: toImageRendition(existing), added: false };
      if (isOnDemand(rendition.geometry)) {
        const { count } = await trx
          .selectFrom('image_renditions')
          .select((eb) => eb.fn.countAll<number | string>().as('count'))
          .where('image_file_id', '=', imageFileId)
          .where('geometry', 'not in', [...FIXED_GEOMETRIES])
          .executeTakeFirstOrThrow();
        if (Number(count) >= maxOnDemand) return null;
      }
      // The background job records thumb and full without this lock; a conflict means it won.
      if (await insertRendition(trx, imageFileId, rendition, now)) return { rendition, added: true };
      const recorded = await trx.selectFrom('image_renditions').selectAll().where('image_file_id', '=', imageFileId).where('geometry', '=', rendition.geometry).executeTakeFirstOrThrow();
      return { rendition: toImageRendition(recorded), added: false };
    });
  }
}
