/**
 * The web app in Debian's Chromium, driven by playwright-core: the browser's flags (a fake
 * microphone that plays a spoken WAV), speech made with espeak-ng and sox, and signing in
 * through the page. Used by the browser tests and by `npm run bench:listen`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const ROOT = path.join(import.meta.dirname, '..', '..');
export const PASSWORD = 'correct horse battery';
export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 800 };

export const chromiumMissing: string | false = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)`;

/** The SDK modules the page loads are the build's (dist/client). */
export function buildForBrowser(): void {
  execFileSync(process.execPath, ['--disable-warning=ExperimentalWarning', path.join(ROOT, 'scripts', 'build.mjs'), '--if-stale']);
}

const SENTENCE = 'Trickle uploads a recording while it is being made, so that when the speaker taps stop, the message is already on the server.';

/**
 * Speech at 48 kHz mono in `dir`: the sentence once, or repeated to `seconds` (sox pads or
 * trims); null without espeak-ng and sox.
 */
export function speechWav(dir: string, seconds?: number): string | null {
  const raw = path.join(dir, 'speech-raw.wav');
  const wav = path.join(dir, seconds ? `speech-${seconds}s.wav` : 'speech.wav');
  if (spawnSync('espeak-ng', ['-w', raw, SENTENCE]).status !== 0) return null;
  const fit = seconds ? ['repeat', String(Math.ceil(seconds / 5)), 'trim', '0', String(seconds)] : [];
  if (spawnSync('sox', [raw, '-r', '48000', '-c', '1', '-b', '16', wav, ...fit]).status !== 0) return null;
  return wav;
}

export function launchArgs(wav: string | null): string[] {
  return [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--no-first-run',
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    '--autoplay-policy=no-user-gesture-required',
    ...(wav ? [`--use-file-for-fake-audio-capture=${wav}`] : []),
  ];
}

export function launchChromium(wav: string | null): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: launchArgs(wav) });
}

export async function openApp(browser: Browser, url: string, options: { context?: BrowserContext; viewport?: { width: number; height: number }; colorScheme?: 'light' | 'dark' } = {}): Promise<Page> {
  const context = options.context ?? (await browser.newContext({ viewport: options.viewport ?? DESKTOP, colorScheme: options.colorScheme ?? 'light' }));
  const page = await context.newPage();
  page.on('pageerror', (error) => console.log(`# page error: ${error.message}`));
  await page.goto(url);
  return page;
}

export async function signIn(page: Page, username: string, options: { create?: string; password?: string } = {}): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(options.password ?? PASSWORD);
  if (options.create) {
    await page.getByLabel('Email').fill(options.create);
    await page.getByRole('button', { name: 'Create account' }).click();
  } else await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByText(`Signed in as ${username}`).waitFor();
}

/** Resolves once the service worker controls the page (it adds the token to message audio). */
export async function serviceWorkerReady(page: Page): Promise<void> {
  await page.waitForFunction(() => Boolean((globalThis as unknown as { navigator: { serviceWorker?: { controller: unknown } } }).navigator.serviceWorker?.controller), null, { timeout: 20_000 });
}
