// The studio end to end in headless Chromium (Debian's, driven by playwright-core), plus the
// server's answers to bad uploads and path tricks. Screenshots go to $LOOM_SCREENSHOTS if set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { startStudio, UPLOAD_LIMIT } from '../src/studio/server.js';
import * as T from '../src/torch/index.js';
import { VAE_DEFAULTS, trainVae } from '../src/models/vae/index.js';
import { GAN_DEFAULTS, trainGan } from '../src/models/gan/index.js';
import sharp from 'sharp';
import { writeStyleNetRun } from './studio-run-fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A raw request: node's client sends the path as given (no ../ normalisation, unlike browsers). */
function request(
  url: string,
  method: string,
  p: string,
  body?: Buffer | string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  // A studio link's token goes as a Bearer header, unless the test sets its own.
  const t = u.searchParams.get('token');
  if (t && !Object.keys(headers).some((k) => k.toLowerCase() === 'authorization'))
    headers = { authorization: `Bearer ${t}`, ...headers };
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path: p, headers }, (res) => {
      let data = '';
      res
        .setEncoding('utf8')
        .on('data', (c) => (data += c))
        .on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

async function shot(page: Page, name: string, dir: string): Promise<void> {
  await page.screenshot({ path: path.join(process.env.LOOM_SCREENSHOTS ?? dir, `studio-${name}.png`), fullPage: true });
}

test('the studio server refuses bad uploads, path tricks and bad jobs, and keeps serving', async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'loom-studio-'));
  const studio = await startStudio({ root, port: 0, videoUploadLimit: 4096 });
  try {
    writeFileSync(path.join(root, 'secret.txt'), 'not for the browser');
    for (const p of [
      '/files/../secret.txt',
      '/files/runs/../../secret.txt',
      '/files/%2e%2e/secret.txt',
      '/files/runs/%2e%2e/secret.txt',
      '/files/secret.txt',
      '/files//etc/passwd',
    ]) {
      const r = await request(studio.link, 'GET', p);
      assert.ok(r.status >= 400 && r.status < 500, `${p}: ${r.status}`);
      assert.doesNotMatch(r.body, /not for the browser/);
    }
    const token = { authorization: `Bearer ${studio.token}` };
    let r = await request(studio.link, 'POST', '/api/upload', 'some bytes', {
      'content-type': 'application/octet-stream',
      ...token,
    });
    assert.equal(r.status, 415);
    r = await request(studio.link, 'POST', '/api/upload', Buffer.from([0x41, 0, 0x42]), {
      'content-type': 'text/plain',
      ...token,
    });
    assert.equal(r.status, 400);
    assert.match(JSON.parse(r.body).error, /looks binary/);
    r = await request(studio.link, 'POST', '/api/upload', 'not really a png', {
      'content-type': 'image/png',
      ...token,
    });
    assert.equal(r.status, 400);
    assert.match(JSON.parse(r.body).error, /not a readable image/);
    r = await request(studio.link, 'POST', '/api/upload', 'not really a video', {
      'content-type': 'video/mp4',
      ...token,
    });
    assert.equal(r.status, 400);
    assert.match(JSON.parse(r.body).error, /not a readable video/);
    assert.deepEqual(readdirSync(path.join(root, 'uploads')), [], 'a refused upload leaves nothing behind');
    // Videos stream to disk: one over the limit, sent without a declared length (chunked), is
    // cut off mid-stream, and its partial file is gone.
    const over = await request(studio.link, 'POST', '/api/upload', Buffer.alloc(3 * 4096), {
      'content-type': 'video/mp4',
      ...token,
    }).catch((e: Error) => ({ status: 0, body: e.message }));
    assert.ok(over.status === 413 || over.status === 0, `${over.status} ${over.body}`);
    assert.deepEqual(readdirSync(path.join(root, 'uploads')), [], 'a video over the limit leaves nothing behind');
    r = await request(studio.link, 'POST', '/api/upload', Buffer.alloc(UPLOAD_LIMIT + 1), {
      'content-type': 'image/png',
      ...token,
    });
    assert.equal(r.status, 413);
    const job = (o: unknown) =>
      request(studio.link, 'POST', '/api/jobs', JSON.stringify(o), { 'content-type': 'application/json', ...token });
    mkdirSync(path.join(root, 'runs', 'r')); // a run, so that the video is what is refused
    for (const [body, re] of [
      [{ system: 'rm' }, /unknown system/],
      [{ system: 'text', options: { corpus: '../../etc/passwd' } }, /built-in corpus/],
      [{ system: 'text', options: { corpus: 'secret.txt' } }, /built-in corpus/],
      [{ system: 'vae', options: { data: 'secret.txt' } }, /builtin:mnist/],
      [{ system: '__proto__' }, /unknown system/],
      [{ system: 'constructor' }, /unknown system/],
      [{ system: 'text', options: { hasOwnProperty: 1 } }, /has no option/],
      [{ system: 'text', options: { toString: 1 } }, /has no option/],
      [{ system: 'text', options: { out: '/tmp/x' } }, /has no option "out"/],
      [{ system: 'dream', options: { image: '/etc/passwd' } }, /built-in image/],
      [{ system: 'dream', options: { image: '/etc/passwd.mp4' } }, /image must be an uploaded video/],
      [{ system: 'style-video', options: { run: '..', video: 'upload:x.mp4' } }, /a run is named by its folder name/],
      [{ system: 'style-video', options: { run: 'r', video: '/etc/passwd.mp4' } }, /must be an uploaded video/],
      [{ system: 'style-video', options: { run: 'r', video: 'builtin:dog' } }, /must be an uploaded video/],
      [
        { system: 'style', options: { content: 'builtin:dog', style: 'builtin:scream', mask: 'builtin:dog' } },
        /mask must be an uploaded image/,
      ],
      [{ system: 'text', options: { steps: '3; rm -rf /' } }, /bad value/],
      [{ system: 'dream', options: { processes: 2 } }, /only text, vae, gan train on several processes/],
      [{ system: 'gan', options: { processes: 1000 } }, /processes must be a whole number from 1 to/],
      [{ system: 'gan', options: { processes: '2 -- rm' } }, /processes must be a whole number/],
    ] as const) {
      r = await job(body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(JSON.parse(r.body).error, re);
    }
    // A mask goes after its style with a colon, as the CLI reads it.
    const png = await sharp({ create: { width: 8, height: 6, channels: 3, background: '#ffffff' } })
      .png()
      .toBuffer();
    r = await request(studio.link, 'POST', '/api/upload', png, { 'content-type': 'image/png', ...token });
    const mask = JSON.parse(r.body).id as string;
    r = await job({ system: 'style', options: { content: 'builtin:dog', style: 'builtin:scream', mask } });
    assert.equal(r.status, 201, r.body);
    const started = JSON.parse(r.body) as { id: string; args: string[] };
    assert.ok(started.args.includes(`builtin:scream:${path.join(root, 'uploads', mask.slice(7))}`), `${started.args}`);
    await request(studio.link, 'DELETE', `/api/jobs/${started.id}`, undefined, token);
    r = await request(studio.link, 'POST', '/api/jobs', '{not json', { 'content-type': 'application/json', ...token });
    assert.equal(r.status, 400);
    r = await request(studio.link, 'GET', '/api/vae/decode?run=..&x=0&y=0');
    assert.equal(r.status, 400);
    r = await request(studio.link, 'GET', '/api/vae/decode?run=nothing&x=0&y=0');
    assert.equal(r.status, 404);
    mkdirSync(path.join(root, 'runs', 'x'));
    for (const [bad, status] of [
      ['/api/export?run=..', 400],
      ['/api/export?run=nothing', 404],
      ['/api/export?run=x&part=weights', 400],
    ] as const) {
      r = await request(studio.link, 'GET', bad);
      assert.equal(r.status, status, bad);
      assert.doesNotMatch(r.body, new RegExp(root), 'no server path in the answer');
    }
    // A picture to show beside a result: a built-in or an upload by name, never a path.
    for (const [bad, status] of [
      ['/api/images/file?name=/etc/passwd', 400],
      ['/api/images/file?name=builtin:..%2Fpasswd', 400],
      ['/api/images/file?name=upload:' + '0'.repeat(40) + '.png', 404],
    ] as const) {
      r = await request(studio.link, 'GET', bad);
      assert.equal(r.status, status, bad);
      assert.doesNotMatch(r.body, new RegExp(root), 'no server path in the answer');
    }
    r = await request(studio.link, 'GET', `/api/images/file?name=${mask}`);
    assert.deepEqual([r.status, r.body.slice(1, 4)], [200, 'PNG'], 'an upload, as it was stored');
    for (const bad of [
      '/vendor/onnxruntime-web/package.json',
      '/vendor/onnxruntime-web/..',
      '/vendor/onnxruntime-web/%2e%2e%2fpackage.json',
    ]) {
      r = await request(studio.link, 'GET', bad);
      assert.equal(r.status, 404, bad);
    }
    r = await request(studio.link, 'GET', '/vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm');
    assert.equal(r.status, 200);
    r = await request(studio.link, 'GET', '/');
    assert.equal(r.status, 200);
    assert.match(r.body, /Loom studio/);
  } finally {
    await studio.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('the studio refuses other sites: no token, a foreign Origin or Host, or non-JSON bodies start nothing', async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'loom-studio-'));
  const studio = await startStudio({ root, port: 0 });
  try {
    writeFileSync(path.join(root, '.env'), 'SECRET=hunter2');
    const body = JSON.stringify({ system: 'text', options: { steps: 1, batch: 1, maxlen: 8 } });
    const json = { 'content-type': 'application/json' };
    const token = { authorization: `Bearer ${studio.token}` };
    const port = new URL(studio.url).port;
    for (const [headers, status, re] of [
      [json, 403, /session token/], // a page of another site cannot read the token
      [{ ...json, authorization: 'Bearer guess' }, 403, /session token/],
      [{ ...json, cookie: `loom-studio-${port}=guess` }, 403, /session token/],
      [{ ...json, ...token, origin: 'http://evil.example' }, 403, /other sites/],
      [{ ...json, ...token, host: `evil.example:${port}` }, 403, /answers only to/], // DNS rebinding
      [{ 'content-type': 'text/plain', ...token }, 415, /application\/json/], // what a <form> can send
    ] as const) {
      const r = await request(studio.url, 'POST', '/api/jobs', body, headers as Record<string, string>);
      assert.equal(r.status, status, r.body);
      assert.match(JSON.parse(r.body).error, re);
    }
    // Reading runs through a rebound name is refused too, and no job was started.
    let r = await request(studio.link, 'GET', '/api/jobs', undefined, { host: 'evil.example' });
    assert.equal(r.status, 403);
    r = await request(studio.link, 'GET', '/api/jobs');
    assert.deepEqual(JSON.parse(r.body), []);
    // The studio's own page holds no token; with the token and a matching Origin a job starts.
    r = await request(studio.link, 'GET', '/');
    assert.equal(r.status, 200);
    assert.ok(!r.body.includes(studio.token));
    r = await request(studio.link, 'POST', '/api/jobs', body, {
      ...json,
      ...token,
      origin: `http://127.0.0.1:${port}`,
    });
    assert.equal(r.status, 201, r.body);
    await request(studio.link, 'DELETE', `/api/jobs/${JSON.parse(r.body).id}`, undefined, token);
    // A dangling link under runs/ does not break the run list; errors name no server path.
    symlinkSync(path.join(root, 'nowhere'), path.join(root, 'runs', 'dangling'));
    r = await request(studio.link, 'GET', '/api/runs');
    assert.equal(r.status, 200, r.body);
    r = await request(studio.link, 'GET', '/api/gan/sample?run=dangling&seed=1');
    assert.ok(r.status >= 400 && !r.body.includes(root), r.body);
  } finally {
    await studio.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test("the GAN sample endpoint draws a conditional run's asked class; an unknown class is a 400", async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'loom-studio-'));
  // Two class folders of flat grey images: a conditional dcgan learns dark and light.
  for (let i = 0; i < 16; i++) {
    const dir = path.join(root, 'imgs', i % 2 ? 'light' : 'dark');
    mkdirSync(dir, { recursive: true });
    await sharp(Buffer.alloc(24 * 24, i % 2 ? 230 : 25), { raw: { width: 24, height: 24, channels: 1 } })
      .png()
      .toFile(path.join(dir, `${i}.png`));
  }
  const cfg = { ...GAN_DEFAULTS, data: path.join(root, 'imgs'), size: 24, channels: 1 as const };
  await trainGan(
    { ...cfg, latent: 4, batch: 8, steps: 2, gFilters: 8, dFilters: 8, sampleEvery: 2 },
    path.join(root, 'runs', 'g'),
    {},
  );
  const studio = await startStudio({ root, port: 0 });
  try {
    for (const [q, status] of [
      ['', 200],
      ['&label=1', 200],
      ['&label=light', 200],
      ['&label=7', 400],
    ] as const) {
      const r = await request(studio.link, 'GET', `/api/gan/sample?run=g&seed=1${q}`);
      assert.equal(r.status, status, `${q}: ${r.body.slice(0, 200)}`);
      if (status === 400)
        assert.match(JSON.parse(r.body).error, /unknown class '7'; this run's classes are dark, light/);
    }
  } finally {
    await studio.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test(
  'in Chromium: a page of another origin cannot start a studio job (form post or fetch)',
  { skip: !existsSync(CHROMIUM) && 'no /usr/bin/chromium (scripts/setup.sh installs it)' },
  async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'loom-studio-'));
    const studio = await startStudio({ root, port: 0 });
    const target = `${studio.url}api/jobs`;
    const evil = http.createServer((_, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<form id=f method=POST enctype="text/plain" action="${target}"><input name='{"system":"text","options":{"steps":1,"x":"' value='"}}'></form>
<script>fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{"system":"text","options":{"steps":1}}' }).finally(() => document.getElementById('f').submit());</script>`);
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
    try {
      const page = await browser.newPage();
      const evilPort = (evil.address() as { port: number }).port;
      // The browser holds the studio's cookie, and the other page is same-site (ports do not
      // count): the cookie goes with its requests, and the Origin check refuses them.
      await page.goto(studio.link);
      assert.equal(page.url(), studio.url, 'the link leaves a clean address');
      assert.ok((await page.context().cookies()).some((c) => c.value === studio.token && c.httpOnly));
      await page.goto(`http://127.0.0.1:${evilPort}/`);
      await page.waitForURL(/api\/jobs/, { timeout: 10_000 }); // the form landed on the studio's answer
      assert.match(await page.content(), /session token|other sites|application\/json/);
      const r = await request(studio.link, 'GET', '/api/jobs');
      assert.deepEqual(JSON.parse(r.body), [], 'no job was started');
    } finally {
      await browser.close();
      evil.close();
      await studio.close();
      rmSync(root, { recursive: true, force: true });
    }
  },
);

test("the studio's in-process decoding (VAE plane, interpolation) and exports keep the live tensor count flat", async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'loom-studio-'));
  await trainVae({ ...VAE_DEFAULTS, epochs: 1, limit: 32, logEvery: 100 }, path.join(root, 'runs', 'vae-t'), {});
  const studio = await startStudio({ root, port: 0 });
  try {
    const ask = async (p: string) => {
      const r = await request(studio.link, 'GET', p);
      assert.equal(r.status, 200, r.body);
    };
    await ask('/api/vae/decode?run=vae-t&x=0&y=0'); // loads and caches the model
    await ask('/api/vae/interpolate?run=vae-t&a=0&b=1'); // and the test set
    const before = T.liveTensors().undisposed;
    await ask('/api/export?run=vae-t&part=decoder'); // the page's in-page model, exported from the run
    for (let i = 0; i < 5; i++) {
      await ask(`/api/vae/decode?run=vae-t&x=${i / 2}&y=-1`);
      await ask(`/api/vae/interpolate?run=vae-t&a=${i}&b=${i + 1}`);
      await ask(`/api/export?run=vae-t&part=${i % 2 ? 'encoder' : 'decoder'}`);
    }
    assert.equal(T.liveTensors().undisposed, before);
  } finally {
    await studio.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test(
  "in Chromium: train text and watch it, generate, dream a built-in photo, drag across a VAE's latent plane, interpolate",
  { skip: !existsSync(CHROMIUM) && 'no /usr/bin/chromium (scripts/setup.sh installs it)' },
  async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'loom-studio-'));
    const cache = path.join(root, 'cache');
    process.env.LOOM_CACHE = cache; // the dream's child process imports the built-in weights here
    if (process.env.LOOM_SCREENSHOTS) mkdirSync(process.env.LOOM_SCREENSHOTS, { recursive: true });
    const studio = await startStudio({ root, port: 0 });
    // launch() gives the browser a fresh temporary profile of its own.
    const browser = await chromium
      .launch({ executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: 60_000 })
      .catch(async (e) => {
        await studio.close();
        throw e;
      });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(studio.link);

      // text: a tiny training of the book's LSTM; progress arrives over server-sent events
      // The form shows each model's own settings only.
      assert.ok(await page.isHidden('#text-units'), "the transformer's form hides the LSTM's units");
      await page.selectOption('#text-model', 'lstm');
      assert.ok(await page.isVisible('#text-units'), "the LSTM's form shows its units");
      assert.ok(await page.isHidden('#text-embed'), "the LSTM's form hides the transformer's embedding");
      for (const [id, v] of [
        ['text-steps', '30'],
        ['text-units', '16'],
        ['text-maxlen', '10'],
        ['text-batch', '16'],
        ['text-log-every', '5'],
        ['text-processes', '2'], // data-parallel: two `loom launch` ranks
      ])
        await page.fill(`#${id}`, v);
      // Every status the page shows, kept, so a passing one is not missed.
      await page.evaluate(() => {
        const el = document.getElementById('text-status')!;
        const seen: string[] = ((window as unknown as { statuses: string[] }).statuses = []);
        new MutationObserver(() => seen.push(el.textContent ?? '')).observe(el, {
          childList: true,
          characterData: true,
        });
      });
      await page.click('#text-start');
      await page.waitForFunction(
        () => /^step \d+/m.test(document.getElementById('text-log')!.textContent ?? ''),
        null,
        {
          timeout: 60_000,
        },
      );
      await page.waitForFunction(() => document.getElementById('text-status')!.textContent === 'done', null, {
        timeout: 120_000,
      });
      const steps = await page.$eval(
        '#text-log',
        (e) => (e.textContent ?? '').split('\n').filter((l) => /^step \d+ /.test(l)).length,
      );
      assert.ok(steps >= 3, `${steps} progress lines arrived`);
      // People's lines: rounded figures, no JSON.
      const log = (await page.textContent('#text-log'))!;
      assert.doesNotMatch(log, /^{|\.\d{10,}/m, log.slice(0, 300)); // no JSON, no 17-digit floats
      assert.match(log, /^step \d+ {2}.*\bloss \d/m, log.slice(0, 300));
      // The live chart: the gallery's Vega-Lite specification, drawn by Vega in the page.
      await page.waitForFunction(() => document.querySelector('#text-chart svg') !== null, null, { timeout: 30_000 });
      const chart = (await page.textContent('#text-chart'))!;
      for (const words of ['step', 'bits per character', 'training'])
        assert.ok(chart.includes(words), `the chart's axes and legend name "${words}": ${chart.slice(0, 200)}`);
      const lines = await page.$$eval('#text-chart svg path[aria-roledescription="line mark"]', (p) => p.length);
      assert.ok(lines >= 2, `raw and smoothed training curves: ${lines} line marks`);
      const statuses = await page.evaluate(() => (window as unknown as { statuses: string[] }).statuses);
      assert.ok(
        statuses.some((t) =>
          /2 processes \(ms\/step: rank 0 \d+, rank 1 \d+; collectives \d+\), global batch 32/.test(t),
        ),
        `the page shows the job's ranks: ${statuses.join(' | ')}`,
      );
      // generation streams into the page
      await page.waitForFunction(() => (document.getElementById('gen-run') as HTMLSelectElement).value !== '');
      await page.fill('#gen-prime', 'The ');
      await page.fill('#gen-length', '60');
      await page.click('#gen-go');
      await page.waitForFunction(() => (document.getElementById('gen-out')!.textContent ?? '').length >= 60, null, {
        timeout: 30_000,
      });
      assert.ok((await page.textContent('#gen-out'))!.startsWith('The '));

      // the transformer (the form's default), from the same form, in one process; then generation from it
      const lstmRun = await page.$eval('#gen-run', (e) => (e as HTMLSelectElement).value);
      await page.selectOption('#text-model', 'gpt');
      for (const [id, v] of [
        ['text-steps', '20'],
        ['text-layers', '1'],
        ['text-embed', '16'],
        ['text-heads', '2'],
        ['text-block', '12'],
        ['text-processes', '1'],
      ])
        await page.fill(`#${id}`, v);
      await page.evaluate(() => ((window as unknown as { statuses: string[] }).statuses.length = 0));
      await page.click('#text-start');
      await page.waitForFunction(() => (window as unknown as { statuses: string[] }).statuses.includes('done'), null, {
        timeout: 120_000,
      });
      await page.waitForFunction(
        (old) => [...(document.getElementById('gen-run') as HTMLSelectElement).options].some((o) => o.value !== old),
        lstmRun,
      );
      const gptRun = await page.$eval(
        '#gen-run',
        (e, old) => [...(e as HTMLSelectElement).options].map((o) => o.value).find((v) => v !== old)!,
        lstmRun,
      );
      assert.equal(JSON.parse(readFileSync(path.join(root, 'runs', gptRun, 'config.json'), 'utf8')).model, 'gpt');
      await page.selectOption('#gen-run', gptRun);
      await page.fill('#gen-prime', 'Th');
      await page.$eval('#gen-out', (e) => (e.textContent = ''));
      await page.click('#gen-go');
      await page.waitForFunction(() => (document.getElementById('gen-out')!.textContent ?? '').length >= 62, null, {
        timeout: 30_000,
      });
      assert.ok((await page.textContent('#gen-out'))!.startsWith('Th'));
      await shot(page, 'text', root);

      // dream: a built-in photo, small and short; the octave image appears
      await page.click('button[data-tab=dream]');
      await page.selectOption('#dream-image', 'builtin:dog');
      for (const [id, v] of [
        ['dream-octaves', '1'],
        ['dream-steps', '2'],
        ['dream-max-side', '120'],
      ])
        await page.fill(`#${id}`, v);
      await page.click('#dream-start');
      await page.waitForFunction(() => document.getElementById('dream-status')!.textContent === 'done', null, {
        timeout: 120_000,
      });
      await page.waitForFunction(() => document.querySelectorAll('#dream-images > a img').length >= 1, null, {
        timeout: 10_000,
      });
      const loaded = await page.$eval(
        '#dream-images > a img',
        (i) =>
          new Promise<number>((res) =>
            (i as HTMLImageElement).complete
              ? res((i as HTMLImageElement).naturalWidth)
              : i.addEventListener('load', () => res((i as HTMLImageElement).naturalWidth)),
          ),
      );
      assert.equal(loaded, 120);
      // The dream over the photo it started from; the slider wipes between them.
      await page.waitForFunction(
        () => (document.querySelector('#dream-images .compare img.before') as HTMLImageElement | null)?.naturalWidth,
        null,
        { timeout: 10_000 },
      );
      const photo = await page.$eval('#dream-images .compare img.before', (i) => (i as HTMLImageElement).naturalWidth);
      assert.ok(photo > 120, `the photo at its own size (${photo} pixels wide), shown at the dream's`);
      const wipe = async (v: string) => {
        await page.$eval(
          '#dream-images .compare input',
          (e, v) => {
            (e as HTMLInputElement).value = v;
            e.dispatchEvent(new Event('input'));
          },
          v,
        );
        return page.$eval('#dream-images .compare img.after', (i) => (i as HTMLElement).style.clipPath);
      };
      assert.equal(await wipe('100'), 'inset(0px 0% 0px 0px)');
      assert.equal(await wipe('25'), 'inset(0px 75% 0px 0px)');
      await shot(page, 'dream', root);

      // vae: train briefly, then drag across the latent plane and watch the image change
      await page.click('button[data-tab=vae]');
      for (const [id, v] of [
        ['vae-epochs', '1'],
        ['vae-limit', '64'],
        ['vae-log-every', '1'],
      ])
        await page.fill(`#${id}`, v);
      await page.click('#vae-start');
      await page.waitForFunction(() => document.getElementById('vae-status')!.textContent === 'done', null, {
        timeout: 120_000,
      });
      await page.waitForFunction(() => (document.getElementById('vae-run') as HTMLSelectElement).value !== '');
      const box = (await page.$('#vae-plane'))!;
      await box.scrollIntoViewIfNeeded(); // mouse coordinates are the viewport's
      const b = (await box.boundingBox())!;
      // Wait until the shown z is the pointer's (the plane spans [-3, 3]) and its image has loaded.
      const imgAt = async (fx: number, fy: number) => {
        await page.mouse.move(b.x + b.width * fx, b.y + b.height * fy, { steps: 4 });
        const [zx, zy] = [fx * 6 - 3, 3 - fy * 6];
        await page.waitForFunction(
          ([x, y]) => {
            const m = /z = \((-?[\d.]+), (-?[\d.]+)\)/.exec(document.getElementById('vae-z')!.textContent ?? '');
            const img = document.getElementById('vae-img') as HTMLImageElement;
            return (
              m !== null &&
              Math.abs(Number(m[1]) - x) < 0.1 &&
              Math.abs(Number(m[2]) - y) < 0.1 &&
              img.complete &&
              img.naturalWidth > 0
            );
          },
          [zx, zy],
          { timeout: 30_000 },
        );
        await page.waitForTimeout(300);
        // The pixels, read in the page (an element screenshot here would end the drag).
        return page.evaluate(() => {
          const img = document.getElementById('vae-img') as HTMLImageElement;
          const c = document.createElement('canvas');
          c.width = img.naturalWidth;
          c.height = img.naturalHeight;
          c.getContext('2d')!.drawImage(img, 0, 0);
          return c.toDataURL();
        });
      };
      await page.mouse.move(b.x + b.width * 0.1, b.y + b.height * 0.1);
      await page.mouse.down();
      const first = await imgAt(0.15, 0.15);
      const second = await imgAt(0.85, 0.8);
      await page.mouse.up();
      assert.ok(first.length > 100 && first !== second, 'the decoded image followed the pointer');
      assert.match((await page.textContent('#vae-z'))!, /z = \(\d\.\d\d, -\d\.\d\d\)/);
      // interpolation between two test images: a strip of 10 images (28 pixels, 2 apart, x3)
      await page.fill('#vae-a', '3');
      await page.fill('#vae-b', '17');
      await page.click('#vae-walk');
      await page.waitForFunction(
        () => (document.getElementById('vae-strip') as HTMLImageElement).naturalWidth > 0,
        null,
        { timeout: 60_000 },
      );
      assert.equal(await page.$eval('#vae-strip', (i) => (i as HTMLImageElement).naturalWidth), 3 * (10 * 28 + 9 * 2));
      await shot(page, 'vae', root);
      for (const tab of ['style', 'gan', 'runs']) {
        await page.click(`button[data-tab=${tab}]`);
        await page.waitForTimeout(200);
        await shot(page, tab, root);
      }
      assert.deepEqual(errors, []);
    } catch (e) {
      const pages = browser.contexts().flatMap((c) => c.pages());
      if (pages[0]) {
        const state = await pages[0].evaluate(() =>
          ['text-status', 'gen-run', 'gen-out', 'dream-status', 'vae-status', 'vae-run', 'vae-z']
            .map(
              (id) =>
                `${id}: ${(document.getElementById(id) as HTMLInputElement | null)?.value ?? ''} ${document.getElementById(id)?.textContent?.slice(0, 200)}`,
            )
            .join('\n'),
        );
        console.error(`page state at the failure:\n${state}`);
      }
      throw e;
    } finally {
      await browser.close();
      await studio.close();
      delete process.env.LOOM_CACHE;
      rmSync(root, { recursive: true, force: true });
    }
  },
);

