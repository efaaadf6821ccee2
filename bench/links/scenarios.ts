/**
 * The links of `npm run bench:links`: a phone's uplink and downlink as the link emulator plays
 * them (test/helpers/link-emulator.ts). Outage schedules are fixed, so every client in a run
 * meets the same link: the same rates, the same outages at the same times after its start.
 */
import { periodicOutages, type LinkProfile, type Outage } from '../../test/helpers/link-emulator.js';

export interface LinkScenario {
  name: string;
  /** How the table names the link. */
  title: string;
  profile: LinkProfile;
  /** Bytes each upload (and download) moves: a few tens of seconds at the link's rate. */
  fileBytes: number;
}

const KiB = 1024;
/** Longer than any run: the schedules are bounded lists. */
const HORIZON_MS = 15 * 60_000;

/** ~1 Mbit/s up, 2 Mbit/s down, 200 ms round trip, a modem buffer of a quarter second. */
const THREE_G: LinkProfile = {
  upBytesPerSecond: 125_000,
  downBytesPerSecond: 250_000,
  delayMs: 100,
  upBufferBytes: 32 * KiB,
  downBufferBytes: 64 * KiB,
};

/** Outages of 3, 5 and 4 s in turn, 20 s apart: EDGE fading in and out. */
function edgeOutages(): Outage[] {
  const durations = [3000, 5000, 4000];
  return periodicOutages({ firstAtMs: 12_000, everyMs: 20_000, durationMs: 1, kind: 'reset', untilMs: HORIZON_MS }).map((outage, index) => ({
    ...outage,
    durationMs: durations[index % durations.length]!,
  }));
}

export function linkScenarios(): LinkScenario[] {
  return [
    { name: '3g', title: '3G: 1 Mbit/s up, 200 ms RTT', profile: THREE_G, fileBytes: 1536 * KiB },
    {
      name: '3g-handover',
      title: '3G + 2 s outage every 8 s (resets)',
      profile: { ...THREE_G, outages: periodicOutages({ firstAtMs: 6000, everyMs: 8000, durationMs: 2000, kind: 'reset', untilMs: HORIZON_MS }) },
      fileBytes: 1536 * KiB,
    },
    {
      name: 'edge',
      title: 'EDGE: 240 kbit/s up, 600 ms RTT, 3-5 s outages',
      profile: { upBytesPerSecond: 30_000, downBytesPerSecond: 50_000, delayMs: 300, upBufferBytes: 8 * KiB, downBufferBytes: 16 * KiB, outages: edgeOutages() },
      fileBytes: 640 * KiB,
    },
    {
      name: 'silent',
      title: '3G + connections silent for good every 12 s',
      profile: { ...THREE_G, outages: periodicOutages({ firstAtMs: 5000, everyMs: 12_000, durationMs: 0, kind: 'silent', untilMs: HORIZON_MS }) },
      fileBytes: 1536 * KiB,
    },
  ];
}
