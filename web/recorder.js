// The microphone as a growing source: MediaRecorder hands over a piece about every second,
// each piece is kept first (`keep`, to IndexedDB: it survives a reload) and then goes into a
// ReadableStream that the SDK uploads as it arrives. An analyser gives the live input level.

/** What the browser can record, best first: WebM/Opus (Chromium, Firefox), MP4/AAC (Safari), Ogg/Opus. */
const FORMATS = [
  { mimeType: 'audio/webm;codecs=opus', extension: 'webm' },
  { mimeType: 'audio/mp4;codecs=mp4a.40.2', extension: 'm4a' },
  { mimeType: 'audio/mp4', extension: 'm4a' },
  { mimeType: 'audio/ogg;codecs=opus', extension: 'ogg' },
  { mimeType: 'audio/webm', extension: 'webm' },
];

/** Milliseconds of audio per piece (what is kept on the device at a time). */
const TIMESLICE_MS = 1000;
/**
 * Pieces per upload request: a browser's request headers (~700 bytes) are 4% of a second of
 * 128 kbit/s Opus, so two seconds go at a time; the last ones go at once when recording stops.
 */
const PIECES_PER_SEND = 2;

export function recordingSupported() {
  return typeof MediaRecorder !== 'undefined' && Boolean(navigator.mediaDevices?.getUserMedia);
}

/** The input's loudness now, 0..1 (RMS of the last few milliseconds, scaled so speech fills most of it). */
function levelMeter(media) {
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 1024;
  context.createMediaStreamSource(media).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  return {
    level() {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const sample of samples) sum += sample * sample;
      return Math.min(1, Math.sqrt(sum / samples.length) * 4);
    },
    close: () => void context.close().catch(() => undefined),
  };
}

/**
 * Starts recording. Resolves { stream, filename, mimeType, elapsedSeconds(), level(), stop() }:
 * `stream` yields Blobs while recording and closes once the last one is out; stop() ends it.
 * `keep(blob, index)` is awaited before a piece enters the stream (in order). `preferred`
 * (a MIME type) is tried first when the browser supports it.
 */
export async function startRecording(preferred, keep = async () => undefined) {
  const media = await navigator.mediaDevices.getUserMedia({ audio: true });
  const candidates = preferred ? [{ mimeType: preferred, extension: preferred.includes('mp4') ? 'm4a' : 'webm' }, ...FORMATS] : FORMATS;
  const format = candidates.find((f) => MediaRecorder.isTypeSupported(f.mimeType));
  let recorder;
  try {
    recorder = new MediaRecorder(media, format ? { mimeType: format.mimeType } : {});
  } catch (error) {
    media.getTracks().forEach((track) => track.stop());
    throw error;
  }
  let controller;
  const stream = new ReadableStream({
    start: (c) => void (controller = c),
  });
  const meter = levelMeter(media);
  // Pieces are kept one after the other, and enter the stream in order.
  let kept = Promise.resolve();
  let index = 0;
  let unsent = [];
  const send = () => {
    if (unsent.length > 0) controller.enqueue(new Blob(unsent, { type: unsent[0].type }));
    unsent = [];
  };
  const ended = new Promise((resolve) => {
    recorder.addEventListener('dataavailable', (event) => {
      if (event.data.size === 0) return;
      const piece = event.data;
      const at = index++;
      kept = kept
        .then(() => keep(piece, at))
        .catch((error) => console.error(error))
        .then(() => {
          unsent.push(piece);
          if (unsent.length >= PIECES_PER_SEND) send();
        });
    });
    // The last dataavailable comes before stop: the stream ends with every byte in it.
    recorder.addEventListener('stop', () => {
      media.getTracks().forEach((track) => track.stop());
      meter.close();
      void kept.then(() => {
        send();
        controller.close();
        resolve();
      });
    });
    recorder.addEventListener('error', (event) => {
      media.getTracks().forEach((track) => track.stop());
      meter.close();
      controller.error(event.error ?? new Error('the recorder failed'));
      resolve();
    });
  });
  const startedAt = performance.now();
  let stoppedAt = null;
  recorder.start(TIMESLICE_MS);
  const mimeType = recorder.mimeType || format?.mimeType || 'audio/webm';
  const extension = FORMATS.find((f) => mimeType.startsWith(f.mimeType.split(';')[0]))?.extension ?? 'webm';
  return {
    stream,
    mimeType,
    filename: `recording-${new Date().toISOString().replace(/[:.]/g, '-')}.${extension}`,
    elapsedSeconds: () => ((stoppedAt ?? performance.now()) - startedAt) / 1000,
    level: () => (stoppedAt === null ? meter.level() : 0),
    async stop() {
      if (recorder.state !== 'inactive') {
        stoppedAt = performance.now();
        recorder.stop();
      }
      await ended;
    },
  };
}