test(
  'in Chromium: the VAE plane and a fast style net run in the page (exported as ONNX, onnxruntime-web) after the studio has stopped',
  { skip: !existsSync(CHROMIUM) && 'no /usr/bin/chromium (scripts/setup.sh installs it)' },
  async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'loom-studio-'));
    await trainVae({ ...VAE_DEFAULTS, epochs: 1, limit: 32, logEvery: 100 }, path.join(root, 'runs', 'vae-t'), {});
    writeStyleNetRun(path.join(root, 'runs', 'style-t'));
    const photo = path.join(root, 'photo.png');
    await sharp(Buffer.from(Array.from({ length: 30 * 20 * 3 }, (_, i) => (i * 37) % 256)), {
      raw: { width: 30, height: 20, channels: 3 },
    })
      .png()
      .toFile(photo);
    let studio: Awaited<ReturnType<typeof startStudio>> | null = await startStudio({ root, port: 0 });
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: 60_000 });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(studio.link);
      await page.click('button[data-tab=vae]');
      await page.waitForFunction(() => (document.getElementById('vae-run') as HTMLSelectElement).value === 'vae-t');
      await page.check('#vae-inpage');
      const box = (await page.$('#vae-plane'))!;
      await box.scrollIntoViewIfNeeded();
      const b = (await box.boundingBox())!;
      /** Clicks the plane at a fraction of its sides; the decoded image as the page shows it. */
      const decodeAt = async (fx: number, fy: number, before: string) => {
        await page.mouse.click(b.x + b.width * fx, b.y + b.height * fy);
        await page.waitForFunction(
          (old) => {
            const src = (document.getElementById('vae-img') as HTMLImageElement).src;
            return src.startsWith('data:image/png') && src !== old;
          },
          before,
          { timeout: 60_000 },
        );
        return page.$eval('#vae-img', (i) => (i as HTMLImageElement).src);
      };
      const first = await decodeAt(0.2, 0.2, ''); // loads the runtime and the decoder from the studio
      await page.click('button[data-tab=style]');
      await page.selectOption('#fast-run', 'style-t');
      await page.setInputFiles('#fast-photo', photo);
      await page.click('#fast-go');
      await page.waitForFunction(
        () => /in this page$/.test(document.getElementById('fast-status')!.textContent ?? ''),
        null,
        {
          timeout: 60_000,
        },
      );
      assert.match((await page.textContent('#fast-status'))!, /^32x20 in \d+ ms, in this page$/);

      // A video through the same net on the server: uploaded, stylised frame by frame with a
      // progress bar, played back in the page.
      const clip = path.join(root, 'clip.mp4');
      const made = spawnSync('ffmpeg', [
        ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=48x32:rate=12', '-frames:v', '6'],
        ...['-pix_fmt', 'yuv420p', clip],
      ]);
      assert.equal(made.status, 0, String(made.stderr));
      await page.setInputFiles('#style-video-video-upload', clip);
      await page.waitForFunction(() =>
        /^upload:[0-9a-f]{40}\.mp4$/.test((document.getElementById('style-video-video') as HTMLSelectElement).value),
      );
      await page.selectOption('#style-video-run', 'style-t');
      await page.click('#style-video-start');
      await page.waitForFunction(() => document.getElementById('style-video-status')!.textContent === 'done', null, {
        timeout: 60_000,
      });
      await page.waitForFunction(() => document.querySelector('#style-video-images video') !== null, null, {
        timeout: 10_000,
      });
      const bar = await page.$eval('#style-video-bar', (b) => [
        (b as HTMLProgressElement).value,
        (b as HTMLProgressElement).max,
      ]);
      assert.deepEqual(bar, [6, 6], 'the bar counted every frame');
      const served = await page.$eval('#style-video-images video', async (v) => {
        const r = await fetch((v as HTMLVideoElement).src);
        return [r.status, r.headers.get('content-type')];
      });
      assert.deepEqual(served, [200, 'video/mp4']);

      await studio.close(); // from here on nothing answers the page
      studio = null;
      await page.fill('#fast-side', '16');
      await page.click('#fast-go');
      await page.waitForFunction(
        () => /^16x12 in/.test(document.getElementById('fast-status')!.textContent ?? ''),
        null,
        {
          timeout: 30_000,
        },
      );
      const out = await page.$eval('#fast-out', (i) => [
        (i as HTMLImageElement).naturalWidth,
        (i as HTMLImageElement).naturalHeight,
      ]);
      assert.deepEqual(out, [16, 12], 'the stylised photo, made in the page');
      await page.click('button[data-tab=vae]');
      const second = await decodeAt(0.8, 0.7, first);
      assert.notEqual(second, first, 'the decoded image followed the click without the studio');
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await studio?.close();
      rmSync(root, { recursive: true, force: true });
    }
  },
);
