/**
 * The web app over the link emulator, as a user on a phone's link meets it: the time from
 * pressing Play to the first sound, and the time from Stop to the whole recording on the
 * server. Used by test/browser/webapp-links.test.ts and `npm run bench:listen` (and the web
 * row of `npm run bench:links`' recording table).
 */
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import type { LinkEmulator, LinkProfile } from './link-emulator.js';
import { openApp, serviceWorkerReady, signIn } from './browser.js';

export type PlayChoice = 'auto' | 'original' | 'high_mp3' | 'low_opus' | 'low_aac';

export interface FirstSound {
  choice: PlayChoice;
  /** The file the page played: the choice, or what 'auto' chose. */
  played: string;
  /** From the press of Play to the first frame the position had moved. */
  firstSoundMs: number;
  /** Bytes the link carried down from the press to the first sound. */
  downBytes: number;
}

/**
 * Signs `username` in on a fresh browser context through `link`, opens the conversation with
 * `sender`, and plays the message titled `title` as `choice` says (?rendition= names a file
 * outright; 'auto' is the app's own choice). The press is the page's own click handler.
 */
export async function firstSound(browser: Browser, link: LinkEmulator, options: { username: string; sender: string; title: string; choice: PlayChoice }): Promise<FirstSound> {
  const query = options.choice === 'auto' ? '' : `?rendition=${options.choice === 'original' ? 'original' : options.choice}`;
  const page = await openApp(browser, `${link.url}/${query}#/messages/${options.sender}`);
  try {
    await signIn(page, options.username);
    await serviceWorkerReady(page);
    const bubble = page.locator('.bubble', { has: page.getByRole('heading', { name: options.title }) });
    await bubble.waitFor();
    await page.locator('#player').evaluate((audio: { muted: boolean }) => void (audio.muted = true));
    // Let what the page loads with settle, so the press meets a quiet link.
    await delay(1500);
    const before = link.stats.downBytes;
    await bubble.locator('.play').click();
    await page.waitForFunction((title) => {
      const doc = (globalThis as unknown as { document: { querySelectorAll(selector: string): Iterable<{ dataset: Record<string, string>; querySelector(s: string): { textContent: string } | null }> } }).document;
      return [...doc.querySelectorAll('.bubble')].some((b) => b.querySelector('.title')?.textContent === title && b.dataset.firstSoundMs !== undefined);
    }, options.title, { timeout: 60_000 });
    const firstSoundMs = Number(await bubble.getAttribute('data-first-sound-ms'));
    const played = (await bubble.getAttribute('data-rendition')) ?? '?';
    const downBytes = link.stats.downBytes - before;
    await bubble.locator('.play').click();
    return { choice: options.choice, played, firstSoundMs, downBytes };
  } finally {
    await page.context().close();
  }
}

export interface WebRecording {
  seconds: number;
  /** From the click on Stop to the server holding every byte with the SHA1 the page computed. */
  afterStopMs: number;
  fileBytes: number;
  /** What the page pushed into the uplink from Record to the end, lost bytes included. */
  linkBytes: number;
}

interface AttachmentView {
  state: string;
  sha1: string | null;
  size: number | null;
}

/**
 * Records `seconds` in `page` (signed in, on a view whose recorder makes a clip: Stop opens
 * the publish form) with the link restarted at the press of Record (as `profile`, if given). `attachment(id)` reads the
 * server's view directly (not through the link). The recording is discarded at the end.
 */
export async function recordOverLink(page: Page, link: LinkEmulator, seconds: number, attachment: (id: number) => Promise<AttachmentView>, profile?: LinkProfile): Promise<WebRecording> {
  // The page has loaded its uploader (after its first view) before the user records.
  await page.locator('body[data-uploader="ready"]').waitFor({ state: 'attached', timeout: 60_000 });
  link.restart(profile);
  const started = performance.now();
  await page.locator('#record').click();
  await page.locator('#dock[data-attachment-id]').waitFor({ state: 'attached', timeout: 30_000 });
  const id = Number(await page.locator('#dock').getAttribute('data-attachment-id'));
  await delay(Math.max(0, seconds * 1000 - (performance.now() - started)));
  await page.locator('#stop').click();
  await page.locator('#dock[data-stopped-at]').waitFor({ state: 'attached' });
  const stoppedAt = Number(await page.locator('#dock').getAttribute('data-stopped-at'));
  let completeAt = 0;
  let stored: AttachmentView | null = null;
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; await delay(20)) {
    stored = await attachment(id);
    if ((stored.state === 'complete' || stored.state === 'used') && stored.sha1) {
      completeAt = Date.now();
      break;
    }
  }
  if (!completeAt || !stored) throw new Error(`attachment ${id} incomplete 120 s after Stop`);
  // What the page recorded, from its own copy in IndexedDB.
  const local = await page.evaluate(async () => {
    const store = await import('/app/store.js' as string);
    const [draft] = await store.allDrafts();
    const bytes = await new Blob(await store.draftPieces(draft.id)).arrayBuffer();
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-1', bytes));
    return { size: bytes.byteLength, sha1: [...digest].map((b) => b.toString(16).padStart(2, '0')).join('') };
  });
  if (stored.sha1 !== local.sha1 || stored.size !== local.size) throw new Error(`the server holds ${stored.size} bytes with SHA1 ${stored.sha1}, the page recorded ${local.size} with ${local.sha1}`);
  const linkBytes = link.stats.upBytes;
  await page.getByRole('button', { name: 'Discard' }).click();
  return { seconds, afterStopMs: completeAt - stoppedAt, fileBytes: local.size, linkBytes };
}

/**
 * A voice message of `seconds` of speech as a browser records it: WebM/Opus at 128 kbit/s
 * (Chromium's MediaRecorder default), from `wav`.
 */
export function recordedLikeABrowser(wav: string, out: string): void {
  execFileSync('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-y', '-i', wav, '-c:a', 'libopus', '-b:a', '128k', '-f', 'webm', out]);
}
