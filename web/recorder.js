// The microphone as a growing source: MediaRecorder hands over a piece about every second,
// and each piece goes into a ReadableStream that the SDK uploads as it arrives.

/** What the browser can record, best first: WebM/Opus (Chromium, Firefox), MP4/AAC (Safari), Ogg/Opus. */
const FORMATS = [
  { mimeType: 'audio/webm;codecs=opus', extension: 'webm' },
  { mimeType: 'audio/mp4;codecs=mp4a.40.2', extension: 'm4a' },
  { mimeType: 'audio/mp4', extension: 'm4a' },
  { mimeType: 'audio/ogg;codecs=opus', extension: 'ogg' },
  { mimeType: 'audio/webm', extension: 'webm' },
];

/** Milliseconds of audio per piece. */
const TIMESLICE_MS = 1000;

export function recordingSupported() {
  return typeof MediaRecorder !== 'undefined' && Boolean(navigator.mediaDevices?.getUserMedia);
}

/**
 * Starts recording. Resolves { stream, filename, mimeType, elapsedSeconds(), stop() }:
 * `stream` yields Blobs while recording and closes once the last one is out; stop() ends it.
 * `preferred` (a MIME type) is tried first when the browser supports it.
 */
export async function startRecording(preferred) {
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
  const ended = new Promise((resolve) => {
    recorder.addEventListener('dataavailable', (event) => {
      if (event.data.size > 0) controller.enqueue(event.data);
    });
    // The last dataavailable comes before stop: the stream ends with every byte in it.
    recorder.addEventListener('stop', () => {
      media.getTracks().forEach((track) => track.stop());
      controller.close();
      resolve();
    });
    recorder.addEventListener('error', (event) => {
      media.getTracks().forEach((track) => track.stop());
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
    async stop() {
      if (recorder.state !== 'inactive') {
        stoppedAt = performance.now();
        recorder.stop();
      }
      await ended;
    },
  };
}
