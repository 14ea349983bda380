// Exploring trained runs in the page, in Chromium and in Firefox: the models run as ONNX in a
// worker, and give what the library gives: the same text for the same seed, a GAN walk that
// ends where it should, the webcam through a style net.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';
import sharp from 'sharp';
import { startStudio } from '../src/studio/server.js';
import { TEXT_DEFAULTS, trainText } from '../src/models/text/index.js';
import { GAN_DEFAULTS, trainGan } from '../src/models/gan/index.js';
import { VAE_DEFAULTS, trainVae } from '../src/models/vae/index.js';
import { writeStyleNetRun } from './studio-run-fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const FIREFOX = '/usr/bin/firefox-esr';

/**
 * What the scenario needs of a browser page: Playwright drives Chromium, Puppeteer drives
 * Firefox (over WebDriver BiDi, which Debian's Firefox speaks), and the two spell these apart.
 */
interface Driver {
  run<A, R>(fn: (a: A) => R, arg: A): Promise<Awaited<R>>;
  until<A>(fn: (a: A) => boolean, arg: A, timeout?: number): Promise<void>;
  click(selector: string): Promise<void>;
  resize(width: number, height: number): Promise<void>;
}

/** Sets a form field as a person would: its value (a checkbox's state), then its input and change events. */
function set(d: Driver, id: string, value: string | boolean): Promise<void> {
  return d.run(
    ([id, value]) => {
      const e = document.getElementById(id) as HTMLInputElement;
      if (typeof value === 'boolean') e.checked = value;
      else e.value = value;
      e.dispatchEvent(new Event('input'));
      e.dispatchEvent(new Event('change'));
    },
    [id, value] as const,
  );
}
const text = (d: Driver, id: string) => d.run((id) => document.getElementById(id)!.textContent!, id);

/** What the page explores: an LSTM, a subword transformer, a conditional GAN, an untrained style net, a VAE. */
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
  await trainVae({ ...VAE_DEFAULTS, epochs: 1, limit: 32, logEvery: 100 }, path.join(root, 'runs', 'vae-t'), {});
}

/** Generates with the text form, on the server or in the page; the prime and what follows it, once complete. */
async function generateText(
  d: Driver,
  o: { run: string; temperature: string; seed: string; inPage: boolean },
): Promise<string> {
  for (const [id, v] of [
    ['gen-run', o.run],
    ['gen-prime', 'the lazy '],
    ['gen-temp', o.temperature],
    ['gen-seed', o.seed],
    ['gen-length', '30'],
    ['gen-inpage', o.inPage],
  ] as const)
    await set(d, id, v);
  await d.run(() => (document.getElementById('gen-status')!.textContent = ''), null);
  await d.click('#gen-go');
  await d.until(() => /^done|never saw/.test(document.getElementById('gen-status')!.textContent!), null, 60_000);
  return text(d, 'gen-out');
}

/** The page's picture `id` once `change` has made it change (a data URL). */
async function nextPicture(d: Driver, id: string, change: () => Promise<void>): Promise<string> {
  const before = await d.run((id) => (document.getElementById(id) as HTMLImageElement).src, id);
  await change();
  await d.until(
    ([id, old]) => {
      const src = (document.getElementById(id) as HTMLImageElement).src;
      return src.startsWith('data:image/png') && src !== old;
    },
    [id, before] as const,
    60_000,
  );
  return d.run((id) => (document.getElementById(id) as HTMLImageElement).src, id);
}

