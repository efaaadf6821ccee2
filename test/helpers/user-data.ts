/**
 * What of a user is stored, read straight from the database as SPEC 10 names it: for checking
 * that an erasure removed all of it, and nothing of anybody else.
 */
import assert from 'node:assert/strict';
import { sql, type Kysely } from 'kysely';
import type { Tables } from '../../src/db/schema.js';

/** Storage keys an erasure of `userId` must remove: files and renditions of their clips and of every message they sent or received, their attachments and pieces. */
export async function storageKeysOf(db: Kysely<Tables>, userId: number): Promise<Set<string>> {
  const clips = await db.selectFrom('audio_clips').select(['audio_file_id', 'image_file_id']).where('user_id', '=', userId).execute();
  const messages = await db
    .selectFrom('messages')
    .select(['audio_file_id', 'image_file_id'])
    .where((eb) => eb.or([eb('sender_id', '=', userId), eb('recipient_id', '=', userId)]))
    .execute();
  const fileIds = [...clips, ...messages].flatMap((r) => [r.audio_file_id, r.image_file_id]).filter((id): id is number => id !== null);
  const keys = new Set<string>();
  const add = (rows: Array<Record<string, string | null>>) => rows.forEach((row) => Object.values(row).forEach((key) => key !== null && keys.add(key)));
  if (fileIds.length > 0) {
    add(await db.selectFrom('media_files').select('storage_key').where('id', 'in', fileIds).execute());
    // Every rendition column (mp3_key, waveform_key, low_opus_key, …), so one added later is counted too.
    const processed = await db.selectFrom('media_processing').selectAll().where('audio_file_id', 'in', fileIds).execute();
    add(processed.map((row) => Object.fromEntries(Object.entries(row).filter(([column]) => column.endsWith('_key'))) as Record<string, string | null>));
    add(await db.selectFrom('image_renditions').select('storage_key').where('image_file_id', 'in', fileIds).execute());
  }
  const attachments = await db.selectFrom('attachments').select(['id', 'storage_key']).where('user_id', '=', userId).execute();
  add(attachments.map((a) => ({ storage_key: a.storage_key })));
  if (attachments.length > 0) add(await db.selectFrom('attachment_pieces').select('storage_key').where('attachment_id', 'in', attachments.map((a) => a.id)).execute());
  return keys;
}

/** Rows that name the user, table by table; all zero once it is erased. */
export async function rowsNaming(db: Kysely<Tables>, userId: number): Promise<Record<string, number>> {
  const id = Math.trunc(userId);
  const count = async (table: keyof Tables, where: string) => Number((await sql<{ n: number }>`select count(*) as n from ${sql.table(table)} where ${sql.raw(where)}`.execute(db)).rows[0]!.n);
  return {
    users: await count('users', `id = ${id}`),
    access_tokens: await count('access_tokens', `user_id = ${id}`),
    external_identities: await count('external_identities', `user_id = ${id}`),
    attachments: await count('attachments', `user_id = ${id}`),
    media_files: await count('media_files', `user_id = ${id}`),
    audio_clips: await count('audio_clips', `user_id = ${id}`),
    messages: await count('messages', `sender_id = ${id} or recipient_id = ${id}`),
    blocks: await count('blocks', `blocker_id = ${id} or blocked_id = ${id}`),
    invite_codes: await count('invite_codes', `used_by = ${id}`),
    blob_deletions: await count('blob_deletions', `user_id = ${id}`),
  };
}

export async function assertNoRowsNaming(db: Kysely<Tables>, userId: number): Promise<void> {
  const rows = await rowsNaming(db, userId);
  assert.deepEqual(
    Object.entries(rows).filter(([, n]) => n > 0),
    [],
    `rows still naming user ${userId}`,
  );
}

/** Waits (bounded) until the user row is gone: the erasure job has finished. */
export async function waitErased(db: Kysely<Tables>, userId: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst()) !== undefined) {
    if (Date.now() > deadline) throw new Error(`user ${userId} not erased after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
