// Exploring trained runs in the page (Chromium): the models run as ONNX in a worker, and give
// what the library gives: the same text for the same seed, a GAN walk that ends where it
// should, the webcam through a style net.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import sharp from 'sharp';
import { startStudio } from '../src/studio/server.js';
import { TEXT_DEFAULTS, trainText } from '../src/models/text/index.js';
import { GAN_DEFAULTS, trainGan } from '../src/models/gan/index.js';
import { writeStyleNetRun } from './studio-run-fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  // The webcam: Chromium's test pattern, with no permission prompt.
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
];

/** What the page explores: an LSTM, a transformer on subword units, a conditional GAN, an untrained style net. */
async function makeRuns(root: string): Promise<void> {
  const corpus = path.join(root, 'corpus.txt');
  writeFileSync(corpus, 'the quick brown fox jumps over the lazy dog. '.repeat(40));
  const text = { ...TEXT_DEFAULTS, corpus, batch: 8, steps: 3, sampleLength: 10, logEvery: 100 };
  await trainText({ ...text, model: 'lstm', maxlen: 10, units: 8 }, path.join(root, 'runs', 'lstm-t'), {});
  await trainText(
    { ...text, model: 'gpt', merges: 12, layers: 1, embed: 16, heads: 2, block: 8, warmup: 1 },
    path.join(root, 'runs', 'gpt-t'),
    {},
  );
  for (let i = 0; i < 8; i++) {
    const dir = path.join(root, 'imgs', i % 2 ? 'light' : 'dark');
    mkdirSync(dir, { recursive: true });
    await sharp(Buffer.alloc(24 * 24, i % 2 ? 230 : 25), { raw: { width: 24, height: 24, channels: 1 } })
      .png()
      .toFile(path.join(dir, `${i}.png`));
  }
  await trainGan(
    {
      ...GAN_DEFAULTS,
      data: path.join(root, 'imgs'),
      size: 24,
      channels: 1,
      latent: 4,
      batch: 4,
      steps: 2,
      gFilters: 4,
      dFilters: 4,
      sampleEvery: 2,
    },
    path.join(root, 'runs', 'gan-t'),
    {},
  );
  writeStyleNetRun(path.join(root, 'runs', 'style-t'));
}

/** Generates with the text form, on the server or in the page; the prime and what follows it, once complete. */
async function generateText(
  page: Page,
  o: { run: string; temperature: string; seed: string; inPage: boolean },
): Promise<string> {
  await page.selectOption('#gen-run', o.run);
  await page.fill('#gen-prime', 'the lazy ');
  await page.$eval('#gen-temp', (e, t) => ((e as HTMLInputElement).value = t), o.temperature);
  await page.fill('#gen-seed', o.seed);
  await page.fill('#gen-length', '30');
  await page.setChecked('#gen-inpage', o.inPage);
  await page.evaluate(() => (document.getElementById('gen-out')!.textContent = 'waiting'));
  await page.evaluate(() => (document.getElementById('gen-status')!.textContent = ''));
  await page.click('#gen-go');
  await page.waitForFunction(() => /^done|never saw/.test(document.getElementById('gen-status')!.textContent!), null, {
    timeout: 60_000,
  });
  return (await page.textContent('#gen-out'))!;
}