/** The whole scenario, in whichever browser `d` drives; `errors` collects the page's uncaught errors. */
async function explore(d: Driver, errors: string[]): Promise<void> {
  assert.equal(await d.run(() => crossOriginIsolated, null), true, 'isolated, so the runtime may use threads');
  await d.until(() => (document.getElementById('gen-run') as HTMLSelectElement).options.length >= 2, null);

  // The same prime, temperature and seed give the same characters in the page as from the
  // CLI: greedy and sampled, for the LSTM and for the transformer past its 8-unit context.
  for (const run of ['lstm-t', 'gpt-t']) {
    for (const [temperature, seed] of [
      ['0', '0'],
      ['0.8', '3'],
    ]) {
      const served = (await generateText(d, { run, temperature, seed, inPage: false })).replace(/\n+$/, '');
      const inPage = await generateText(d, { run, temperature, seed, inPage: true });
      assert.equal([...served].length, 'the lazy '.length + 30);
      assert.equal(inPage, served, `${run} at temperature ${temperature}, seed ${seed}`);
    }
  }
  await set(d, 'gen-prime', 'the lazy Zoo');
  await d.click('#gen-go');
  await d.until(() => /never saw/.test(document.getElementById('gen-status')!.textContent!), null);
  assert.equal(await text(d, 'gen-status'), 'the prime has characters the model never saw: "Z"');

  // The GAN walk: its classes fill the choice; from seed 0 to 1 ends where from 1 to 0 starts.
  await d.click('button[data-tab=gan]');
  await set(d, 'walk-run', 'gan-t');
  await d.until(() => (document.getElementById('walk-class') as HTMLSelectElement).options.length > 0, null);
  assert.deepEqual(
    await d.run(() => [...document.querySelectorAll('#walk-class option')].map((o) => o.textContent), null),
    ['dark', 'light'],
  );
  const end = await nextPicture(d, 'walk-img', () => set(d, 'walk-t', '1'));
  const middle = await nextPicture(d, 'walk-img', () => set(d, 'walk-t', '0.5'));
  assert.notEqual(middle, end);
  // Each change waited for, in an order where each makes a new picture: seeds (0, 0), then (1, 0).
  // Unwaited, a render of (1, 1), which is the end's picture, could be what the last step compares against.
  await nextPicture(d, 'walk-img', () => set(d, 'walk-b', '0'));
  await nextPicture(d, 'walk-img', () => set(d, 'walk-a', '1'));
  const start = await nextPicture(d, 'walk-img', () => set(d, 'walk-t', '0'));
  assert.equal(start, end, 'the walk from seed 1 starts at the point the walk to seed 1 ended at');
  assert.notEqual(await nextPicture(d, 'walk-img', () => set(d, 'walk-class', 'light')), end, 'the class counts');
  assert.equal(await d.run(() => (document.getElementById('walk-img') as HTMLImageElement).naturalWidth, null), 24 * 8);

  // The webcam through the style net: frames come back and their rate is shown.
  await d.click('button[data-tab=style]');
  await set(d, 'fast-run', 'style-t');
  await set(d, 'fast-side', '64');
  await d.click('#cam-start');
  await d.until(() => Number(document.getElementById('cam-out')!.dataset.frames) >= 3, null, 60_000);
  assert.match(await text(d, 'cam-status'), /^64x48, \d+\.\d frames a second, in this page$/);
  const size = () => {
    const c = document.getElementById('cam-out') as HTMLCanvasElement;
    return [c.width, c.height];
  };
  assert.deepEqual(await d.run(size, null), [64, 48]);
  await d.click('#cam-stop');
  const ended = () =>
    ((document.getElementById('cam-video') as HTMLVideoElement).srcObject as MediaStream)
      .getTracks()
      .every((t) => t.readyState === 'ended');
  assert.equal(await d.run(ended, null), true, 'stop lets the camera go');

  // The VAE's decoder in the page draws what the studio's libtorch draws, pixel for pixel (to rounding).
  await d.click('button[data-tab=vae]');
  await set(d, 'vae-run', 'vae-t');
  await set(d, 'vae-inpage', true);
  const decoded = await nextPicture(d, 'vae-img', async () => {
    return d.run(
      () =>
        void document.getElementById('vae-plane')!.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight' })),
      null,
    );
  });
  const difference = await d.run(async (inPage) => {
    const pixels = async (src: string) => {
      const img = new Image();
      img.src = src;
      await img.decode();
      const c = document.createElement('canvas');
      [c.width, c.height] = [img.naturalWidth, img.naturalHeight];
      const g = c.getContext('2d')!;
      g.drawImage(img, 0, 0);
      return g.getImageData(0, 0, c.width, c.height).data;
    };
    // The arrow moved the point from the plane's centre (150, 150) to (160, 150).
    const served = await fetch(`/api/vae/decode?run=vae-t&x=${(160 / 300) * 6 - 3}&y=0`);
    const [a, b] = await Promise.all([pixels(inPage), pixels(URL.createObjectURL(await served.blob()))]);
    if (a.length !== b.length) return `sizes differ: ${a.length} and ${b.length} values`;
    let most = 0;
    for (let i = 0; i < a.length; i++) most = Math.max(most, Math.abs(a[i] - b[i]));
    return most;
  }, decoded);
  assert.ok(
    typeof difference === 'number' && difference <= 1,
    `the page's picture differs from the studio's by ${difference}`,
  );

  // Every model ran in the worker: the page itself never loaded the runtime.
  assert.equal(await d.run(() => 'ort' in window, null), false);

  // Every tab fits 1280 and 800 pixels, with no broken picture (as the axe test checks in Chromium).
  const problems: string[] = [];
  for (const width of [1280, 800]) {
    await d.resize(width, 900);
    for (const tab of ['text', 'dream', 'style', 'vae', 'gan', 'runs']) {
      await d.click(`button[data-tab=${tab}]`);
      problems.push(
        ...(await d.run(
          ([tab, width]) => {
            const out: string[] = [];
            const wide = document.documentElement.scrollWidth;
            if (wide > window.innerWidth) out.push(`${tab} at ${width} px: the page is ${wide} px wide`);
            for (const img of document.images)
              if (img.getAttribute('src') && img.complete && img.naturalWidth === 0)
                out.push(`${tab} at ${width} px: a broken image #${img.id || img.alt}`);
            return out;
          },
          [tab, width] as const,
        )),
      );
    }
  }
  assert.deepEqual(problems, []);
  assert.deepEqual(errors, []);
}

