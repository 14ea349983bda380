// The studio's page holds up in Debian's Chromium (driven by playwright-core): on every tab
// (the runs tab with its compare view and a run's view open), and in a job's view once it has
// run, axe-core finds nothing serious, nothing overflows sideways at 1280 or 800 pixels, no
// box is silently empty and no picture broken; the tabs and the VAE's latent plane work from
// the keyboard. With LOOM_STUDIO_SHOTS set, a screenshot of each tab at 1280 pixels is
// written there (the docs show some of them; run from the repository's root, which has the
// docs' pictures the screenshots' runs show).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { startStudio } from '../src/studio/server.js';
import { PNG, writeRuns } from './studio-run-fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'];
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/** For the screenshots, the hand-written runs' 1-pixel samples become the docs' pictures of real runs. */
const SHOT_SAMPLES: [string, string][] = [
  ['text-live/samples/step-000020.png', 'text-sotu-10min-curves.png'],
  ['vae-done/samples/epoch-002-grid.png', 'vae-mnist-latent20-samples.png'],
  ['gan-minutes/samples/step-000200.png', 'gan-mnist-step1387.png'],
];

/** A stand-in for the CLI: a few log lines and a picture in its output folder, then it exits. */
const FAKE_CLI = `
const fs = require('node:fs');
const path = require('node:path');
const out = process.argv[process.argv.indexOf('--out') + 1];
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(path.join(path.dirname(out), 'octave-1.png'), Buffer.from('${PNG.toString('base64')}', 'base64'));
for (let step = 0; step < 3; step++) console.log(JSON.stringify({ octave: 0, step, loss: 1.5 - step / 10, ms_per_step: 90 }));
`;

/** The tab names, in the tab bar's order. */
const tabNames = (page: Page): Promise<string[]> =>
  page.$$eval('[role=tablist] [role=tab]', (bs) => bs.map((b) => (b as HTMLElement).dataset.tab ?? ''));

async function showTab(page: Page, tab: string): Promise<void> {
  await page.click(`[role=tab][data-tab="${tab}"]`);
  await page.waitForSelector(`#tab-${tab}`, { state: 'visible' });
  // Pictures the tab asked for have arrived (or failed) before it is judged.
  await page.waitForFunction(() => [...document.images].every((i) => i.complete), null, { timeout: 10_000 });
}

/** The tab's serious and critical accessibility violations, one line each (rule, element). */
async function axeProblems(page: Page, tab: string): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: AXE });
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(): Promise<{ violations: Violation[] }> } }).axe;
    return (await axe.run()).violations;
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) => v.nodes.map((n) => `${tab}: ${v.id} (${v.impact}: ${v.help}) at ${n.target.join(' ')}`));
}

/** What does not hold up in the tab's layout: sideways overflow, silent empty boxes, broken pictures. */
const layoutProblems = (page: Page, tab: string, width: number): Promise<string[]> =>
  page.evaluate(
    ([tab, width]) => {
      const out: string[] = [];
      const scroll = document.documentElement.scrollWidth;
      if (scroll > window.innerWidth) out.push(`${tab} at ${width} px: the page is ${scroll} px wide`);
      // An empty box says what will appear in it.
      for (const box of document.querySelectorAll<HTMLElement>('pre, div.chart, .imgs'))
        if (box.offsetParent !== null && !box.hasChildNodes() && !box.dataset.empty)
          out.push(`${tab} at ${width} px: an empty box #${box.id} that says nothing`);
      for (const img of document.images)
        if (img.getAttribute('src') && img.complete && img.naturalWidth === 0)
          out.push(`${tab} at ${width} px: a broken image #${img.id || img.alt}`);
      return out;
    },
    [tab, width] as const,
  );

