/**
 * The audio step of media processing with ffmpeg: one decode of the original feeds three
 * branches at once (one pass, so the file is read and decoded once):
 *   - EBU R128 loudness and true peak (the `ebur128` filter; its summary is read from stderr);
 *   - an MP3 at 128 kbit/s, written to a private temporary file because the MP3 muxer needs a
 *     seekable output to write its Xing/LAME header (which gives players the exact length);
 *   - 16-bit mono PCM on a pipe, reduced as it streams to waveform peaks and a sample count,
 *     which is the duration (recordings whose header declares none are measured too).
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MediaFailure, type AudioAnalysis, type AudioProcessor, type Loudness } from '../domain/media/processing.js';
import type { MediaFileRecord } from '../domain/ports.js';
import { runTool } from './ffmpeg.js';
import type { RenditionStorage } from './rendition-storage.js';

/** Longest audio processed; longer (or a file that decodes to more) fails `media_too_long`. */
export const MAX_AUDIO_SECONDS = 6 * 3600;
/** ffmpeg refuses any single allocation above this (a hostile header asking for gigabytes). */
const MAX_ALLOC_BYTES = 256 * 1024 * 1024;
const MP3_BITRATE = 128_000;
/** Sample rates an MPEG-1/2 layer III stream may have. */
const MP3_RATES = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000];
/** Waveform resolution: 100 points per second of audio. */
const WAVEFORM_POINTS_PER_SECOND = 100;

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
    const mp3Rate = MP3_RATES.find((rate) => rate >= Math.min(sourceRate, 48_000)) ?? 48_000;
    const mp3Channels = Math.min(2, Math.max(1, file.audio?.channels || 2));
    const maxMp3Bytes = Math.ceil((MP3_BITRATE / 8) * this.maxSeconds * 1.1) + 1024 * 1024;
    const waveform = new WaveformBuilder(pcmRate, Math.max(1, Math.round(pcmRate / WAVEFORM_POINTS_PER_SECOND)));
    const maxSamples = pcmRate * this.maxSeconds;
    const input = this.storage.input(file.storageKey);
    const work = await mkdtemp(path.join(os.tmpdir(), 'trickle-media-'));
    try {
      const mp3Path = path.join(work, 'high.mp3');
      // prettier-ignore
      const args = [
        '-hide_banner', '-nostdin', '-nostats', '-max_alloc', String(MAX_ALLOC_BYTES),
        '-i', 'path' in input ? input.path : 'pipe:0',
        '-filter_complex',
        `[0:a:0]asplit=3[l][m][w];[l]ebur128=peak=true:framelog=verbose,anullsink;[m]aresample=${mp3Rate}[mp3];[w]aresample=${pcmRate}[pcm]`,
        '-map', '[mp3]', '-map_metadata', '-1', '-c:a', 'libmp3lame', '-b:a', String(MP3_BITRATE), '-ac', String(mp3Channels),
        '-fs', String(maxMp3Bytes), '-f', 'mp3', mp3Path,
        '-map', '[pcm]', '-ac', '1', '-c:a', 'pcm_s16le', '-f', 's16le', 'pipe:3',
      ];
      const stderr = await runTool({
        program: this.ffmpeg,
        args,
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
      const mp3 = await this.storage.save(createReadStream(mp3Path), 'audio/mpeg', maxMp3Bytes);
      try {
        const peaks = await this.storage.save([Buffer.from(waveform.json())], 'application/json', Number.MAX_SAFE_INTEGER);
        return { duration: waveform.samples / pcmRate, loudness: parseLoudness(stderr), mp3, waveform: peaks };
      } catch (error) {
        await this.storage.discard([mp3.storageKey]);
        throw error;
      }
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
}
