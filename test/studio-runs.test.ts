// The studio's runs: GET /api/runs over run folders written by hand (as the trainers write
// them), each with its system, state, headline figure, age and thumbnail; other folders of
// runs (--runs, the demo's gallery/runs) with their path checks; and the compare answer.
// Nothing here trains, and nothing waits on a clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStudio, type Studio } from '../src/studio/server.js';
import { DEAD_PID, get, textLog, writeRun, writeRuns } from './studio-run-fixtures.js';

interface Listed {
  name: string;
  folder: string;
  system: string;
  state: string;
  step: number | null;
  headline: { field: string; label: string; value: number }[];
  age_s: number;
  thumbnail: string | null;
}

async function list(studio: Studio): Promise<Map<string, Listed>> {
  const r = await get(studio, '/api/runs');
  assert.equal(r.status, 200, r.body);
  return new Map((JSON.parse(r.body) as Listed[]).map((x) => [x.name, x]));
}

test("GET /api/runs: each run's system, state, headline figure, age and newest sample, from its folder alone", async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'loom-runs-'));
  writeRuns(path.join(root, 'runs'));
  const studio = await startStudio({ root, port: 0 });
  try {
    const runs = await list(studio);
    const of = (name: string) => {
      const r = runs.get(name);
      assert.ok(r, `${name} is listed`);
      return r;
    };
    assert.deepEqual(
      [...runs.values()].map((r) => [r.name, r.system, r.state]),
      [
        ['dream-20250101-000000-abcd', 'dream', 'done'],
        ['gan-killed', 'gan', 'stopped'],
        ['gan-minutes', 'gan', 'done'],
        ['text-broke', 'text', 'failed'],
        ['text-killed', 'text', 'stopped'],
        ['text-live', 'text', 'training'],
        ['vae-done', 'vae', 'done'],
        ['vae-short', 'vae', 'stopped'],
      ],
    );
    assert.deepEqual(of('text-live').headline, [
      { field: 'val_bpc', label: 'held-out', unit: 'bits per character', value: 2.1 },
    ]);
    assert.equal(of('text-live').step, 100);
    assert.deepEqual(
      of('vae-done').headline.map((h) => [h.field, h.value]),
      [['test_elbo_nats', 150.25]],
    );
    assert.deepEqual(
      of('gan-minutes').headline.map((h) => [h.field, h.value]),
      [
        ['confident', 0.42],
        ['fd', 31.5],
      ],
    );
    assert.deepEqual(of('text-broke').headline, [], 'a text run without a held-out score has no headline');
    // The newest picture under samples/ (texts are no thumbnail); a folder without samples/ shows its own picture.
    assert.equal(of('text-live').thumbnail, 'runs/text-live/samples/step-000020.png');
    assert.equal(of('vae-done').thumbnail, 'runs/vae-done/samples/epoch-002-grid.png');
    assert.equal(of('gan-minutes').thumbnail, 'runs/gan-minutes/samples/step-000200.png');
    assert.equal(of('dream-20250101-000000-abcd').thumbnail, 'runs/dream-20250101-000000-abcd/dream.png');
    assert.equal(of('text-killed').thumbnail, null);
    const thumb = await get(studio, '/files/' + of('text-live').thumbnail);
    assert.equal(thumb.status, 200);
    // Its age: since it last wrote (its log, checkpoint, lock or folder), in seconds.
    const age = of('vae-done').age_s;
    assert.ok(age >= 3600 && age < 3600 + 300, `${age}`);
    assert.ok(of('text-live').age_s < 300, `${of('text-live').age_s}`);

    // Its log grows: the new score counts once its line is whole.
    const log = path.join(root, 'runs', 'text-live', 'metrics.jsonl');
    appendFileSync(log, '{"step":150,"val_bpc":1.9}\n{"step":200,"val');
    assert.equal((await list(studio)).get('text-live')?.headline[0].value, 1.9);
    appendFileSync(log, '_bpc":1.8}\n');
    assert.equal((await list(studio)).get('text-live')?.headline[0].value, 1.8);
    // A resume replaces the log (trimmed, whole): it is read afresh.
    writeFileSync(log + '.tmp', JSON.stringify({ step: 50, val_bpc: 2.5 }) + '\n');
    renameSync(log + '.tmp', log);
    assert.deepEqual((await list(studio)).get('text-live')?.step, 50);

    // The writer goes away: the live run reads as stopped, and a new run shows on the next list.
    writeFileSync(path.join(root, 'runs', 'text-live', 'run.lock'), `${DEAD_PID}\n`);
    writeRun(path.join(root, 'runs', 'text-new'), { config: { system: 'text', epochs: 1 }, lock: process.pid });
    const again = await list(studio);
    assert.equal(again.get('text-live')?.state, 'stopped');
    assert.equal(again.get('text-new')?.state, 'training');
  } finally {
    await studio.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test("--runs: other folders' runs are listed as <folder>/<name> and served, and nothing outside them is", async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'loom-runs-'));
  const exp = path.join(root, 'exp', 'runs');
  const other = path.join(root, 'other');
  writeRun(path.join(root, 'runs', 'mine'), { config: { system: 'vae', epochs: 1 }, checkpoint: true });
  writeRun(path.join(exp, 'a'), {
    config: { system: 'text', epochs: 1 },
    metrics: textLog(10, [3]),
    checkpoint: true,
    samples: ['step-000010.png'],
  });
  writeRun(path.join(other, 'b'), { config: { system: 'gan', steps: 10 }, metrics: [{ step: 10, fd: 9 }] });
  writeRun(path.join(root, 'gallery', 'runs', 'text'), { config: { system: 'text' }, checkpoint: true });
  writeFileSync(path.join(root, 'secret.png'), 'not for the browser');
  symlinkSync(path.join(root, 'gallery', 'runs', 'text'), path.join(other, 'linked'));
  symlinkSync(path.join(root, 'secret.png'), path.join(exp, 'a', 'samples', 'leak.png'));
  // The folders are given as the CLI gets them: relative to the working directory, one twice.
  const rel = (p: string) => path.relative(process.cwd(), p);
  const studio = await startStudio({ root, port: 0, runs: [rel(exp), other, exp, path.join(root, 'runs')] });
  try {
    assert.deepEqual(studio.runFolders, [path.join(root, 'runs'), realpathSync(exp), realpathSync(other)]);
    const runs = await list(studio);
    assert.deepEqual(
      [...runs.values()].map((r) => [r.name, r.folder, r.system, r.state]),
      [
        ['mine', 'runs', 'vae', 'stopped'],
        ['exp/a', 'exp', 'text', 'done'],
        ['other/b', 'other', 'gan', 'failed'],
      ],
      'the gallery is not listed when --runs names the folders, and a link is no run',
    );
    assert.equal(runs.get('exp/a')?.thumbnail, 'exp/a/samples/step-000010.png');
    assert.equal((await get(studio, '/files/exp/a/samples/step-000010.png')).status, 200);
    const c = await get(studio, '/api/runs/compare?run=exp/a&run=other/b');
    assert.match(JSON.parse(c.body).error, /exp\/a is text, other\/b is gan/);
    for (const [p, status] of [
      ['/files/exp/a/samples/leak.png', 404],
      ['/files/exp/%2e%2e/%2e%2e/secret.png', 404],
      ['/files/exp/../../secret.png', 404],
      ['/files/exp/a/..%2F..%2F..%2Fsecret.png', 400],
      ['/files/other/linked/config.json', 404],
      ['/files/gallery/text/config.json', 403],
      ['/files/secret.png', 403],
      ['/files/nope/a/x.png', 403],
      ['/api/runs/compare?run=exp/a&run=other/linked', 404],
      ['/api/runs/compare?run=exp/a&run=exp/..', 400],
      ['/api/runs/compare?run=exp/a&run=%2Ftmp%2Fx', 400],
      ['/api/runs/compare?run=exp/a&run=gallery/text', 404],
      ['/api/export?run=gallery/text', 404],
    ] as const) {
      const r = await get(studio, p);
      assert.equal(r.status, status, `${p}: ${r.body}`);
      assert.doesNotMatch(r.body, /not for the browser/);
      assert.ok(!r.body.includes(root), `${p} names no server path`);
    }
  } finally {
    await studio.close();
  }
  // By default: the root's runs/ and the demo's gallery/runs, by the name the browser uses.
  const plain = await startStudio({ root, port: 0 });
  try {
    const runs = await list(plain);
    assert.deepEqual([...runs.keys()], ['mine', 'gallery/text']);
    assert.equal(runs.get('gallery/text')?.state, 'stopped', 'a run with no end it could reach was stopped');
    assert.equal(runs.get('gallery/text')?.folder, 'gallery');
    await assert.rejects(startStudio({ root, port: 0, runs: [path.join(root, 'none')] }), /there is no folder/);
  } finally {
    await plain.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('GET /api/runs/compare: curves by step and by training time, and the settings that differ marked', async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'loom-runs-'));
  writeRuns(path.join(root, 'runs'));
  const studio = await startStudio({ root, port: 0 });
  try {
    const r = await get(studio, '/api/runs/compare?run=text-live&run=text-killed');
    assert.equal(r.status, 200, r.body);
    const a = JSON.parse(r.body) as {
      system: string;
      fields: string[];
      runs: { name: string; state: string; curves: { field: string; step: number[]; time: number[]; y: number[] }[] }[];
      settings: { name: string; values: unknown[]; differs: boolean }[];
    };
    assert.equal(a.system, 'text');
    assert.equal(a.fields[0], 'val_bpc', 'the headline first');
    assert.ok(a.fields.includes('loss') && !a.fields.includes('step') && !a.fields.includes('epoch'));
    const live = a.runs[0].curves.find((c) => c.field === 'val_bpc')!;
    assert.deepEqual(live.step, [50, 100]);
    assert.deepEqual(live.y, [2.5, 2.1]);
    assert.deepEqual(live.time, [5, 10], '50 steps of 100 ms, twice');
    assert.deepEqual(
      a.runs.map((x) => [x.name, x.state]),
      [
        ['text-live', 'training'],
        ['text-killed', 'stopped'],
      ],
    );
    const setting = (n: string) => a.settings.find((s) => s.name === n)!;
    assert.deepEqual(setting('lr'), { name: 'lr', values: [0.002, 0.01], differs: true });
    assert.deepEqual(setting('batch'), { name: 'batch', values: [32, 32], differs: false });
    assert.equal(
      a.settings.find((s) => s.name === 'system'),
      undefined,
    );
    for (const [q, why] of [
      ['run=text-live', /two or more/],
      ['run=text-live&run=text-live', /two or more/],
      ['run=text-live&run=vae-done', /one system compare: text-live is text, vae-done is vae/],
      ['run=text-live&run=missing', /there is no run missing/],
    ] as const) {
      const bad = await get(studio, '/api/runs/compare?' + q);
      assert.ok(bad.status === 400 || bad.status === 404, `${q}: ${bad.status}`);
      assert.match(JSON.parse(bad.body).error, why);
    }
  } finally {
    await studio.close();
    rmSync(root, { recursive: true, force: true });
  }
});

