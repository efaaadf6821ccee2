/**
 * Which of a clip's or message's files to play (SPEC 8). A minute of voice as the small
 * renditions is 185 KB (Opus) or 320 KB (AAC) against 940 KB of 128 kbit/s MP3 and often more
 * for the original, and sounds the same for speech. So a small rendition is the default
 * wherever the link is slow or not known to be fast; the MP3 where the link is known to be
 * fast; the original whenever asked for.
 *
 * Of the two small ones, AAC comes first: its MP4 has its index at the front (faststart), so
 * a player starts after the first few kilobytes, while an Ogg file is read to its end before
 * the first sound (browsers ask for the last page to learn its duration): `npm run
 * bench:listen` measured 0.6 s against 1.2 s to the first sound on a 3G-class link, 1.9 s
 * against 5.1 s on EDGE. `small: 'opus'` picks the smaller download instead.
 */

/** The `urls` of a clip or message, as far as playback goes. */
export interface RenditionUrls {
  audio: string;
  high_mp3?: string | null;
  low_opus?: string | null;
  low_aac?: string | null;
}

export type RenditionKind = 'original' | 'high_mp3' | 'low_opus' | 'low_aac';

/** What the app knows of its link; leave out what it does not know. */
export interface LinkHint {
  /** Measured or reported download rate. */
  downBytesPerSecond?: number;
  /** Measured or reported round trip. */
  rttMs?: number;
  /** The user or the system asked to save data (e.g. `navigator.connection.saveData`). */
  saveData?: boolean;
}

export interface RenditionChoiceOptions {
  /** 'auto' (the default): small on a slow or unknown link; 'small': always small where there is one; 'original': the uploaded file. */
  prefer?: 'auto' | 'small' | 'original';
  link?: LinkHint;
  /** Which small rendition comes first: 'aac' (the default: starts sooner) or 'opus' (a smaller download). */
  small?: 'aac' | 'opus';
  /** Whether the player plays a MIME type (a browser's `audio.canPlayType(type) !== ''`); everything by default. */
  canPlay?: (mimeType: string) => boolean;
}

export interface RenditionChoice {
  kind: RenditionKind;
  url: string;
}

/** Below this a link is slow: 2 Mbit/s carries a 128 kbit/s MP3 minute in about 4 s. */
export const FAST_LINK_BYTES_PER_SECOND = 250_000;
/** Above this a link is slow whatever its rate: each request waits a round trip before its first byte. */
export const FAST_LINK_RTT_MS = 150;

export const RENDITION_TYPES: Record<Exclude<RenditionKind, 'original'>, string> = {
  low_opus: 'audio/ogg; codecs=opus',
  low_aac: 'audio/mp4; codecs=mp4a.40.2',
  high_mp3: 'audio/mpeg',
};

/** True only when what is known says the link is fast: a fast rate, no long round trip, no wish to save data. */
export function isFastLink(link: LinkHint = {}): boolean {
  if (link.saveData) return false;
  if (link.rttMs !== undefined && link.rttMs > FAST_LINK_RTT_MS) return false;
  return link.downBytesPerSecond !== undefined && link.downBytesPerSecond >= FAST_LINK_BYTES_PER_SECOND;
}

/**
 * The file to play: the original on demand; else a small rendition on a slow or unknown link
 * (AAC where the player plays it, else Opus, unless `small` says otherwise), the MP3 on a fast
 * one; whichever of these exists and plays, falling back to the original (always there, also
 * while processing runs).
 */
export function chooseRendition(urls: RenditionUrls, options: RenditionChoiceOptions = {}): RenditionChoice {
  const prefer = options.prefer ?? 'auto';
  const canPlay = options.canPlay ?? (() => true);
  if (prefer === 'original') return { kind: 'original', url: urls.audio };
  const small: RenditionKind[] = options.small === 'opus' ? ['low_opus', 'low_aac'] : ['low_aac', 'low_opus'];
  const order: RenditionKind[] = prefer === 'auto' && isFastLink(options.link) ? ['high_mp3', ...small] : [...small, 'high_mp3'];
  for (const kind of order) {
    const url = urls[kind as Exclude<RenditionKind, 'original'>];
    if (url && canPlay(RENDITION_TYPES[kind as Exclude<RenditionKind, 'original'>])) return { kind, url };
  }
  return { kind: 'original', url: urls.audio };
}
