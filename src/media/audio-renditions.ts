/**
 * The audio step of media processing with ffmpeg: one decode of the original feeds every
 * branch at once (one pass, so the file is read and decoded once):
 *   - EBU R128 loudness and true peak (the `ebur128` filter; its summary is read from stderr);
 *   - the encoded renditions: an MP3 at 128 kbit/s, and for slow networks a mono Ogg Opus tuned
 *     for speech and a mono AAC-LC in MP4. Each goes to a private temporary file: the MP3 muxer
 *     needs a seekable output for its Xing/LAME header (players get the exact length), and the
 *     MP4 muxer to move its index (moov) in front of the audio, so playback starts at once;
 *   - 16-bit mono PCM on a pipe, reduced as it streams to waveform peaks and a sample count,
 *     which is the duration (recordings whose header declares none are measured too).
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type AudioAnalysis, type Loudness, MediaFailure, type StoredRendition } from '../domain/media/processing.js';
import type { AudioProcessor, MediaFileRecord } from '../domain/media/ports.js';
import { runTool } from './ffmpeg.js';
import type { RenditionStorage } from './rendition-storage.js';

/** Longest audio processed; longer (or a file that decodes to more) fails `media_too_long`. */
export const MAX_AUDIO_SECONDS = 6 * 3600;
/** ffmpeg refuses any single allocation above this (a hostile header asking for gigabytes). */
const MAX_ALLOC_BYTES = 256 * 1024 * 1024;
const MP3_BITRATE = 128_000;
/** Sample rates an MPEG-1/2 layer III stream may have. */
const MP3_RATES = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000];
/** Opus for voice: 24 kbit/s VBR (with Ogg's framing, 25-26 kbit/s of speech; about 190 KB a minute). */
const OPUS_BITRATE = 24_000;
/**
 * Asked of ffmpeg's AAC encoder for about 48 kbit/s: on speech it overshoots what it is asked
 * by 15-25 % (measured on espeak-ng speech: 40k gives 43-50 kbit/s, 48k gives 55-61). Its
 * `fast` coder costs a third of the default `twoloop` (0.4 s instead of 1.3 s of CPU per minute
 * of speech), which would otherwise be most of what the small renditions add to a job.
 */
const AAC_BITRATE = 40_000;
/** Waveform resolution: 100 points per second of audio. */
const WAVEFORM_POINTS_PER_SECOND = 100;

/** An encoded rendition the pass writes, which of AudioAnalysis's fields it fills, and how. */
export interface EncodedOutput {
  field: 'mp3' | 'lowOpus' | 'lowAac';
  fileName: string;
  contentType: string;
  /** Filters between the decoder's branch and the encoder (the sample rate). */
  filter: string;
  /** Output options: codec, bitrate, channels, muxer. */
  options: string[];
  /** Beyond this the rendition fails `media_too_long` (a bound, not an estimate). */
  maxBytes: number;
}

