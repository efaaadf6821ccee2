/** The committed media fixtures and what each one is. */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures');

export function fixture(name: string): Buffer {
  return readFileSync(path.join(FIXTURES, name));
}

/** Every fixture is a 1 s tone (scripts/make-fixtures.sh). */
export const AUDIO_FIXTURES = [
  { file: 'tone.flac', contentType: 'audio/flac', sampleRate: 44100, channels: 1 },
  { file: 'tone.mp3', contentType: 'audio/mpeg', sampleRate: 44100, channels: 1 },
  { file: 'tone.wav', contentType: 'audio/wav', sampleRate: 22050, channels: 1 },
  { file: 'tone.aiff', contentType: 'audio/aiff', sampleRate: 22050, channels: 2 },
  { file: 'tone.ogg', contentType: 'audio/ogg', sampleRate: 44100, channels: 2 },
  { file: 'tone.opus', contentType: 'audio/ogg', sampleRate: 48000, channels: 1 },
  { file: 'tone.m4a', contentType: 'audio/mp4', sampleRate: 44100, channels: 2 },
  // As browsers' MediaRecorder writes them: no declared duration.
  { file: 'recorded.webm', contentType: 'audio/webm', sampleRate: 48000, channels: 1 },
  { file: 'recorded.mp4', contentType: 'audio/mp4', sampleRate: 48000, channels: 2 },
] as const;

/** A valid PCM WAV header for `dataBytes` of 16-bit mono audio at 8 kHz; the samples follow. */
export function wavHeader(dataBytes: number): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + dataBytes, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(16000, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(dataBytes, 40);
  return header;
}
