// Playback: one <audio> element for the whole page (one recording plays at a time), the file
// chosen for the link (the SDK's chooseRendition: the small rendition on a slow or unknown
// link, the MP3 on a fast one, the original on demand), and each bubble's waveform, which
// shows the progress and seeks where it is clicked, dragged or moved by the arrow keys.
import { chooseRendition } from './client/renditions.js';

const QUALITY_KEY = 'trickle.quality';
const SPEED_KEY = 'trickle.speed';
export const SPEEDS = [1, 1.5, 2];
const BARS = 56;
const KEY_STEP_SECONDS = 5;

const audio = document.getElementById('player');
/** The bubble whose recording is in the player, and its item. */
let current = null;
let frame = 0;
/** Set by the app: plays a message's file where no service worker adds the token (fetched whole, with it). */
let fetchWithToken = null;
let onStarted = () => undefined;

export function configurePlayer(options) {
  fetchWithToken = options.fetchWithToken;
  onStarted = options.onStarted;
}

export function formatTime(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '0:00';
  const whole = Math.floor(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, '0')}`;
}

// --- what the link is like: the browser's word (where it has one) and our own requests' timings

export function linkHint() {
  const hint = {};
  const connection = navigator.connection;
  if (connection?.saveData) hint.saveData = true;
  if (connection?.downlink) hint.downBytesPerSecond = connection.downlink * 125_000;
  if (connection?.rtt) hint.rttMs = connection.rtt;
  const ours = performance.getEntriesByType('resource').filter((e) => e.name.startsWith(location.origin) && e.responseStart > 0 && e.requestStart > 0);
  if (ours.length > 0) {
    // The quickest answers are round trips with little server time in them.
    hint.rttMs = Math.min(...ours.slice(-20).map((e) => e.responseStart - e.requestStart));
    const rates = ours.filter((e) => e.encodedBodySize > 32_768 && e.responseEnd > e.responseStart).map((e) => (e.encodedBodySize * 1000) / (e.responseEnd - e.responseStart));
    if (rates.length > 0) hint.downBytesPerSecond = Math.max(...rates);
  }
  return hint;
}
performance.addEventListener?.('resourcetimingbufferfull', () => performance.clearResourceTimings());

/** 'auto', 'small' or 'original'; a query's ?quality= wins (benchmarks), then the user's setting. */
export function qualitySetting() {
  return new URLSearchParams(location.search).get('quality') ?? localStorage.getItem(QUALITY_KEY) ?? 'auto';
}

export function setQuality(value) {
  localStorage.setItem(QUALITY_KEY, value);
}

/** The file to play for `item` (a clip or message); `?rendition=` names one outright (benchmarks). */
export function chooseFile(item) {
  const forced = new URLSearchParams(location.search).get('rendition');
  if (forced) {
    const url = forced === 'original' ? item.urls.audio : item.urls[forced];
    if (url) return { kind: forced, url };
  }
  const quality = qualitySetting();
  return chooseRendition(item.urls, { prefer: quality, link: linkHint(), canPlay: (type) => audio.canPlayType(type) !== '' });
}

export function speed() {
  const saved = Number(localStorage.getItem(SPEED_KEY));
  return SPEEDS.includes(saved) ? saved : 1;
}

export function cycleSpeed() {
  const next = SPEEDS[(SPEEDS.indexOf(speed()) + 1) % SPEEDS.length];
  localStorage.setItem(SPEED_KEY, String(next));
  audio.playbackRate = next;
  for (const button of document.querySelectorAll('.speed')) setSpeedLabel(button);
  return next;
}

export function setSpeedLabel(button) {
  button.textContent = `${speed()}×`;
  button.setAttribute('aria-label', `Playback speed ${speed()} times`);
}

// --- waveforms

/** Peaks of the audiowaveform JSON (version 2, one channel: min, max per point), as BARS heights 0..1. */
export function peaksToBars(waveform) {
  const data = waveform.data ?? [];
  const points = Math.floor(data.length / 2);
  const full = waveform.bits === 16 ? 32768 : 128;
  const bars = [];
  for (let bar = 0; bar < BARS; bar += 1) {
    const from = Math.floor((bar * points) / BARS);
    const to = Math.max(from + 1, Math.floor(((bar + 1) * points) / BARS));
    let peak = 0;
    for (let point = from; point < to && point < points; point += 1) peak = Math.max(peak, Math.abs(data[2 * point]), Math.abs(data[2 * point + 1]));
    bars.push(Math.min(1, peak / full));
  }
  return bars;
}

function drawWaveform(bubble) {
  const canvas = bubble.querySelector('canvas');
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (width === 0) return;
  if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
  if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
  const context = canvas.getContext('2d');
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.clearRect(0, 0, width, height);
  const style = getComputedStyle(bubble);
  const bars = bubble.bars ?? new Array(BARS).fill(0.08);
  const progress = bubble.progress ?? 0;
  const step = width / bars.length;
  bars.forEach((value, index) => {
    const barHeight = Math.max(2, value * (height - 2));
    context.fillStyle = (index + 0.5) / bars.length <= progress ? style.getPropertyValue('--wave-played') : style.getPropertyValue('--wave');
    context.fillRect(index * step + 1, (height - barHeight) / 2, Math.max(1, step - 2), barHeight);
  });
}

/** Loads and draws a bubble's waveform once it is on screen (one request per bubble, never before it is seen). */
const seen = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    seen.unobserve(entry.target);
    const bubble = entry.target;
    drawWaveform(bubble);
    bubble.loadWaveform?.().then(
      (waveform) => {
        if (!waveform) return;
        bubble.bars = peaksToBars(waveform);
        bubble.dataset.waveform = 'drawn';
        drawWaveform(bubble);
      },
      (error) => console.error(error),
    );
  }
});
window.addEventListener('resize', () => document.querySelectorAll('.bubble').forEach(drawWaveform));

// --- the player

function duration(bubble) {
  return Number.isFinite(audio.duration) && current?.bubble === bubble && audio.duration > 0 ? audio.duration : Number(bubble.dataset.duration) || 0;
}

function showProgress(bubble, seconds) {
  const total = duration(bubble);
  bubble.progress = total > 0 ? Math.min(1, seconds / total) : 0;
  const slider = bubble.querySelector('.wave');
  slider.setAttribute('aria-valuenow', String(Math.round(seconds)));
  slider.setAttribute('aria-valuetext', `${formatTime(seconds)} of ${formatTime(total)}`);
  bubble.querySelector('.time').textContent = seconds > 0 ? `${formatTime(seconds)} / ${formatTime(total)}` : formatTime(total);
  drawWaveform(bubble);
}

function setPlaying(bubble, playing) {
  const button = bubble.querySelector('.play');
  button.setAttribute('aria-pressed', String(playing));
  button.setAttribute('aria-label', `${playing ? 'Pause' : 'Play'} ${bubble.dataset.label}`);
  button.classList.toggle('playing', playing);
}

function tick() {
  cancelAnimationFrame(frame);
  if (!current) return;
  // First sound: the first frame the position has moved since Play was pressed.
  if (current.pressedAt !== null && audio.currentTime > 0) {
    current.bubble.dataset.firstSoundMs = String(Math.round(performance.now() - current.pressedAt));
    current.pressedAt = null;
  }
  showProgress(current.bubble, audio.currentTime);
  if (!audio.paused) frame = requestAnimationFrame(tick);
}

audio.addEventListener('play', () => current && setPlaying(current.bubble, true));
audio.addEventListener('pause', () => current && setPlaying(current.bubble, false));
audio.addEventListener('playing', tick);
audio.addEventListener('ended', () => {
  if (!current) return;
  showProgress(current.bubble, 0);
  current.bubble.progress = 0;
  drawWaveform(current.bubble);
});
audio.addEventListener('timeupdate', tick);
audio.addEventListener('error', () => {
  if (!current) return;
  current.bubble.querySelector('.time').textContent = 'Cannot play';
  setPlaying(current.bubble, false);
});

async function load(bubble, item, at) {
  if (current) {
    setPlaying(current.bubble, false);
    const previous = current.bubble;
    previous.progress = 0;
    showProgress(previous, 0);
  }
  const file = chooseFile(item);
  current = { bubble, item, pressedAt: performance.now() };
  bubble.dataset.rendition = file.kind;
  delete bubble.dataset.firstSoundMs;
  const needsToken = file.url.startsWith('/account/') && !navigator.serviceWorker?.controller;
  audio.src = needsToken ? await fetchWithToken(file.url) : file.url;
  audio.playbackRate = speed();
  if (at > 0) audio.currentTime = at;
}

/** Play or pause `bubble`; `at` (seconds) seeks first. */
export async function toggle(bubble, item, at = null) {
  if (current?.bubble !== bubble) await load(bubble, item, at ?? 0);
  else if (at !== null) audio.currentTime = at;
  else if (!audio.paused) return audio.pause();
  if (current.pressedAt === null && audio.currentTime === 0) current.pressedAt = performance.now();
  try {
    await audio.play();
    onStarted(item);
  } catch (error) {
    if (error.name !== 'AbortError') console.error(error);
  }
}

/** The waveform as a slider: a click or drag seeks (and plays), arrow keys move 5 s, Home and End. */
function wireScrubbing(bubble, item) {
  const slider = bubble.querySelector('.wave');
  const seekTo = (event) => {
    const box = slider.getBoundingClientRect();
    const share = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    void toggle(bubble, item, share * duration(bubble));
  };
  slider.addEventListener('pointerdown', (event) => {
    slider.setPointerCapture(event.pointerId);
    seekTo(event);
    const move = (moved) => {
      const box = slider.getBoundingClientRect();
      if (current?.bubble === bubble) audio.currentTime = Math.min(1, Math.max(0, (moved.clientX - box.left) / box.width)) * duration(bubble);
    };
    slider.addEventListener('pointermove', move);
    slider.addEventListener('pointerup', () => slider.removeEventListener('pointermove', move), { once: true });
  });
  slider.addEventListener('keydown', (event) => {
    const now = current?.bubble === bubble ? audio.currentTime : 0;
    const total = duration(bubble);
    const to = { ArrowRight: now + KEY_STEP_SECONDS, ArrowUp: now + KEY_STEP_SECONDS, ArrowLeft: now - KEY_STEP_SECONDS, ArrowDown: now - KEY_STEP_SECONDS, Home: 0, End: Math.max(0, total - 0.1) }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    if (current?.bubble === bubble) {
      audio.currentTime = Math.min(total, Math.max(0, to));
      showProgress(bubble, audio.currentTime);
    } else void toggle(bubble, item, Math.min(total, Math.max(0, to)));
  });
}

/**
 * The player part of a bubble: play/pause, the waveform (a slider), the time, the speed.
 * `loadWaveform()` resolves the waveform JSON or null.
 */
export function playerControls(bubble, item, label, loadWaveform) {
  bubble.dataset.label = label;
  bubble.dataset.duration = String(item.duration ?? '');
  const row = document.createElement('div');
  row.className = 'player';
  const play = document.createElement('button');
  play.type = 'button';
  play.className = 'play';
  play.addEventListener('click', () => void toggle(bubble, item));
  const wave = document.createElement('div');
  wave.className = 'wave';
  wave.tabIndex = 0;
  wave.setAttribute('role', 'slider');
  wave.setAttribute('aria-label', `Position in ${label}`);
  wave.setAttribute('aria-valuemin', '0');
  wave.setAttribute('aria-valuemax', String(Math.round(item.duration ?? 0)));
  wave.append(document.createElement('canvas'));
  const time = document.createElement('span');
  time.className = 'time';
  const rate = document.createElement('button');
  rate.type = 'button';
  rate.className = 'speed';
  setSpeedLabel(rate);
  rate.addEventListener('click', cycleSpeed);
  row.append(play, wave, time, rate);
  bubble.append(row);
  bubble.loadWaveform = loadWaveform;
  setPlaying(bubble, false);
  showProgress(bubble, 0);
  wireScrubbing(bubble, item);
  seen.observe(bubble);
}

/** Stops playing `bubble` if it is playing (it is going away). */
export function release(bubble) {
  if (current?.bubble !== bubble) return;
  audio.pause();
  audio.removeAttribute('src');
  current = null;
}
