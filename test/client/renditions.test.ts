/** The SDK's choice of the file to play: small on slow or unknown links (AAC first: it starts sooner), MP3 on fast ones, the original on demand. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseRendition, isFastLink } from '../../src/client/index.js';

const processed = { audio: '/m/1/audio', high_mp3: '/m/1/audio.mp3', low_opus: '/m/1/low.opus', low_aac: '/m/1/low.m4a' };
const THREE_G = { downBytesPerSecond: 250_000 * 0.8, rttMs: 200 };
const EDGE = { downBytesPerSecond: 50_000, rttMs: 600 };
const FAST = { downBytesPerSecond: 5_000_000, rttMs: 20 };

test('a slow or unknown link gets the small AAC rendition; a fast one the MP3', () => {
  assert.deepEqual(chooseRendition(processed, { link: THREE_G }), { kind: 'low_aac', url: '/m/1/low.m4a' });
  assert.equal(chooseRendition(processed, { link: EDGE }).kind, 'low_aac');
  assert.equal(chooseRendition(processed).kind, 'low_aac', 'nothing known: small');
  assert.equal(chooseRendition(processed, { link: FAST }).kind, 'high_mp3');
  assert.equal(chooseRendition(processed, { link: { ...FAST, saveData: true } }).kind, 'low_aac', 'data saver');
  assert.equal(chooseRendition(processed, { link: { downBytesPerSecond: 5_000_000, rttMs: 400 } }).kind, 'low_aac', 'a long round trip is slow');
  assert.equal(chooseRendition(processed, { link: { rttMs: 10 } }).kind, 'low_aac', 'a short round trip alone does not say fast');
  assert.equal(chooseRendition(processed, { link: EDGE, small: 'opus' }).kind, 'low_opus', 'the smaller download on request');
});

test('the original on demand, and "small" even on a fast link', () => {
  assert.deepEqual(chooseRendition(processed, { prefer: 'original', link: EDGE }), { kind: 'original', url: '/m/1/audio' });
  assert.equal(chooseRendition(processed, { prefer: 'small', link: FAST }).kind, 'low_aac');
});

test('what the player cannot play is passed over: Opus where AAC does not play, then the MP3, then the original', () => {
  const noAac = (type: string) => !type.includes('mp4a');
  assert.equal(chooseRendition(processed, { canPlay: noAac }).kind, 'low_opus');
  assert.equal(chooseRendition(processed, { canPlay: (type) => type === 'audio/mpeg' }).kind, 'high_mp3');
  assert.equal(chooseRendition(processed, { canPlay: () => false }).kind, 'original');
});

test('before processing is ready only the original is there', () => {
  const queued = { audio: '/c/2/audio', high_mp3: null, low_opus: null, low_aac: null };
  assert.deepEqual(chooseRendition(queued), { kind: 'original', url: '/c/2/audio' });
  assert.equal(chooseRendition({ ...queued, high_mp3: '/c/2/audio.mp3' }, { link: EDGE }).kind, 'high_mp3', 'an MP3 beats a larger original');
});

test('isFastLink needs a measured fast rate', () => {
  assert.equal(isFastLink({}), false);
  assert.equal(isFastLink(FAST), true);
  assert.equal(isFastLink(THREE_G), false);
});
