// The studio's forms come from the registry: GET /api/systems answers each system's studio
// jobs with their option tables' defaults, and the page (in Debian's Chromium, driven by
// playwright-core) builds its forms from that answer, checks values before it sends them,
// and shows a job's log as lines for people.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { flagOf, type OptionDef } from '../src/models/options.js';
import { startStudio, type Studio } from '../src/studio/server.js';
import type { SystemInfo } from '../src/studio/systems-api.js';
import { SYSTEMS, systemNamed } from '../src/systems/registry.js';
import type { StudioJob, System } from '../src/systems/system.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'];

function get(studio: Studio, p: string): Promise<{ status: number; body: string }> {
  const u = new URL(studio.url);
  return new Promise((resolve, reject) => {
    http
      .get({ host: u.hostname, port: u.port, path: p, headers: { authorization: `Bearer ${studio.token}` } }, (res) => {
        let data = '';
        res
          .setEncoding('utf8')
          .on('data', (c) => (data += c))
          .on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      })
      .on('error', reject);
  });
}

/** The declaration of a flag in the job's own declarations or the system's option tables, if it has one. */
function declared(system: System, job: StudioJob, flag: string): OptionDef | undefined {
  if (job.declared && Object.hasOwn(job.declared, flag)) return job.declared[flag];
  for (const table of Object.values(system.options))
    for (const [key, d] of Object.entries(table)) if (flagOf(key, d) === flag) return d;
  return undefined;
}

test("GET /api/systems answers every registered system's studio jobs with their option tables' defaults", async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'loom-page-'));
  const studio = await startStudio({ root, port: 0 });
  try {
    const r = await get(studio, '/api/systems');
    assert.equal(r.status, 200, r.body);
    const answer = JSON.parse(r.body) as SystemInfo[];
    assert.deepEqual(
      answer.map((s) => [s.name, s.title]),
      SYSTEMS.map((s) => [s.name, s.title]),
    );
    let checked = 0;
    for (const s of answer) {
      const system = systemNamed(s.name)!;
      assert.deepEqual(
        s.jobs.map((j) => j.name),
        Object.keys(system.jobs ?? {}),
        `${s.name}'s jobs`,
      );
      for (const job of s.jobs) {
        const spec = system.jobs![job.name];
        assert.deepEqual(job.verb, spec.verb);
        const names = job.options.map((o) => o.name);
        // Every option the job takes, in its order, then `processes` for a data-parallel job.
        assert.deepEqual(names, [...Object.keys(spec.options), ...(spec.dataParallel ? ['processes'] : [])]);
        for (const o of job.options) {
          const d = declared(system, spec, o.name);
          if (o.name === 'processes') {
            assert.equal(o.default, 1);
            continue;
          }
          assert.equal(o.kind, spec.options[o.name], `${job.name} --${o.name}'s kind`);
          if (!d) {
            assert.equal(o.default, undefined, `${job.name} --${o.name} is declared nowhere and has no default`);
            continue;
          }
          assert.deepEqual(o.default, d.default, `${job.name} --${o.name}'s default`);
          assert.deepEqual(o.byVariant, d.byVariant, `${job.name} --${o.name}'s defaults per variant`);
          assert.equal(o.help, d.help);
          if (d.type === 'int') assert.deepEqual([o.min, o.max], [d.min, d.max], `${job.name} --${o.name}'s bounds`);
          if (d.type === 'choice') assert.deepEqual(o.choices, d.choices);
          checked++;
        }
      }
    }
    assert.ok(checked >= 40, `${checked} declared options compared`);
    // Text's model settings belong to one model each: the form sends them for that model only.
    const text = answer.find((s) => s.name === 'text')!.jobs[0].options;
    assert.deepEqual(text.find((o) => o.name === 'units')?.only, { option: 'model', value: 'lstm' });
    assert.deepEqual(text.find((o) => o.name === 'embed')?.only, { option: 'model', value: 'gpt' });
    assert.equal(text.find((o) => o.name === 'steps')?.only, undefined);
  } finally {
    await studio.close();
    rmSync(root, { recursive: true, force: true });
  }
});

/** A stand-in for the CLI: it logs one record with long floats and writes its output, then exits. */
const FAKE_CLI = `
const fs = require('node:fs');
const path = require('node:path');
const out = process.argv[process.argv.indexOf('--out') + 1];
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(path.join(path.dirname(out), 'args.json'), JSON.stringify(process.argv.slice(2)));
console.log(JSON.stringify({ octave: 0, step: 1, loss: 1.2345678901234567, ms_per_step: 107.34567890123456 }));
`;