test(
  'in Chromium: text, the GAN walk and the webcam run in a worker of the page and match the library',
  { skip: !existsSync(CHROMIUM) && 'no /usr/bin/chromium (scripts/setup.sh installs it)' },
  async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'loom-explore-'));
    await makeRuns(root);
    const studio = await startStudio({ root, port: 0 });
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: 60_000 });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(studio.link);
      assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'isolated, so the runtime may use threads');
      await page.waitForFunction(() => (document.getElementById('gen-run') as HTMLSelectElement).options.length >= 2);

      // The same prime, temperature and seed give the same characters in the page as from the
      // CLI: greedy and sampled, for the LSTM and for the transformer past its 8-unit context.
      for (const run of ['lstm-t', 'gpt-t']) {
        for (const [temperature, seed] of [
          ['0', '0'],
          ['0.8', '3'],
        ]) {
          const served = await generateText(page, { run, temperature, seed, inPage: false });
          const inPage = await generateText(page, { run, temperature, seed, inPage: true });
          assert.equal([...served.replace(/\n+$/, '')].length, 'the lazy '.length + 30);
          assert.equal(inPage, served.replace(/\n+$/, ''), `${run} at temperature ${temperature}, seed ${seed}`);
        }
      }
      await page.fill('#gen-prime', 'the lazy Zoo');
      await page.click('#gen-go');
      await page.waitForFunction(() => /never saw/.test(document.getElementById('gen-status')!.textContent!));
      assert.equal(await page.textContent('#gen-status'), 'the prime has characters the model never saw: "Z"');

      // The GAN walk: its classes fill the choice; from seed 0 to 1 ends where from 1 to 0 starts.
      await page.click('button[data-tab=gan]');
      await page.selectOption('#walk-run', 'gan-t');
      await page.waitForFunction(() => (document.getElementById('walk-class') as HTMLSelectElement).options.length > 0);
      assert.deepEqual(await page.$$eval('#walk-class option', (o) => o.map((x) => x.textContent)), ['dark', 'light']);
      const picture = async () => {
        const before = await page.$eval('#walk-img', (i) => (i as HTMLImageElement).src);
        await page.waitForFunction(
          (old) => {
            const src = (document.getElementById('walk-img') as HTMLImageElement).src;
            return src.startsWith('data:image/png') && src !== old;
          },
          before,
          { timeout: 30_000 },
        );
        return page.$eval('#walk-img', (i) => (i as HTMLImageElement).src);
      };
      const setWalk = (id: string, v: string) =>
        page.$eval(
          id,
          (e, value) => {
            (e as HTMLInputElement).value = value;
            e.dispatchEvent(new Event('input'));
          },
          v,
        );
      let next = picture();
      await setWalk('#walk-t', '1');
      const end = await next;
      next = picture();
      await setWalk('#walk-t', '0.5');
      const middle = await next;
      assert.notEqual(middle, end);
      await page.fill('#walk-a', '1');
      await page.fill('#walk-b', '0');
      next = picture();
      await setWalk('#walk-t', '0');
      assert.equal(await next, end, 'the walk from seed 1 starts at the point the walk to seed 1 ended at');
      next = picture();
      await page.selectOption('#walk-class', 'light');
      assert.notEqual(await next, end, 'the class changes the picture');
      assert.equal(await page.$eval('#walk-img', (i) => (i as HTMLImageElement).naturalWidth), 24 * 8);

      // The webcam through the style net: frames come back and their rate is shown.
      await page.click('button[data-tab=style]');
      await page.selectOption('#fast-run', 'style-t');
      await page.fill('#fast-side', '64');
      await page.click('#cam-start');
      await page.waitForFunction(() => Number(document.getElementById('cam-out')!.dataset.frames) >= 3, null, {
        timeout: 60_000,
      });
      assert.match((await page.textContent('#cam-status'))!, /^64x48, \d+\.\d frames a second, in this page$/);
      assert.deepEqual(
        await page.$eval('#cam-out', (c) => [(c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height]),
        [64, 48],
      );
      await page.click('#cam-stop');
      assert.equal(
        await page.$eval('#cam-video', (v) =>
          ((v as HTMLVideoElement).srcObject as MediaStream).getTracks().every((t) => t.readyState === 'ended'),
        ),
        true,
        'stop lets the camera go',
      );

      // Every model ran in the worker: the page itself never loaded the runtime.
      assert.equal(await page.evaluate(() => 'ort' in window), false);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await studio.close();
      rmSync(root, { recursive: true, force: true });
    }
  },
);