test(
  'in Chromium: every tab passes axe-core, fits 1280 and 800 pixels without a broken picture, and the tabs and the latent plane work from the keyboard',
  { skip: !existsSync(CHROMIUM) && 'no /usr/bin/chromium (scripts/setup.sh installs it)' },
  async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'loom-a11y-'));
    writeRuns(path.join(root, 'runs'));
    const shots = process.env.LOOM_STUDIO_SHOTS;
    if (shots)
      for (const [run, picture] of SHOT_SAMPLES)
        copyFileSync(path.join('docs', 'images', picture), path.join(root, 'runs', run));
    writeFileSync(path.join(root, 'fake-cli.cjs'), FAKE_CLI);
    const studio = await startStudio({ root, port: 0, jobCli: path.join(root, 'fake-cli.cjs') });
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: 60_000 });
    try {
      const problems: string[] = [];
      for (const width of [1280, 800]) {
        const page = await browser.newPage({ viewport: { width, height: 900 } });
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        await page.goto(studio.link);
        await page.waitForFunction(
          () => ![...document.querySelectorAll('.opts')].some((o) => /loading/.test(o.textContent!)),
        );
        const tabs = await tabNames(page);
        assert.ok(tabs.length >= 6, `tabs: ${tabs}`);
        for (const tab of tabs) {
          await showTab(page, tab);
          if (tab === 'runs') {
            // The compare view too: two text runs side by side.
            await page.waitForSelector('#runs-list tr[data-run="text-killed"]');
            await page.check('#runs-list tr[data-run="text-live"] input[type=checkbox]');
            await page.check('#runs-list tr[data-run="text-killed"] input[type=checkbox]');
            await page.click('#runs-compare');
            await page.waitForSelector('#compare-chart svg, #compare-chart canvas');
            // And a run's view: its charts, progress, pictures by step and texts.
            await page.click('#runs-list tr[data-run="vae-done"] button.link');
            await page.waitForSelector('#run-charts .chart svg');
            await page.waitForSelector('#run-images img');
            await page.waitForFunction(() => [...document.images].every((i) => i.complete));
          }
          problems.push(...(await layoutProblems(page, tab, width)));
          if (width !== 1280) continue;
          problems.push(...(await axeProblems(page, tab)));
          if (shots) {
            mkdirSync(shots, { recursive: true });
            await page.screenshot({ path: path.join(shots, `studio-${tab}.png`), fullPage: true });
          }
        }
        // A form's status line (where a refused value is explained) is read out as it changes, and the
        // frame bars, hidden until a video job runs (so axe does not see them), have names.
        const unnamed = '.status:not([role=status]), progress:not([aria-label])';
        assert.deepEqual(await page.$$eval(unnamed, (s) => s.map((e) => e.id)), []);
        assert.deepEqual(errors, [], `page errors at ${width} px`);
        await page.close();
      }

      // A job's view once it has run: its log, chart and pictures.
      const job = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await job.goto(studio.link);
      await showTab(job, 'dream');
      await job.waitForFunction(() => (document.getElementById('dream-image') as HTMLSelectElement).value !== '');
      await job.click('#dream-start');
      await job.waitForFunction(() => document.getElementById('dream-status')!.textContent === 'done', null, {
        timeout: 30_000,
      });
      await job.waitForSelector('#dream-images img');
      await job.waitForFunction(() => [...document.images].every((i) => i.complete));
      problems.push(...(await layoutProblems(job, 'dream after a job', 1280)));
      problems.push(...(await axeProblems(job, 'dream after a job')));
      await job.setViewportSize({ width: 800, height: 900 });
      problems.push(...(await layoutProblems(job, 'dream after a job', 800)));
      await job.close();
      assert.deepEqual(problems, [], 'the page does not hold up:\n' + problems.join('\n'));

      // The keyboard: Tab reaches the chosen tab, the arrow keys (and Home, End) choose another.
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(studio.link);
      const tabs = await tabNames(page);
      const state = () =>
        page.evaluate(() => ({
          focused: (document.activeElement as HTMLElement | null)?.dataset.tab,
          selected: [...document.querySelectorAll('[role=tab][aria-selected=true]')].map(
            (b) => (b as HTMLElement).dataset.tab,
          ),
          shown: [...document.querySelectorAll('main [role=tabpanel]')]
            .filter((s) => (s as HTMLElement).offsetParent !== null)
            .map((s) => s.id),
        }));
      await page.keyboard.press('Tab');
      assert.deepEqual(await state(), { focused: tabs[0], selected: [tabs[0]], shown: [`tab-${tabs[0]}`] });
      await page.keyboard.press('ArrowRight');
      assert.deepEqual(await state(), { focused: tabs[1], selected: [tabs[1]], shown: [`tab-${tabs[1]}`] });
      await page.keyboard.press('End');
      const last = tabs[tabs.length - 1];
      assert.deepEqual(await state(), { focused: last, selected: [last], shown: [`tab-${last}`] });
      await page.keyboard.press('ArrowRight'); // round to the first
      assert.deepEqual(await state(), { focused: tabs[0], selected: [tabs[0]], shown: [`tab-${tabs[0]}`] });
      await page.keyboard.press('ArrowLeft');
      assert.equal((await state()).selected[0], last);
      // Only the chosen tab is in the Tab order: the next Tab leaves the tab bar for the panel.
      await page.keyboard.press('Tab');
      assert.equal(
        await page.evaluate(() => document.activeElement?.closest('[role=tablist]') === null),
        true,
        'a second Tab leaves the tab bar',
      );

      // The VAE's latent plane: reached with Tab, moved with the arrow keys (a press is 0.2, Shift a whole 1);
      // a press while the last point decodes is taken up after it, so the coordinates are waited for.
      await page.click('[role=tab][data-tab=vae]');
      await page.waitForFunction(() => (document.getElementById('vae-run') as HTMLSelectElement).value !== '');
      await page.focus('#vae-run');
      for (let i = 0; i < 5 && !(await page.evaluate(() => document.activeElement?.id === 'vae-plane')); i++)
        await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'vae-plane', 'Tab reaches the plane');
      await page.keyboard.press('ArrowRight');
      await page.waitForFunction((z) => document.getElementById('vae-z')!.textContent === z, 'z = (0.20, 0.00)');
      await page.keyboard.press('Shift+ArrowDown');
      await page.waitForFunction((z) => document.getElementById('vae-z')!.textContent === z, 'z = (0.20, -1.00)');
      await page.close();
    } finally {
      await browser.close();
      await studio.close();
      rmSync(root, { recursive: true, force: true });
    }
  },
);