/** The renditions made from audio of this rate and channel count, at most `maxSeconds` long. */
export function encodedOutputs(source: { sampleRate: number; channels: number }, maxSeconds: number): EncodedOutput[] {
  const bound = (bitsPerSecond: number) => Math.ceil((bitsPerSecond / 8) * maxSeconds * 1.1) + 1024 * 1024;
  const mp3Rate = MP3_RATES.find((rate) => rate >= Math.min(source.sampleRate, 48_000)) ?? 48_000;
  const mp3Channels = Math.min(2, Math.max(1, source.channels));
  // AAC keeps a 44.1 kHz family source at 44.1 kHz; anything else plays at 48 kHz (no loss in speech).
  const aacRate = source.sampleRate % 11_025 === 0 && source.sampleRate >= 44_100 ? 44_100 : 48_000;
  // prettier-ignore
  return [
    {
      field: 'mp3', fileName: 'high.mp3', contentType: 'audio/mpeg', filter: `aresample=${mp3Rate}`, maxBytes: bound(MP3_BITRATE),
      options: ['-c:a', 'libmp3lame', '-b:a', String(MP3_BITRATE), '-ac', String(mp3Channels), '-f', 'mp3'],
    },
    {
      // Opus runs at 48 kHz; `voip` tunes it for intelligible speech; VBR spends little on pauses.
      field: 'lowOpus', fileName: 'low.opus', contentType: 'audio/ogg', filter: 'aresample=48000', maxBytes: bound(4 * OPUS_BITRATE),
      options: ['-c:a', 'libopus', '-b:a', String(OPUS_BITRATE), '-vbr', 'on', '-application', 'voip', '-ac', '1', '-f', 'ogg'],
    },
    {
      // faststart: the index first, so a player on a slow link can start before the end arrives.
      field: 'lowAac', fileName: 'low.m4a', contentType: 'audio/mp4', filter: `aresample=${aacRate}`, maxBytes: bound(4 * AAC_BITRATE),
      options: ['-c:a', 'aac', '-profile:a', 'aac_low', '-aac_coder', 'fast', '-b:a', String(AAC_BITRATE), '-ac', '1', '-movflags', '+faststart', '-f', 'mp4'],
    },
  ];
}

/**
 * ffmpeg's arguments for the one pass: the input decoded once and split into loudness, each
 * encoded output (to a file in `work`), and mono PCM at `pcmRate` on fd 3.
 */
export function passArguments(input: string, outputs: EncodedOutput[], work: string, pcmRate: number): string[] {
  const labels = outputs.map((_, index) => `e${index}`);
  const graph = [
    `[0:a:0]asplit=${outputs.length + 2}[l]${labels.map((label) => `[${label}]`).join('')}[w]`,
    '[l]ebur128=peak=true:framelog=verbose,anullsink',
    ...outputs.map((output, index) => `[${labels[index]}]${output.filter}[${labels[index]}out]`),
    `[w]aresample=${pcmRate}[pcm]`,
  ];
  // prettier-ignore
  return [
    '-hide_banner', '-nostdin', '-nostats', '-max_alloc', String(MAX_ALLOC_BYTES),
    '-i', input,
    '-filter_complex', graph.join(';'),
    ...outputs.flatMap((output, index) => [
      '-map', `[${labels[index]}out]`, '-map_metadata', '-1', ...output.options, '-fs', String(output.maxBytes), path.join(work, output.fileName),
    ]),
    '-map', '[pcm]', '-ac', '1', '-c:a', 'pcm_s16le', '-f', 's16le', 'pipe:3',
  ];
}

export interface AudioLimits {
  /** Milliseconds one ffmpeg run may take. */
  timeoutMs: number;
  maxSeconds?: number;
}

/**
 * Peaks in the audiowaveform JSON format, version 2, 8 bits, one channel: per point of
 * `samples_per_pixel` samples, its minimum and maximum. Fed as PCM arrives; keeps only the peaks.
 */
export class WaveformBuilder {
  readonly sampleRate: number;
  readonly samplesPerPixel: number;

  samples = 0;
  private readonly peaks: number[] = [];
  private min = 127;
  private max = -128;
  private inPoint = 0;
  private carry: Buffer | null = null;

  constructor(
    sampleRate: number,
    samplesPerPixel: number,
  ) {
    this.sampleRate = sampleRate;
    this.samplesPerPixel = samplesPerPixel;
  }

  /** Little-endian signed 16-bit samples; a chunk may end in the middle of one. */
  add(chunk: Buffer): void {
    let data = chunk;
    if (this.carry) {
      data = Buffer.concat([this.carry, chunk]);
      this.carry = null;
    }
    const whole = data.length - (data.length % 2);
    if (whole < data.length) this.carry = Buffer.from(data.subarray(whole));
    for (let offset = 0; offset < whole; offset += 2) {
      const value = data.readInt16LE(offset) >> 8; // 16 bits to 8
      if (value < this.min) this.min = value;
      if (value > this.max) this.max = value;
      this.inPoint += 1;
      if (this.inPoint === this.samplesPerPixel) this.endPoint();
    }
    this.samples += whole / 2;
  }