/** A studio over the runs the scenario explores, for `body`; cleaned up after. */
async function withStudio(body: (link: string) => Promise<void>): Promise<void> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'loom-explore-'));
  const studio = await startStudio({ root, port: 0 });
  try {
    await makeRuns(root);
    await body(studio.link);
  } finally {
    await studio.close();
    rmSync(root, { recursive: true, force: true });
  }
}

test(
  'in Chromium: text, the GAN walk and the webcam run in a worker of the page and match the library',
  { skip: !existsSync(CHROMIUM) && 'no /usr/bin/chromium (scripts/setup.sh installs it)' },
  () =>
    withStudio(async (link) => {
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        // The webcam: Chromium's test pattern, with no permission prompt.
        args: ['--no-sandbox', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
        timeout: 60_000,
      });
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        await page.goto(link);
        await explore(
          {
            // The generic page functions type-check at the scenario's calls; the adapters only pass them on.
            run: (fn, arg) => page.evaluate(fn as never, arg as never),
            until: async (fn, arg, timeout = 60_000) =>
              void (await page.waitForFunction(fn as never, arg as never, { timeout })),
            click: (selector) => page.click(selector),
            resize: (width, height) => page.setViewportSize({ width, height }),
          },
          errors,
        );
      } finally {
        await browser.close();
      }
    }),
);

test(
  'in Firefox: the same, and every tab fits 1280 and 800 pixels',
  { skip: !existsSync(FIREFOX) && 'no /usr/bin/firefox-esr (scripts/setup.sh installs it)' },
  () =>
    withStudio(async (link) => {
      const browser = await puppeteer.launch({
        browser: 'firefox',
        executablePath: FIREFOX,
        // The webcam: Firefox's fake stream, with no permission prompt.
        extraPrefsFirefox: { 'media.navigator.streams.fake': true, 'media.navigator.permission.disabled': true },
        timeout: 60_000,
      });
      try {
        const page = await browser.newPage();
        await page.setViewport({ width: 1280, height: 900 });
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push((e as Error).message));
        await page.goto(link);
        await explore(
          {
            run: (fn, arg) => page.evaluate(fn as never, arg as never),
            until: async (fn, arg, timeout = 60_000) =>
              void (await page.waitForFunction(fn as never, { timeout }, arg as never)),
            click: (selector) => page.click(selector),
            resize: (width, height) => page.setViewport({ width, height }),
          },
          errors,
        );
      } finally {
        await browser.close();
      }
    }),
);
