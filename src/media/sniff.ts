/**
 * The sniffer's names that differ from the ones this server gives the same files elsewhere (a
 * clip's `audio.content_type`, src/media/prober.ts): one file type, one name. MP4 and WebM are
 * named as audio, which is what Trickle keeps them as: the first bytes cannot tell whether a
 * video track follows, and the probe reads only the audio.
 */
const SERVED_NAMES: Readonly<Record<string, string>> = {
  'audio/x-m4a': 'audio/mp4',
  'video/mp4': 'audio/mp4',
  'video/webm': 'audio/webm',
};

/** The content type of a file, from its first bytes (never from its name), without parameters. */
export async function sniffContentType(head: Buffer): Promise<string | null> {
  const { fileTypeFromBuffer } = await import('file-type'); // loaded on first use
  const type = await fileTypeFromBuffer(head);
  if (!type) return null;
  // `audio/ogg; codecs=opus` is audio/ogg, as a clip names it.
  const bare = type.mime.split(';')[0]!.trim();
  return SERVED_NAMES[bare] ?? bare;
}

