// `loom demo`: a short run of every system writes a gallery that shows them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { repoRoot } from './helpers.js';
import { trainingMinutes } from '../src/cli/demo.js';

const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

test('the demo writes a gallery: text samples, a dream, a stylised photo, the VAE grid and GAN samples', async () => {
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'loom-demo-')), 'gallery');
  const r = spawnSync(process.execPath, [CLI, 'demo', '--out', out, '--minutes', '0.2'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const html = readFileSync(path.join(out, 'index.html'), 'utf8');
  for (const id of ['text', 'vae', 'gan', 'dream', 'style']) assert.match(html, new RegExp(`<section id="${id}">`));
  // The dream keeps the photo's size; the stylised photo is 96 pixels high at this budget.
  const [orig, dreamed] = await Promise.all(
    ['dream-original.png', 'dream.png'].map((f) => sharp(path.join(out, f)).metadata()),
  );
  assert.deepEqual([dreamed.width, dreamed.height], [orig.width, orig.height]);
  assert.equal((await sharp(path.join(out, 'style.png')).metadata()).height, 96);
  assert.equal((html.match(/<h3>temperature /g) ?? []).length, 4);
  // Each system's settings line names the values the run used (unset ones were once "null").
  const meta = [...html.matchAll(/<p class="meta">([^<]*)/g)].map((m) => m[1]);
  assert.ok(meta.length >= 6, `${meta.length} settings lines`);
  for (const line of meta) assert.doesNotMatch(line, /\bnull\b/, line);
  assert.match(html, /units 128, maxlen 60, step 3, batch 128, lr 0\.01/);
  assert.equal((await sharp(path.join(out, 'vae-grid.png')).metadata()).width, 15 * 28);
  assert.ok(existsSync(path.join(out, 'gan-samples.png')));
  // Every picture the page shows is there (charts appear when a run logged enough to draw).
  const shown = [...html.matchAll(/<img src="([^"]+)"/g)].map((m) => m[1]);
  assert.ok(shown.length >= 6, `${shown.length} pictures`);
  for (const f of shown) assert.equal((await sharp(path.join(out, f)).metadata()).format, 'png', f);
  // A second run refuses to overwrite the gallery without --force.
  writeFileSync(path.join(out, 'mine.txt'), 'keep me');
  const again = spawnSync(process.execPath, [CLI, 'demo', '--out', out, '--minutes', '0.2'], { encoding: 'utf8' });
  assert.equal(again.status, 2);
  assert.match(again.stderr, /holds a gallery; pass --force/);
  assert.equal(readFileSync(path.join(out, 'mine.txt'), 'utf8'), 'keep me');
  // --force replaces the gallery's own files and nothing else (it once deleted the folder).
  const forced = spawnSync(process.execPath, [CLI, 'demo', '--out', out, '--minutes', '0.1', '--force'], {
    encoding: 'utf8',
  });
  assert.equal(forced.status, 0, forced.stderr);
  assert.equal(readFileSync(path.join(out, 'mine.txt'), 'utf8'), 'keep me');
  assert.ok(existsSync(path.join(out, 'index.html')));
});

test('the trainings share what dream and style leave, and still run when those overran the budget', () => {
  // 10 minutes, dream and style 97.5 s: 8.125 minutes left, as 3/8, 3/8 and 2/8.
  const m = trainingMinutes(10, 97.5);
  assert.deepEqual(
    [m.text, m.vae, m.gan].map((x) => Number(x.toFixed(6))),
    [3.046875, 3.046875, 2.03125],
  );
  // On a slow machine dream and style took the whole budget of 0.2 minutes (once: --minutes 0).
  const late = trainingMinutes(0.2, 15);
  assert.deepEqual(
    [late.text, late.vae, late.gan].map((x) => Number(x.toFixed(6))),
    [0.01, 0.01, 0.01],
  );
});
