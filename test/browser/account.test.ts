/**
 * The web app's account parts in a real browser (Debian's Chromium, driven by playwright-core):
 * blocking a sender from their conversation and unblocking them, changing the password
 * (other sessions end, this one goes on), and deleting the account after a confirmation that
 * asks for the password. Skipped when Chromium is not installed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { databaseKinds } from '../helpers/databases.js';
import { newUser, request } from '../helpers/client.js';
import { fixture } from '../helpers/media.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { assertNoRowsNaming, waitErased } from '../helpers/user-data.js';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = path.join(import.meta.dirname, '..', '..');
const PASSWORD = 'correct horse battery';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)`;

describe('the web app: account, blocking, deletion', { skip }, () => {
  let server: TestServer;
  let browser: Browser;
  before(async () => {
    execFileSync(process.execPath, ['--disable-warning=ExperimentalWarning', path.join(ROOT, 'scripts', 'build.mjs'), '--if-stale']); // the SDK modules the page loads
    server = await startServer(databaseKinds()[0]!, { ffmpegPath: '/nonexistent/ffmpeg' });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  async function signedIn(username: string, password = PASSWORD): Promise<Page> {
    const page = await (await browser.newContext({ viewport: { width: 760, height: 1000 } })).newPage();
    page.on('pageerror', (error) => console.log(`# page error: ${error.message}`));
    await page.goto(`${server.url}/`);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByText(`Signed in as ${username}`).waitFor();
    return page;
  }

  const send = (from: { token: string }, to: { id: number }, title: string) =>
    request(server.url, 'POST', '/account/outbox', {
      token: from.token,
      multipart: [['message[recipient_id]', String(to.id)], ['message[title]', title], ['message[uploaded_data]', fixture('tone.opus'), 'm.opus']],
    });

  test('block a sender from their conversation, then unblock them', async () => {
    const [ann, ben] = [await newUser(server.url, 'web_ann'), await newUser(server.url, 'web_ben')];
    assert.equal((await send(ben, ann, 'Hello from ben')).status, 201);
    const page = await signedIn(ann.username);
    const conversation = page.getByRole('link', { name: new RegExp(ben.username) });
    await conversation.click();
    const message = page.locator('.bubble', { has: page.getByRole('heading', { name: 'Hello from ben' }) });
    await message.waitFor();
    await page.getByRole('button', { name: `Block ${ben.username}` }).click();
    await message.waitFor({ state: 'hidden' });
    await conversation.waitFor({ state: 'detached' });
    await page.getByRole('link', { name: 'Account' }).click();
    const blocked = page.locator('#blocked li', { hasText: ben.username });
    await blocked.waitFor();
    assert.equal((await send(ben, ann, 'after the block')).json.body.error.name, 'recipient_not_found');

    await blocked.getByRole('button', { name: `Unblock ${ben.username}` }).click();
    await blocked.waitFor({ state: 'detached' });
    await page.getByRole('link', { name: 'Messages' }).click();
    await conversation.click();
    await message.waitFor();
    assert.equal((await send(ben, ann, 'after the unblock')).status, 201);
  });

  test('change the password: other sessions end, this one goes on', async () => {
    const cat = await newUser(server.url, 'web_cat');
    const page = await signedIn(cat.username);
    await page.getByRole('link', { name: 'Account' }).click();
    await page.getByLabel('Current password').fill('not the password');
    await page.getByLabel('New password').fill('a brand new one');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('The current password is wrong.').waitFor();
    await page.getByLabel('Current password').fill(PASSWORD);
    await page.getByLabel('New password').fill('a brand new one');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('Password changed; your other sessions are signed out.').waitFor();
    assert.equal((await request(server.url, 'GET', '/account', { token: cat.token })).status, 401, 'the other session ended');
    const signIn = (password: string) => request(server.url, 'POST', '/oauth/token', { form: { grant_type: 'password', username: cat.username, password } });
    assert.equal((await signIn(PASSWORD)).status, 400);
    assert.equal((await signIn('a brand new one')).status, 200);
    // The page's own session goes on.
    await page.reload();
    await page.getByText(`Signed in as ${cat.username}`).waitFor();
    await page.getByRole('heading', { name: 'Blocked users' }).waitFor();
    assert.equal(await page.locator('#sign-in').isHidden(), true);
  });

  test('delete the account, after a confirmation that asks for the password', async () => {
    const [dan, eve] = [await newUser(server.url, 'web_dan'), await newUser(server.url, 'web_eve')];
    assert.equal((await send(dan, eve, 'from dan')).status, 201);
    const page = await signedIn(dan.username);
    await page.getByRole('link', { name: 'Account' }).click();
    const form = page.locator('#delete-form');
    assert.equal(await form.isHidden(), true, 'nothing to click by accident');
    await page.getByRole('button', { name: 'Delete account…' }).click();
    await page.getByText('It cannot be undone.').waitFor();
    await page.getByRole('button', { name: 'Cancel' }).click();
    await form.waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: 'Delete account…' }).click();
    await page.getByLabel('Type your password to confirm').fill('wrong password');
    await page.getByRole('button', { name: 'Delete my account for good' }).click();
    await page.getByText('The password is wrong; nothing was deleted.').waitFor();
    assert.equal((await request(server.url, 'GET', '/account', { token: dan.token })).status, 200);

    await page.getByLabel('Type your password to confirm').fill(PASSWORD);
    await page.getByRole('button', { name: 'Delete my account for good' }).click();
    await page.getByText(`The account ${dan.username} was deleted, with everything in it.`).waitFor();
    assert.equal(await page.locator('#sign-in').isVisible(), true);
    const db = server.app.services.database.db;
    await waitErased(db, dan.id);
    await assertNoRowsNaming(db, dan.id);
    assert.deepEqual((await request(server.url, 'GET', '/account/inbox', { token: eve.token })).json.body.messages, []);
  });
});
