/**
 * The web app's recorder in Chromium over the same handover link as the SDK's and the CLI's
 * recordings (bench/links/recording.ts): the page loads and signs in on the calm 3G link, then
 * each recording starts the handover link afresh; from Stop to the server holding the whole
 * file with the SHA1 the page computed, and the link bytes (test/helpers/web-links.ts).
 */
import type { TrickleClient } from '../../src/client/node.js';
import { chromiumMissing, launchChromium, openApp, signIn } from '../../test/helpers/browser.js';
import type { LinkEmulator, LinkProfile } from '../../test/helpers/link-emulator.js';
import { recordOverLink } from '../../test/helpers/web-links.js';
import { RECORDING_SECONDS, type RecordingRecord } from './recording.js';
import { linkScenarios } from './scenarios.js';

/** One record per recording length; none (and a note) where Chromium is not installed. */
export async function webRecordings(link: LinkEmulator, user: { username: string; password: string; direct: TrickleClient }, log: (line: string) => void): Promise<RecordingRecord[]> {
  if (chromiumMissing) {
    log(`web recorder: skipped, ${chromiumMissing}`);
    return [];
  }
  const calm = linkScenarios().find((s) => s.name === '3g')!.profile;
  const handover: LinkProfile = link.profile;
  const browser = await launchChromium(null);
  const records: RecordingRecord[] = [];
  try {
    link.restart(calm);
    const page = await openApp(browser, `${link.url}/#/mine`);
    await signIn(page, user.username, { password: user.password });
    for (const seconds of RECORDING_SECONDS) {
      try {
        const run = await recordOverLink(page, link, seconds, (id) => user.direct.attachment(id), handover);
        records.push({ client: 'web-recorder', seconds, ok: true, error: null, afterEndMs: run.afterStopMs, fileBytes: run.fileBytes, linkBytes: run.linkBytes });
      } catch (error) {
        records.push({ client: 'web-recorder', seconds, ok: false, error: error instanceof Error ? error.message : String(error), afterEndMs: NaN, fileBytes: NaN, linkBytes: link.stats.upBytes });
      }
    }
  } finally {
    await browser.close();
    link.restart(handover);
  }
  return records;
}
