/**
 * `trickle upload FILE --title T [--image IMG] [--to USER]`: upload the audio (and image) as
 * resumable attachments, then make a clip of them, or send them as a message.
 *
 * The whole job is remembered until it is done: its attachment ids and the uuid that makes the
 * final create idempotent. Run again after Ctrl-C or a crash, it continues the same attachments
 * and, should the clip already exist, answers that clip instead of making a second one.
 * A job that failed for good (the server refused it with a 4xx that will not change: its
 * attachment is gone, the audio is not audio...) is forgotten, so the next run starts afresh.
 */
import { randomUUID } from 'node:crypto';
import { stat, realpath } from 'node:fs/promises';
import {
  DEFAULT_RETRY,
  TrickleApiError,
  StateStore,
  TrickleClient,
  upload,
  withRetries,
  type AttachmentRef,
  type UploadProgress,
  type UploadResult,
} from '../../client/node.js';
import { positiveInteger, type Command } from '../command.js';
import { formatBytes, formatDuration, UsageError } from '../output.js';
import { progressBar } from '../progress-bar.js';
import { requireToken, resolveConnection } from '../settings.js';

interface Job {
  uuid: string;
  audioAttachmentId?: number;
  imageAttachmentId?: number;
}

async function fileIdentity(file: string) {
  const info = await stat(file);
  if (!info.isFile()) throw new UsageError(`${file} is not a file`);
  return { path: await realpath(file), size: info.size, mtimeMs: info.mtimeMs };
}

/**
 * Whether a failed job should be forgotten: a 4xx answer other than 408 and 429 will come again
 * however often it is retried. Kept: what may pass (timeouts, 429, 5xx, a lost network, an
 * interruption), and 401/403, which are about the credentials rather than the job: after
 * `trickle login` the same command still continues the upload.
 */
export function jobFailedForGood(error: unknown): boolean {
  if (!(error instanceof TrickleApiError)) return false;
  const { status } = error;
  return status >= 400 && status < 500 && status !== 408 && status !== 429 && status !== 401 && status !== 403;
}

/** A job store that keeps nothing: for what cannot be resumed anyway. */
function forgetfulStore(): Pick<StateStore, 'get' | 'set' | 'delete'> {
  return { get: async () => null, set: async () => undefined, delete: async () => undefined };
}

