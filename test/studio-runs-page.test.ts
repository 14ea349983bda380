// The runs tab in Debian's Chromium (driven by playwright-core): the list of runs written by
// hand (test/studio-run-fixtures.ts), a run that appears while the page is open, the compare
// view with its differing settings marked, and a run's view, live as its log grows, with a
// resume. Nothing here trains.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startStudio } from '../src/studio/server.js';
import { writeRun, writeRuns } from './studio-run-fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'];

/** A resume's stand-in for the CLI: it holds the run's lock until Ctrl-C (the stop button), then lets it go. */
const HELD_CLI = `
const fs = require('node:fs');
const lock = process.argv[process.argv.indexOf('--out') + 1] + '/run.lock';
fs.writeFileSync(lock, process.pid + '\\n');
process.on('SIGINT', () => {
  fs.rmSync(lock, { force: true });
  process.exit(0);
});
setInterval(() => {}, 1000);
`;

test(
  'in Chromium: the runs tab lists the runs as they appear, and the compare view marks the settings that differ',
  { skip: !existsSync(CHROMIUM) && 'no /usr/bin/chromium (scripts/setup.sh installs it)' },
  async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'loom-runs-'));
    writeRuns(path.join(root, 'runs'));
    writeRun(path.join(root, 'gallery', 'runs', 'gan'), {
      config: { system: 'gan', steps: 10 },
      metrics: [{ step: 10, confident: 0.9, fd: 5 }],
      checkpoint: true,
      samples: ['step-000010.png'],
    });
    writeFileSync(path.join(root, 'held-cli.cjs'), HELD_CLI);
    const studio = await startStudio({ root, port: 0, jobCli: path.join(root, 'held-cli.cjs') });
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: 60_000 });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(studio.link);
      await page.click('button[data-tab=runs]');
      const row = (name: string) => `#runs-list tr[data-run="${name}"]`;
      await page.waitForSelector(row('gallery/gan'));
      const cells = await page.$$eval('#runs-list tr', (trs) =>
        trs.map((tr) => [...tr.querySelectorAll('td')].slice(2).map((td) => td.textContent)),
      );
      const byName = new Map(cells.map((c) => [c[0], c]));
      assert.equal(byName.size, 9);
      assert.deepEqual(byName.get('text-live')?.slice(1, 4), ['text', 'training', 'held-out 2.1 bits per character']);
      assert.deepEqual(byName.get('gallery/gan')?.slice(1, 4), [
        'gan',
        'done',
        "judge's share 90%, Fréchet distance 5",
      ]);
      assert.equal(byName.get('text-broke')?.[2], 'failed');
      // The thumbnail is the picture, loaded; a run without one says so instead of a broken image.
      await page.waitForFunction(
        (sel) => (document.querySelector(sel + ' img') as HTMLImageElement | null)?.naturalWidth === 1,
        row('text-live'),
      );
      assert.ok(await page.isVisible(row('text-killed') + ' .empty'));
      assert.ok(await page.isHidden(row('text-killed') + ' img'));

      // A run the CLI starts while the page is open appears.
      writeRun(path.join(root, 'runs', 'text-later'), {
        config: { system: 'text', epochs: 1 },
        lock: process.pid,
      });
      await page.waitForSelector(row('text-later'));

      // Runs of two systems do not compare; two text runs do.
      await page.check(row('text-live') + ' input[type=checkbox]');
      assert.ok(await page.isDisabled('#runs-compare'));
      await page.check(row('vae-done') + ' input[type=checkbox]');
      assert.ok(await page.isDisabled('#runs-compare'));
      assert.equal(await page.textContent('#runs-status'), 'only runs of one system compare; these are text and vae');
      await page.uncheck(row('vae-done') + ' input[type=checkbox]');
      await page.check(row('text-killed') + ' input[type=checkbox]');
      assert.ok(await page.isEnabled('#runs-compare'));
      await page.click('#runs-compare');
      await page.waitForSelector('#compare-settings tr[data-setting=lr]');
      assert.equal(await page.$eval('#compare-settings tr[data-setting=lr]', (tr) => tr.className), 'differs');
      assert.equal(await page.$eval('#compare-settings tr[data-setting=batch]', (tr) => tr.className), '');
      assert.deepEqual(
        await page.$$eval('#compare-settings tr[data-setting=lr] td', (tds) => tds.map((t) => t.textContent)),
        ['0.002', '0.01'],
      );
      assert.match((await page.textContent('#compare-summary'))!, /^1 of 4 settings differ/);
      await page.check('#compare-only');
      assert.deepEqual(
        await page.$$eval('#compare-settings tr[data-setting]', (trs) =>
          trs.map((t) => (t as HTMLElement).dataset.setting),
        ),
        ['lr'],
      );
      // Both runs' held-out curves in one chart, named by run.
      await page.waitForSelector('#compare-chart svg');
      const legend = await page.$eval('#compare-chart svg', (s) => s.textContent ?? '');
      assert.match(legend, /text-live/);
      assert.match(legend, /text-killed/);
      assert.equal(await page.$eval('#compare-field', (s) => (s as HTMLSelectElement).value), 'val_bpc');
      await page.selectOption('#compare-x', 'time');
      await page.waitForFunction(() =>
        (document.querySelector('#compare-chart svg')?.textContent ?? '').includes('training time'),
      );

      // A run's view, opened from its name: the held-out curve beside the training one, how far
      // it is, its pictures by step and its texts; the CLI started it, so there is nothing to stop here.
      // From the keyboard: Enter on its name opens it, and the focus goes into the view.
      await page.focus(row('text-live') + ' button.link');
      await page.keyboard.press('Enter');
      await page.waitForSelector('#run-charts .chart svg');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'run-view');
      const curves = await page.$eval('#run-charts .chart svg', (s) => s.textContent ?? '');
      assert.match(curves, /held-out/);
      assert.match(curves, /training/);
      assert.equal(
        await page.textContent('#run-progress'),
        'training: step 100 · 2 of 10 epochs (20%) · 10 s trained · about 40 s left',
      );
      await page.waitForFunction(() => document.getElementById('run-text')!.textContent === 'text');
      assert.deepEqual(await page.$$eval('#run-text-pick option', (os) => os.map((o) => o.textContent)), [
        'epoch 2 (step 100)',
        'epoch 1 (step 50)',
      ]);
      assert.equal(await page.textContent('#run-image-step-v'), 'step 20, 2 of 2');
      await page.waitForFunction(
        () => (document.querySelector('#run-images img') as HTMLImageElement).naturalWidth === 1,
      );
      await page.fill('#run-image-step', '0');
      assert.equal(await page.textContent('#run-image-step-v'), 'step 10, 1 of 2');
      assert.ok(await page.isVisible('#run-outside'));
      assert.ok(await page.isVisible('#run-stop'), 'a run trained elsewhere stops from here too');
      assert.ok(await page.isHidden('#run-resume'));
      await page.check('#run-log');
      await page.fill('#run-smooth', '0.9');
      assert.equal(await page.textContent('#run-smooth-v'), '0.9');
      // Its log grows: the view follows with the list's poll (looked at until it does, within a bound).
      appendFileSync(
        path.join(root, 'runs', 'text-live', 'metrics.jsonl'),
        JSON.stringify({ step: 150, epoch: 3, loss: 1.2, bpc: 1.9, ms_per_step: 100 }) + '\n',
      );
      await page.waitForFunction(
        () => /step 150 · 3 of 10 epochs/.test(document.getElementById('run-progress')!.textContent!),
        null,
        {
          timeout: 20_000,
        },
      );
      // A stopped run resumes as the studio's job, which its stop button stops again.
      await page.click(row('text-killed') + ' button.link');
      await page.waitForFunction(() => document.getElementById('run-title')!.textContent!.startsWith('text-killed'));
      assert.match((await page.textContent('#run-progress'))!, /^stopped: step 50/);
      assert.ok(await page.isHidden('#run-stop'));
      await page.click('#run-resume');
      await page.waitForSelector('#run-stop', { state: 'visible' });
      assert.match((await page.textContent('#run-progress'))!, /^training: /);
      assert.ok((await page.isHidden('#run-resume')) && (await page.isHidden('#run-outside')));
      await page.click('#run-stop');
      await page.waitForFunction(
        () => document.getElementById('run-progress')!.textContent!.startsWith('stopped:'),
        null,
        { timeout: 20_000 },
      );
      await page.waitForSelector('#run-resume', { state: 'visible' });
      // The text form followed the resumed job (no other ran there): its button opens the run.
      await page.click('#run-close');
      await page.click('button[data-tab=text]');
      await page.click('#text-open');
      await page.waitForSelector('#run-view', { state: 'visible' });
      await page.waitForFunction(() => document.getElementById('run-title')!.textContent!.startsWith('text-killed'));
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await studio.close();
      rmSync(root, { recursive: true, force: true });
    }
  },
);