test(
  "in Chromium: the dream form is built from /api/systems, checks values before sending, and logs people's lines",
  { skip: !existsSync(CHROMIUM) && 'no /usr/bin/chromium (scripts/setup.sh installs it)' },
  async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'loom-page-'));
    writeFileSync(path.join(root, 'fake-cli.cjs'), FAKE_CLI);
    const studio = await startStudio({ root, port: 0, jobCli: path.join(root, 'fake-cli.cjs') });
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: 60_000 });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(studio.link);
      await page.waitForSelector('#dream-steps', { state: 'attached' });
      const dream = systemNamed('dream')!.options.dream;
      const steps = await page.$eval('#dream-steps', (e) => {
        const i = e as HTMLInputElement;
        return { value: i.value, min: i.min, max: i.max, step: i.step, title: i.closest('label')!.title };
      });
      assert.deepEqual(steps, {
        value: String(dream.steps.default),
        min: String((dream.steps as { min: number }).min),
        max: '',
        step: '1',
        title: dream.steps.help,
      });
      assert.equal(await page.$eval('#dream-layers', (e) => (e as HTMLInputElement).value), dream.layers.default);
      assert.equal(await page.$eval('#dream-octaves', (e) => (e as HTMLInputElement).max), '32');
      // The layers' names as buttons, pressed while the list holds them; a press adds or takes out.
      await page.click('button[data-tab=dream]');
      const pressed = () =>
        page.$$eval('.picks button[aria-pressed=true]', (bs) => bs.map((b) => b.textContent).join(','));
      assert.equal(await page.$$eval('.picks button', (bs) => bs.length), 11);
      assert.equal(await pressed(), 'mixed2,mixed3,mixed4,mixed5');
      await page.click('.picks button:text-is("mixed3")');
      await page.click('.picks button:text-is("mixed7")');
      assert.equal(await page.inputValue('#dream-layers'), 'mixed2=0.2,mixed4=2,mixed5=1.5,mixed7=1');
      assert.equal(await pressed(), 'mixed2,mixed4,mixed5,mixed7');
      await page.fill('#dream-layers', 'mixed0:12=2@1-2');
      assert.equal(await pressed(), 'mixed0', 'a name with its channel and octaves counts');
      await page.fill('#dream-layers', String(dream.layers.default));
      // An unset setting with per-variant defaults shows them as its placeholder.
      assert.equal(
        await page.$eval('#style-iterations', (e) => (e as HTMLInputElement).placeholder),
        'vgg19 20, inception 10',
      );
      // No GAN run yet: no image (broken or not), and a sentence saying what will appear.
      await page.click('button[data-tab=gan]');
      assert.equal(await page.$eval('#gan-img', (e) => e.hasAttribute('src')), false);
      assert.ok(await page.isHidden('#gan-img'));
      assert.match((await page.textContent('#gan-img + .empty'))!, /16 samples/);
      assert.ok(await page.isVisible('#gan-img + .empty'));

      // A bad value is refused in the page, in one sentence, and nothing is sent.
      await page.click('button[data-tab=dream]');
      await page.waitForFunction(() => (document.getElementById('dream-image') as HTMLSelectElement).value !== '');
      await page.fill('#dream-steps', '2.5');
      await page.click('#dream-start');
      assert.equal(await page.textContent('#dream-status'), 'steps must be a whole number of at least 0');
      await page.fill('#dream-steps', '3');
      await page.fill('#dream-octaves', '40');
      await page.click('#dream-start');
      assert.equal(await page.textContent('#dream-status'), 'octaves must be a whole number from 1 to 32');
      assert.deepEqual(JSON.parse((await get(studio, '/api/jobs')).body), [], 'no job was asked for');

      // A good one starts the job with the settings that differ from their defaults only.
      await page.fill('#dream-octaves', String(dream.octaves.default));
      await page.click('#dream-start');
      await page.waitForFunction(() => document.getElementById('dream-status')!.textContent === 'done', null, {
        timeout: 30_000,
      });
      const [job] = JSON.parse((await get(studio, '/api/jobs')).body) as { args: string[] }[];
      assert.ok(job.args.includes('--steps') && job.args[job.args.indexOf('--steps') + 1] === '3', `${job.args}`);
      assert.ok(!job.args.includes('--octaves') && !job.args.includes('--layers'), `${job.args}`);
      assert.equal(await page.textContent('#dream-log'), 'octave 1  step 1  loss 1.235  107 ms/step\n');
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await studio.close();
      rmSync(root, { recursive: true, force: true });
    }
  },
);
