// One run's view (GET /api/runs/view) over run folders written by hand: its charts, training
// beside held-out, its progress and time left, its samples by step; and resuming a stopped
// run as a job (POST /api/runs/resume) with its refusals; stopping a run the CLI trains
// (POST /api/runs/stop), the one test that trains.
import { test } from 'node:test';
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStudio, type Studio } from '../src/studio/server.js';
import type { RunView } from '../src/studio/run-view.js';
import { DEAD_PID, get, textLog, writeRun, writeRuns } from './studio-run-fixtures.js';
import { repoRoot } from './helpers.js';
import { freePort } from '../src/distributed/index.js';

async function view(studio: Studio, run: string): Promise<RunView> {
  const r = await get(studio, '/api/runs/view?run=' + encodeURIComponent(run));
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as RunView;
}

async function post(studio: Studio, p: string, body: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(new URL(p, studio.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${studio.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

test("GET /api/runs/view: a run's charts, progress and samples by step, from its folder alone", async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'loom-view-'));
  writeRuns(path.join(root, 'runs'));
  const studio = await startStudio({ root, port: 0 });
  try {
    const text = await view(studio, 'text-live');
    assert.equal(text.state, 'training');
    // The gallery's chart first: training and held-out bits per character; then each other term.
    assert.deepEqual(
      text.charts.map((c) => [c.y, c.curves.map((x) => x.name)]),
      [
        ['bits per character', ['training', 'training, epoch mean', 'held-out']],
        ['loss', ['loss']],
      ],
      'timing fields are no chart',
    );
    const heldOut = text.charts[0].curves.find((c) => c.name === 'held-out')!;
    assert.deepEqual(
      [heldOut.step, heldOut.y],
      [
        [50, 100],
        [2.5, 2.1],
      ],
    );
    // 2 of 10 epochs at 50 steps each and 100 ms a step: 400 steps, 40 s, left.
    assert.deepEqual(text.progress, {
      step: 100,
      unit: 'epochs',
      done: 2,
      total: 10,
      fraction: 0.2,
      trained_s: 10,
      left_s: 40,
    });
    // Texts of each evaluation at the step it logged; pictures by step.
    assert.deepEqual(
      text.samples.texts.map((s) => [s.file, s.epoch, s.step]),
      [
        ['runs/text-live/samples/epoch-001.txt', 1, 50],
        ['runs/text-live/samples/epoch-002.txt', 2, 100],
      ],
    );
    assert.deepEqual(
      text.samples.images.map((s) => [s.file, s.step]),
      [
        ['runs/text-live/samples/step-000010.png', 10],
        ['runs/text-live/samples/step-000020.png', 20],
      ],
    );
    assert.equal((await get(studio, '/files/' + text.samples.texts[0].file)).status, 200);
    assert.equal(text.job, null, 'the CLI started it: the studio has no job to stop');
    assert.equal(text.resumable, false, 'it is training');

    // Its minutes (one) end it before its steps: 100 steps of 40 ms trained, 56 s left.
    const gan = await view(studio, 'gan-minutes');
    assert.deepEqual([gan.progress.unit, gan.progress.trained_s, gan.progress.left_s], ['minutes', 4, 56]);
    assert.deepEqual(
      gan.charts.map((c) => c.y),
      ['loss (binary cross-entropy)', 'samples the judge reads (share)', 'Fréchet distance', 'classes'],
    );
    assert.deepEqual(
      gan.samples.images.map((s) => [s.kind, s.step]),
      [
        ['real', null],
        [null, 200],
      ],
    );
    // A run training now counts its minutes from when it took its lock (its log's time is a floor).
    writeRun(path.join(root, 'runs', 'gan-now'), {
      config: { system: 'gan', minutes: 2 },
      metrics: [{ step: 10, d_loss: 0.6, a_loss: 1.2, ms_per_step: 40 }],
      lock: process.pid,
    });
    const taken = Date.now() / 1000 - 60;
    utimesSync(path.join(root, 'runs', 'gan-now', 'run.lock'), taken, taken);
    const now = (await view(studio, 'gan-now')).progress;
    assert.equal(now.unit, 'minutes');
    assert.ok(Math.abs(now.done! - 1) < 0.1 && Math.abs(now.left_s! - 60) < 6, JSON.stringify(now));
    // A style net's terms in one chart, on the log scale the gallery draws them with.
    writeRun(path.join(root, 'runs', 'style-net'), {
      config: { system: 'style', steps: 100 },
      metrics: [{ step: 10, loss: 9, content_loss: 4, style_loss: 5, tv_loss: 0.01, ms_per_step: 300 }],
      checkpoint: true,
    });
    assert.deepEqual(
      (await view(studio, 'style-net')).charts.map((c) => [c.curves.map((x) => x.name), c.log]),
      [[['total', 'content', 'style', 'total variation'], true]],
    );
    const vae = await view(studio, 'vae-done');
    assert.deepEqual(
      vae.charts[0].curves.map((c) => [c.name, c.y]),
      [
        ['training loss', [190, 160]],
        ['held-out −ELBO', [170.5, 150.25]],
      ],
    );
    assert.deepEqual(
      vae.samples.images.map((s) => [s.kind, s.epoch, s.step]),
      [
        ['grid', 1, 100],
        ['grid', 2, 200],
      ],
    );
    assert.deepEqual(vae.progress.fraction, 1);
    assert.equal((await view(studio, 'text-killed')).resumable, true);
    assert.equal(vae.resumable, false, 'it reached its end');
    assert.equal((await view(studio, 'text-broke')).resumable, false, 'no checkpoint');
    const dream = await view(studio, 'dream-20250101-000000-abcd');
    assert.equal(dream.resumable, false, 'no training');
    assert.deepEqual([dream.charts, dream.progress.unit, dream.progress.fraction], [[], null, null]);
    assert.deepEqual(
      dream.samples.images.map((s) => [s.file, s.kind]),
      [['runs/dream-20250101-000000-abcd/dream.png', 'dream']],
      'a folder of pictures shows its own',
    );
    for (const [q, status] of [
      ['run=missing', 404],
      ['run=..%2Fx', 400],
      ['', 400],
    ] as const)
      assert.equal((await get(studio, '/api/runs/view?' + q)).status, status, q);
  } finally {
    await studio.close();
    rmSync(root, { recursive: true, force: true });
  }
});

/** A stand-in for the CLI: it takes the run's stale lock and lets it go, as a resume that ends at once does. */
const QUIET_CLI = `
const out = process.argv[process.argv.indexOf('--out') + 1];
require('node:fs').rmSync(require('node:path').join(out, 'run.lock'), { force: true });
`;

test('POST /api/runs/resume: a stopped run goes on as `loom <system> train --out RUN --resume`, and nothing else does', async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'loom-view-'));
  writeRuns(path.join(root, 'runs'));
  writeFileSync(path.join(root, 'quiet-cli.cjs'), QUIET_CLI);
  const studio = await startStudio({ root, port: 0, jobCli: path.join(root, 'quiet-cli.cjs') });
  try {
    for (const [run, status, why] of [
      ['text-live', 409, /training already/],
      ['text-broke', 400, /no checkpoint/],
      ['vae-done', 409, /vae-done is done; only a stopped run resumes/],
      ['dream-20250101-000000-abcd', 400, /resumes text, vae, gan runs/],
      ['missing', 404, /no run missing/],
      ['../x', 400, /folder name/],
    ] as const) {
      const r = await post(studio, '/api/runs/resume', { run });
      assert.equal(r.status, status, `${run}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error, why);
    }
    const r = await post(studio, '/api/runs/resume', { run: 'text-killed' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    // With its own end (a resumed run takes it from the command), and nothing else of its settings.
    assert.deepEqual(r.body.args, [
      'text',
      'train',
      '--epochs',
      '10',
      '--out',
      'runs/text-killed',
      '--resume',
      '--json',
    ]);
    assert.equal(r.body.folder, 'runs/text-killed');
    // The job is the run's: the list reads its state from it once it has ended (looked at, a bounded number of times).
    let state = '';
    for (let i = 0; i < 500 && state !== 'done'; i++) {
      const runs = JSON.parse((await get(studio, '/api/runs')).body) as { name: string; state: string }[];
      state = runs.find((x) => x.name === 'text-killed')!.state;
      if (state !== 'done') await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(state, 'done');

    // A run trained on several processes resumes on as many, through loom launch.
    for (const [name, processes] of [
      ['text-two', 2],
      ['text-many', 4096],
    ] as const)
      writeRun(path.join(root, 'runs', name), {
        config: { system: 'text', epochs: 10, processes },
        metrics: textLog(50, [2.6]),
        checkpoint: true,
        lock: DEAD_PID,
      });
    const two = await post(studio, '/api/runs/resume', { run: 'text-two' });
    assert.equal(two.status, 201, JSON.stringify(two.body));
    assert.deepEqual(
      (two.body.args as string[]).map((a) => (/^\d{4,5}$/.test(a) ? 'PORT' : a)),
      ['launch', '--nproc-per-node', '2', '--master-port', 'PORT', '--', 'text', 'train', '--epochs', '10'].concat([
        '--out',
        'runs/text-two',
        '--resume',
        '--json',
      ]),
    );
    const many = await post(studio, '/api/runs/resume', { run: 'text-many' });
    assert.equal(many.status, 400);
    assert.match(many.body.error, /processes must be a whole number from 1 to \d+ \(this machine's cores\)/);
  } finally {
    await studio.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('a run whose config.json names no system (saved before runs recorded it) is told by its checkpoint, as the export tells it', async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'loom-view-'));
  const fixtures = path.join(repoRoot, 'test', 'fixtures', 'runs-before-registry');
  // A name that says nothing of the system, and steps beyond the checkpoint's: it stopped early.
  const dir = path.join(root, 'runs', 'digits');
  cpSync(path.join(fixtures, 'gan'), dir, { recursive: true });
  const { system, ...config } = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
  assert.equal(system, 'gan');
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, steps: 8 }));
  writeFileSync(path.join(root, 'quiet-cli.cjs'), QUIET_CLI);
  const studio = await startStudio({ root, port: 0, jobCli: path.join(root, 'quiet-cli.cjs') });
  const listed = async () =>
    (JSON.parse((await get(studio, '/api/runs')).body) as { name: string; system: string; state: string }[]).find(
      (r) => r.name === 'digits',
    )!;
  try {
    assert.deepEqual([(await listed()).system, (await listed()).state], ['gan', 'stopped']);
    const v = await view(studio, 'digits');
    assert.deepEqual([v.system, v.state, v.resumable], ['gan', 'stopped', true]);
    assert.equal(v.charts[0].y, 'loss (binary cross-entropy)');
    assert.deepEqual(
      v.samples.images.map((s) => [s.kind, s.step]),
      [
        ['real', null],
        [null, 4],
      ],
      'its samples by step, not every picture in the folder',
    );
    const r = await post(studio, '/api/runs/resume', { run: 'digits' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.deepEqual(r.body.args, ['gan', 'train', '--steps', '8', '--out', 'runs/digits', '--resume', '--json']);
    // Another checkpoint in its place is read again.
    cpSync(path.join(fixtures, 'vae', 'checkpoint.safetensors'), path.join(dir, 'checkpoint.safetensors'));
    assert.equal((await listed()).system, 'vae');
  } finally {
    await studio.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('POST /api/runs/stop: a run the CLI trains gets Ctrl-C and keeps a checkpoint; a reused pid or no lock is refused', async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'loom-stop-'));
  const corpus = path.join(root, 'corpus.txt');
  writeFileSync(corpus, 'the quick brown fox jumps over the lazy dog. '.repeat(40));
  const studio = await startStudio({ root, port: 0 });
  const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
  const run = path.join(root, 'runs', 'cli-t');
  /** A tiny model that trains until it is stopped, logging every step. */
  const TINY = ['--model', 'lstm', '--units', '8', '--maxlen', '10', '--steps', '1000000', '--log-every', '1'];
  const trainer = spawn(process.execPath, [cli, 'text', 'train', '--corpus', corpus, '--out', run, ...TINY], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LOOM_THREADS: '1' },
  });
  let stderr = '';
  trainer.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<number | null>((r) => trainer.on('exit', (code) => r(code)));
  const sleeper = spawn('sleep', ['60']);
  try {
    // Training: its lock is taken and its log has begun (past any rendezvous of ranks).
    const stepping = async (run: string, log: () => string) => {
      for (let i = 0; ; i++) {
        const v = await view(studio, run).catch(() => null);
        if (v?.state === 'training' && v.progress.step !== null) return;
        assert.ok(i < 600, `${run} never started: ${log()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await stepping('cli-t', () => stderr);
    const stopped = await post(studio, '/api/runs/stop', { run: 'cli-t' });
    assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
    assert.equal(stopped.body.stopping, `pid ${trainer.pid} stops`);
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /checkpoint/i);
    const after = await view(studio, 'cli-t');
    assert.deepEqual([after.state, after.resumable], ['stopped', true]);
    assert.equal((await post(studio, '/api/runs/stop', { run: 'cli-t' })).status, 409, 'no lock: nothing to stop');

    // Two ranks under `loom launch`: the launcher gets the Ctrl-C, and stops every rank.
    const launcher = spawn(
      process.execPath,
      [
        ...[cli, 'launch', '--nproc-per-node', '2', '--master-port', String(await freePort()), '--timeout', '20'],
        ...['--', 'text', 'train', '--corpus', corpus, '--out', path.join(root, 'runs', 'two')],
        ...TINY,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LOOM_THREADS: '1' } },
    );
    let launchErr = '';
    launcher.stderr!.setEncoding('utf8').on('data', (c: string) => (launchErr += c));
    const launchExit = new Promise<number | null>((r) => launcher.on('exit', (code) => r(code)));
    try {
      await stepping('two', () => launchErr);
      const both = await post(studio, '/api/runs/stop', { run: 'two' });
      assert.equal(both.body.stopping, `loom launch (pid ${launcher.pid}) stops every rank`);
      assert.equal(await launchExit, 0, launchErr);
      assert.equal((await view(studio, 'two')).state, 'stopped');
    } finally {
      launcher.kill('SIGKILL');
    }

    // A lock whose pid now names a process that started after it was written: refused, untouched.
    const stale = path.join(root, 'runs', 'stale');
    writeRun(stale, { config: { system: 'text', steps: 10 }, lock: sleeper.pid });
    const hourAgo = Date.now() / 1000 - 3600;
    utimesSync(path.join(stale, 'run.lock'), hourAgo, hourAgo);
    const refused = await post(studio, '/api/runs/stop', { run: 'stale' });
    assert.deepEqual(
      [refused.status, refused.body.error],
      [409, 'stale is not training: the process that locked it has ended'],
    );
    assert.equal(sleeper.exitCode, null, 'the process that reused the pid was not signalled');
    assert.equal(sleeper.signalCode, null);
  } finally {
    trainer.kill('SIGKILL');
    sleeper.kill('SIGKILL');
    await studio.close();
    rmSync(root, { recursive: true, force: true });
  }
});