  private endPoint(): void {
    this.peaks.push(this.min, this.max);
    this.min = 127;
    this.max = -128;
    this.inPoint = 0;
  }

  json(): string {
    if (this.inPoint > 0) this.endPoint();
    const length = this.peaks.length / 2;
    return JSON.stringify({ version: 2, channels: 1, sample_rate: this.sampleRate, samples_per_pixel: this.samplesPerPixel, bits: 8, length, data: this.peaks });
  }
}

/** Integrated loudness and true peak from the last ebur128 summary in ffmpeg's stderr. */
export function parseLoudness(stderr: string): Loudness {
  const summary = stderr.slice(stderr.lastIndexOf('Summary:'));
  const integrated = /I:\s+(-?[0-9.]+) LUFS/.exec(summary);
  const peak = /Peak:\s+(-?[0-9.]+|-inf) dBFS/.exec(summary);
  return {
    integratedLufs: integrated ? Number(integrated[1]) : null,
    truePeakDbtp: peak && peak[1] !== '-inf' ? Number(peak[1]) : null,
  };
}

export class FfmpegAudioProcessor implements AudioProcessor {
  private readonly ffmpeg: string;
  private readonly storage: RenditionStorage;
  private readonly limits: AudioLimits;

  private readonly maxSeconds: number;

  constructor(
    ffmpeg: string,
    storage: RenditionStorage,
    limits: AudioLimits,
  ) {
    this.ffmpeg = ffmpeg;
    this.storage = storage;
    this.limits = limits;
    this.maxSeconds = limits.maxSeconds ?? MAX_AUDIO_SECONDS;
  }

  async analyse(file: MediaFileRecord, signal: AbortSignal): Promise<AudioAnalysis> {
    const sourceRate = file.audio?.sampleRate || 44_100;
    const pcmRate = Math.min(192_000, Math.max(8000, sourceRate));
    const outputs = encodedOutputs({ sampleRate: sourceRate, channels: file.audio?.channels || 2 }, this.maxSeconds);
    const waveform = new WaveformBuilder(pcmRate, Math.max(1, Math.round(pcmRate / WAVEFORM_POINTS_PER_SECOND)));
    const maxSamples = pcmRate * this.maxSeconds;
    const input = this.storage.input(file.storageKey);
    const work = await mkdtemp(path.join(os.tmpdir(), 'trickle-media-'));
    const saved: StoredRendition[] = [];
    try {
      const stderr = await runTool({
        program: this.ffmpeg,
        args: passArguments('path' in input ? input.path : 'pipe:0', outputs, work, pcmRate),
        ...('stream' in input ? { stdin: input.stream() } : {}),
        outputs: [
          null,
          async (pcm) => {
            for await (const chunk of pcm) {
              waveform.add(chunk as Buffer);
              if (waveform.samples > maxSamples) throw new MediaFailure('media_too_long', `The audio is longer than ${this.maxSeconds} s.`);
            }
          },
        ],
        timeoutMs: this.limits.timeoutMs,
        signal,
      });
      if (waveform.samples === 0) throw new MediaFailure('media_unreadable', 'No audio could be decoded from the file.');
      const encoded = {} as Record<EncodedOutput['field'], StoredRendition>;
      for (const output of outputs) {
        encoded[output.field] = await this.storage.save(createReadStream(path.join(work, output.fileName)), output.contentType, output.maxBytes);
        saved.push(encoded[output.field]);
      }
      const peaks = await this.storage.save([Buffer.from(waveform.json())], 'application/json', Number.MAX_SAFE_INTEGER);
      return { duration: waveform.samples / pcmRate, loudness: parseLoudness(stderr), ...encoded, waveform: peaks };
    } catch (error) {
      await this.storage.discard(saved.map((rendition) => rendition.storageKey));
      throw error;
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
}