/** A stand-in for the CLI: it leaves a run with a checkpoint and fails, as a run whose loss became NaN. */
const FAILING_CLI = `
const fs = require('node:fs');
const path = require('node:path');
const out = path.dirname(process.argv[process.argv.indexOf('--out') + 1]);
fs.writeFileSync(path.join(out, 'config.json'), JSON.stringify({ system: 'text', epochs: 5 }));
fs.writeFileSync(path.join(out, 'checkpoint.safetensors'), 'weights');
console.error('loom: the loss became NaN at step 12');
process.exit(1);
`;

test("a run the studio's own job left reads as that job ended: failed, though its folder looks stopped", async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'loom-runs-'));
  writeFileSync(path.join(root, 'failing-cli.cjs'), FAILING_CLI);
  const studio = await startStudio({ root, port: 0, jobCli: path.join(root, 'failing-cli.cjs') });
  try {
    const u = new URL(studio.url);
    const r = await fetch(`${u.origin}/api/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${studio.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ system: 'dream', options: { image: 'builtin:dog' } }),
    });
    assert.equal(r.status, 201);
    const job = (await r.json()) as { id: string; folder: string };
    // Waits for the job's end as the studio reports it (no clock: each answer is looked at).
    for (;;) {
      const jobs = JSON.parse((await get(studio, '/api/jobs')).body) as { id: string; status: string }[];
      if (jobs.find((j) => j.id === job.id)?.status === 'failed') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const name = path.basename(job.folder);
    assert.equal((await list(studio)).get(name)?.state, 'failed');
    // Another studio on the same root did not start it: it goes by the folder alone.
    const other = await startStudio({ root, port: 0 });
    try {
      assert.equal((await list(other)).get(name)?.state, 'stopped');
    } finally {
      await other.close();
    }
  } finally {
    await studio.close();
    rmSync(root, { recursive: true, force: true });
  }
});