export const uploadCommand: Command = {
  name: 'upload',
  summary: 'upload an audio file as a clip, or as a message with --to',
  help: [
    'Usage: trickle upload FILE --title TITLE [--image IMAGE] [--to USER] [options]',
    '',
    '  FILE                 an audio file, or - for standard input (sent as it arrives, e.g. from',
    '                       a recorder: arecord -f cd -t wav | trickle upload - --title Memo)',
    '  --title TITLE        the title (required for a clip)',
    '  --image IMAGE        a JPEG or PNG to go with it',
    '  --to USER            send it as a private message to USER (a username or an id)',
    '  --description TEXT   the clip\'s description',
    '  --tag TAG            a tag; repeat for more',
    '  --parallel N         chunks in flight at once (default 4)',
    '',
    'Interrupted (Ctrl-C, a crash, a lost network), the same command continues where it stopped',
    '(a file; what came from standard input cannot be read again).',
  ].join('\n'),
  options: {
    title: { type: 'string' },
    image: { type: 'string' },
    to: { type: 'string' },
    description: { type: 'string' },
    tag: { type: 'string', multiple: true },
    parallel: { type: 'string' },
  },
  async run({ positionals, values }, { output, server, token, signal }) {
    const [file, extra] = positionals;
    if (!file) throw new UsageError('upload needs a FILE');
    if (extra !== undefined) throw new UsageError(`upload takes one FILE, got also "${extra}"`);
    const title = values.title as string | undefined;
    const to = values.to as string | undefined;
    if (to === undefined && !title) throw new UsageError('a clip needs --title');
    const image = values.image as string | undefined;
    const concurrency = values.parallel === undefined ? 4 : positiveInteger(values.parallel as string, '--parallel');

    const connection = await resolveConnection({ server, token });
    const client = new TrickleClient({ server: connection.server, token: requireToken(connection) });
    const recipient = to === undefined ? null : /^\d+$/.test(to) ? await client.user(Number(to)) : await client.userByName(to);

    // Standard input is sent piece by piece as it arrives, its size fixed when it ends (SPEC 3.8).
    const fromStdin = file === '-';
    const audioFile = fromStdin ? null : await fileIdentity(file);
    const imageFile = image === undefined ? null : await fileIdentity(image);
    // Standard input cannot be read again, so its job is not kept for resuming.
    const jobs: Pick<StateStore, 'get' | 'set' | 'delete'> = fromStdin ? forgetfulStore() : new StateStore();
    const jobKey = JSON.stringify(['cli-upload', client.server, audioFile, imageFile, title ?? null, recipient?.id ?? null]);
    const job: Job = (await jobs.get<Job>(jobKey)) ?? { uuid: randomUUID() };
    await jobs.set(jobKey, job);
    if (job.audioAttachmentId !== undefined) output.note(`Resuming the upload of ${file} (attachment ${job.audioAttachmentId})`);

    try {
      const totalBytes = (audioFile?.size ?? 0) + (imageFile?.size ?? 0);
      // A stream's total is not known until it ends: no bar for it.
      const bar = progressBar(recipient ? `to ${recipient.username}` : 'upload', !output.json && !fromStdin);
      const send = async (source: string | NodeJS.ReadableStream, offset: number, field: 'audioAttachmentId' | 'imageAttachmentId'): Promise<UploadResult> =>
        upload(source as string, {
          client,
          concurrency,
          signal,
          state: false,
          attachmentId: job[field],
          onAttachment: async (attachment) => {
            job[field] = attachment.id;
            await jobs.set(jobKey, job);
          },
          onProgress: (progress: UploadProgress) =>
            bar.update({ ...progress, acknowledgedBytes: offset + progress.acknowledgedBytes, totalBytes }),
        });

      let audio: UploadResult;
      let picture: UploadResult | null = null;
      try {
        audio = await send(audioFile?.path ?? process.stdin, 0, 'audioAttachmentId');
        if (imageFile) picture = await send(imageFile.path, audio.size, 'imageAttachmentId');
      } finally {
        bar.stop();
      }
      const ref = (result: UploadResult): AttachmentRef => ({ chunked_attachment_id: result.attachmentId, fingerprint: result.fingerprint });
      const imageRef = picture ? ref(picture) : undefined;
      // The uuid makes a repeated create answer the first one, so retrying it is safe.
      const retry = <T>(create: () => Promise<T>) => withRetries(create, DEFAULT_RETRY, signal);
      const sent = { bytes: audio.bytesSent + (picture?.bytesSent ?? 0), resumed: audio.resumed };

      if (recipient) {
        const { message } = await retry(() =>
          client.sendMessage({ recipientId: recipient.id, audio: ref(audio), image: imageRef, title, uuid: job.uuid }),
        );
        await jobs.delete(jobKey);
        output.result(
          `Sent message ${message.id} to ${recipient.username}: ${formatBytes(audio.size)}, ${formatDuration(message.duration)}`,
          { message, upload: sent },
        );
        return;
      }
      const tags = values.tag as string[] | undefined;
      const description = values.description as string | undefined;
      const { clip } = await retry(() =>
        client.createClip({ title: title as string, audio: ref(audio), image: imageRef, description, tags, uuid: job.uuid }),
      );
      await jobs.delete(jobKey);
      output.result(
        `Created clip ${clip.id} "${clip.title}": ${formatBytes(audio.size)}, ${formatDuration(clip.duration)}, ${client.server}${clip.urls.detail}`,
        { audio_clip: clip, upload: sent },
      );
    } catch (error) {
      if (jobFailedForGood(error) && !signal.aborted) {
        await jobs.delete(jobKey);
        // Its attachments would only wait to expire; used ones (or gone ones) refuse, which is fine.
        for (const id of [job.audioAttachmentId, job.imageAttachmentId]) {
          if (id !== undefined) await client.deleteAttachment(id).catch(() => undefined);
        }
      }
      throw error;
    }
  },
};
