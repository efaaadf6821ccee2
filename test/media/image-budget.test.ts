/**
 * image_size_hint has a budget (issue 22 item 4), on both databases. A flood of distinct hints
 * over clips that share a large PNG decodes each original once (into a master), stores at
 * most IMAGE_SIZES_PER_IMAGE sizes per image and answers the rest with the nearest stored size.
 * A client past IMAGE_SIZE_RATE_LIMIT, or a request that finds the work queue full, gets null
 * for the sizes it would have made, at once; sizes made before are still answered.
 * bench/image-hint-attack.ts runs the full attack (a 7000x7000 PNG, 8 clients) and measures it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { FIXED_GEOMETRIES, MASTER } from '../../src/domain/media/image-size-policy.js';
import { newUser, request } from '../helpers/client.js';
import { databaseKinds } from '../helpers/databases.js';
import { fixture } from '../helpers/media.js';
import { waitProcessed } from '../helpers/processing.js';
import { startServer, TestClock, type TestServer } from '../helpers/server.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- views are checked field by field */

const SIDE = 3000; // large enough to get a master (2048x2048), small enough to decode quickly

/** A smooth SIDE x SIDE gradient: a small file that still takes a full decode. */
async function largePng(): Promise<Buffer> {
  const corners = Buffer.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 0]);
  return sharp(corners, { raw: { width: 2, height: 2, channels: 3 } }).resize(SIDE, SIDE, { kernel: 'cubic' }).png().toBuffer();
}

async function imageMetrics(server: TestServer): Promise<Record<string, number>> {
  const text = (await request(server.url, 'GET', '/metrics')).text;
  const out: Record<string, number> = {};
  for (const match of text.matchAll(/^trickle_image_(\w+)\{\w+="(\w+)"\} (\d+)/gm)) out[`${match[1]}:${match[2]}`] = Number(match[3]);
  return out;
}

async function renditionRows(server: TestServer): Promise<Array<{ image_file_id: number; geometry: string }>> {
  return server.app.services.database.db.selectFrom('image_renditions').select(['image_file_id', 'geometry']).execute();
}

const hints = (geometries: string[]) => geometries.map((geometry, i) => `image_size_hint[h${i}]=${encodeURIComponent(geometry)}`).join('&');

for (const kind of databaseKinds()) {
  describe(`image_size_hint budget on ${kind.name}`, { skip: kind.skip }, () => {
    let png: Buffer;
    before(async () => {
      png = await largePng();
    });

    const createClips = async (server: TestServer, count: number) => {
      const owner = await newUser(server.url, 'images');
      const details: string[] = [];
      for (let i = 0; i < count; i += 1) {
        const reply = await request(server.url, 'POST', '/audio_clips', {
          token: owner.token,
          multipart: [
            ['audio_clip[title]', `shared image ${i}`],
            ['audio_clip[uploaded_data]', fixture('tone.wav'), 'tone.wav'],
            ['audio_clip[uploaded_image]', png, 'large.png'],
          ],
        });
        assert.equal(reply.status, 201, reply.text);
        details.push(reply.json.body.audio_clip.urls.detail);
      }
      return details;
    };

    describe('a flood of distinct hints', () => {
      let server: TestServer;
      before(async () => {
        server = await startServer(kind, { imageSizesPerImage: 4, imageSizeRateLimit: 0 });
      });
      after(() => server.close());

      test('decodes each original once, stores at most IMAGE_SIZES_PER_IMAGE sizes, answers the rest with the nearest', async () => {
        const details = await createClips(server, 2);
        // 4 lanes x 8 requests x 5 hints: 160 distinct geometries, each asked for both images.
        const modes = ['', '<', '/c'];
        const answers: any[] = [];
        await Promise.all(
          Array.from({ length: 4 }, async (_, lane) => {
            for (let round = 0; round < 8; round += 1) {
              const asked = Array.from({ length: 5 }, (_, i) => `${40 + lane * 400 + round * 40 + i}x${30 + round * 50 + i * 7}${modes[(lane + round + i) % 3]}`);
              const reply = await request(server.url, 'GET', `/audio_clips?page[items]=2&${hints(asked)}`);
              assert.equal(reply.status, 200, reply.text);
              answers.push(...reply.json.body.audio_clips.map((clip: any) => clip.urls.images));
            }
          }),
        );
        // The background job adds each image's thumb and full sizes whenever it runs: the rows are counted once it is done.
        for (const detail of details) await waitProcessed(server.url, detail, undefined);
        const rows = await renditionRows(server);
        const images = [...new Set(rows.map((row) => row.image_file_id))];
        assert.equal(images.length, 2);
        for (const image of images) {
          const mine = rows.filter((row) => row.image_file_id === image);
          assert.equal(mine.filter((row) => !FIXED_GEOMETRIES.includes(row.geometry)).length, 4, JSON.stringify(mine));
          assert.equal(mine.filter((row) => row.geometry === MASTER).length, 1);
        }
        const metrics = await imageMetrics(server);
        // One decode of each original, for its master (whether the background job or a GET made it).
        assert.equal(metrics['resizes_total:original'], 2, JSON.stringify(metrics));
        assert.ok(metrics['sizes_declined_total:sizes_per_image']! > 100, JSON.stringify(metrics));
        // Every answer is a stored size (the one asked for, or the nearest), served.
        const urls = new Set<string>();
        for (const images of answers) {
          for (const [name, image] of Object.entries(images as Record<string, any>)) {
            if (!name.startsWith('h') || image === null) continue;
            assert.ok(image.width > 0 && image.height > 0);
            urls.add(image.url);
          }
        }
        assert.ok(urls.size >= 8, `${urls.size} sizes answered`);
        for (const url of urls) {
          const image = await fetch(server.url + url);
          assert.equal(image.status, 200, url);
          await image.arrayBuffer();
        }
        // A new geometry now: the nearest stored size, nothing made.
        const detail = (await request(server.url, 'GET', '/audio_clips?page[items]=1')).json.body.audio_clips[0].urls.detail;
        const nearest = (await request(server.url, 'GET', `${detail}?image_size_hint[x]=1999x1999/c`)).json.body.audio_clip.urls.images.x;
        // The nearest may be a hinted size or a fixed one (`full`), whichever the lanes' order left stored.
        assert.ok(nearest && nearest.width > 0, JSON.stringify(nearest));
        const served = await fetch(server.url + nearest.url);
        assert.equal(served.status, 200, nearest.url);
        await served.arrayBuffer();
        assert.equal((await renditionRows(server)).length, rows.length);
        assert.equal((await imageMetrics(server))['resizes_total:original'], 2);
      });
    });

    describe('per-client rate and a full queue', () => {
      let server: TestServer;
      let clock: TestClock;
      before(async () => {
        clock = new TestClock();
        // No background jobs (they would take the one slot); one resize at a time, none waiting.
        server = await startServer(kind, { ffmpegPath: '/nonexistent/ffmpeg', imageSizeRateLimit: 1, imageConcurrency: 1, imageQueueLimit: 0, trustProxy: true }, clock);
      });
      after(() => server.close());

      const ask = async (detail: string, geometry: string, address: string) => {
        const reply = await request(server.url, 'GET', `${detail}?image_size_hint[x]=${encodeURIComponent(geometry)}`, { headers: { 'x-forwarded-for': address } });
        assert.equal(reply.status, 200, reply.text);
        return reply.json.body.audio_clip.urls.images.x;
      };

      /**
       * Asks from fresh addresses until the size is there: on a loaded machine a size may take
       * longer than a request waits (it is null then, and finished for the next request).
       */
      let fresh = 0;
      const askUntilMade = async (detail: string, geometry: string) => {
        for (let attempt = 0; attempt < 20; attempt += 1) {
          const answer = await ask(detail, geometry, `10.9.${Math.floor(fresh / 250)}.${(fresh++ % 250) + 1}`);
          if (answer) return answer;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
        assert.fail(`${geometry} of ${detail} was never made`);
      };

      test('a client makes sizes in IMAGE_SIZE_RATE_LIMIT requests a minute; sizes made before are answered regardless', async () => {
        const [detail] = await createClips(server, 1);
        await askUntilMade(detail!, '10x10/c'); // the master, made beforehand so that no size below waits for it
        const made = await ask(detail!, '64x64/c', '10.1.0.1');
        assert.deepEqual([made?.width, made?.height], [64, 64]);
        assert.equal(await ask(detail!, '65x65/c', '10.1.0.1'), null);
        assert.deepEqual(await ask(detail!, '64x64/c', '10.1.0.1'), made);
        assert.deepEqual((await ask(detail!, '65x65/c', '10.1.0.2'))?.width, 65);
        clock.advance(60_000);
        assert.deepEqual((await ask(detail!, '66x66/c', '10.1.0.1'))?.width, 66);
        assert.equal((await imageMetrics(server))['sizes_declined_total:rate'], 1);
      });

      test('a request that finds the queue full gets null at once instead of waiting', async () => {
        const details = await createClips(server, 4);
        // Each image needs its master made first; with one slot and no waiting, those asking while
        // another master is made are refused.
        const answers = await Promise.all(details.map((detail, i) => ask(detail, '50x50', `10.2.0.${i + 1}`)));
        const refused = answers.filter((answer) => answer === null).length;
        assert.ok(refused >= 1, JSON.stringify(answers));
        assert.equal((await imageMetrics(server))['sizes_declined_total:busy'], refused);
        // Asked again one at a time (new addresses: each has its rate), every size is made.
        for (const detail of details) assert.equal((await askUntilMade(detail, '50x50')).width, 50);
      });
    });
  });
}
