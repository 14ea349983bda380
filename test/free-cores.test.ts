// The thread count fitted to the cores other processes leave free: the rule, its patience
// (two windows in a row), the real measurement with busy processes beside a training, which
// fits its count only when asked (--threads auto): by default its numbers repeat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FreeCores, freeCoresHere, threadsFor } from '../src/torch/free-cores.js';
import { repoRoot } from './helpers.js';
import { busyProcesses } from '../bench/wait-policy.js';

const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

test('threads: the cores less those other processes keep busy (to the nearest core), at least 1', () => {
  const cases: [number, number, number][] = [
    [2, 0, 2],
    [2, 0.4, 2],
    [2, 0.6, 1],
    [2, 1.9, 1],
    [8, 1, 7],
    [8, 2.6, 5],
    [8, 20, 1],
  ];
  for (const [cores, others, want] of cases)
    assert.equal(threadsFor(cores, others), want, `${cores} cores, ${others} busy`);
});

test('a change needs two windows in a row that agree; a burst or a long pause changes nothing', () => {
  // Scripted CPU time: in each window other processes use `others` cores, this process 1.
  let machine = 0;
  let own = 0;
  let samples = 0;
  const fc = new FreeCores(2, () => (samples++, { machine, own }), 1000);
  let now = 0;
  const window = (others: number, current: number, ms = 1000) => {
    now += ms;
    machine += ((others + 1) * ms) / 1000;
    own += ms / 1000;
    return fc.check(current, now);
  };
  assert.equal(fc.check(2, now), null, 'the first sample is the baseline');
  assert.equal(window(1, 2), null, 'one busy window: not yet');
  assert.equal(window(1, 2), 1, 'two in a row: 1 thread');
  assert.ok(Math.abs(fc.othersBusy - 1) < 1e-9, `others busy ${fc.othersBusy}`);
  assert.equal(window(0, 1), null, 'freed once');
  assert.equal(window(1, 1), null, 'busy again: the pending change is dropped');
  assert.equal(window(0, 1), null, 'freed once more');
  assert.equal(window(0, 1), 2, 'freed twice in a row: back to 2');
  const before = samples;
  now += 500;
  assert.equal(fc.check(2, now), null);
  assert.equal(samples, before, 'within a window nothing is read');
  assert.equal(window(2, 2, 500), null);
  assert.equal(window(2, 2, 20_000), null, 'a window 20x too long spans a pause: no verdict');
  assert.equal(window(2, 2), null, 'so the count starts again');
  assert.equal(window(2, 2), 1);
});

test('on this machine, busy processes beside it are measured as busy cores', async (t) => {
  const fc = freeCoresHere(os.availableParallelism(), 400);
  if (fc === null) return t.skip('no /proc/stat, or a CPU quota: the count is never changed');
  const load = busyProcesses();
  try {
    let decision: number | null = null;
    fc.check(os.availableParallelism(), performance.now());
    for (let i = 0; i < 4 && decision === null; i++) {
      await new Promise((r) => setTimeout(r, 450));
      decision = fc.check(os.availableParallelism(), performance.now());
    }
    assert.equal(decision, 1, `others busy: ${fc.othersBusy.toFixed(2)} cores`);
    assert.ok(fc.othersBusy > os.availableParallelism() - 0.5, `others busy: ${fc.othersBusy.toFixed(2)} cores`);
  } finally {
    for (const p of load) p.kill('SIGKILL');
  }
});

test('by default a training keeps its threads beside busy processes and repeats an idle run exactly; --threads auto fits them', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'loom-free-cores-'));
  const corpus = path.join(dir, 'corpus.txt');
  writeFileSync(corpus, 'the cat sat on the mat and the dog sat on the log. '.repeat(400));
  const run = (out: string, ...extra: string[]) =>
    new Promise<{ code: number | null; stderr: string; losses: number[] }>((done) => {
      const args = ['text', 'train', '--corpus', corpus, '--out', path.join(dir, out), '--model', 'lstm'];
      const p = spawn(process.execPath, [CLI, ...args, '--units', '16', '--log-every', '5', '--json', ...extra]);
      let stderr = '';
      let stdout = '';
      p.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      p.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      p.on('close', (code) => {
        const lines = stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
        done({ code, stderr, losses: lines.filter((l) => 'loss' in l).map((l) => l.loss) });
      });
    });
  const steps = ['--steps', '60'];
  const load = busyProcesses();
  let busy, fitted;
  try {
    [busy, fitted] = await Promise.all([
      run('busy', ...steps),
      freeCoresHere(os.availableParallelism()) ? run('fitted', '--minutes', '0.2', '--threads', 'auto') : null,
    ]);
  } finally {
    for (const p of load) p.kill('SIGKILL');
  }
  const idle = await run('idle', ...steps);
  assert.equal(busy.code, 0, busy.stderr);
  assert.equal(idle.code, 0, idle.stderr);
  assert.doesNotMatch(busy.stderr, /other processes keep/);
  assert.equal(busy.losses.length, 12);
  assert.deepEqual(busy.losses, idle.losses, 'the same losses to the last bit');
  assert.equal(
    JSON.parse(readFileSync(path.join(dir, 'idle', 'config.json'), 'utf8')).threads,
    os.availableParallelism(),
  );
  if (fitted === null) return t.skip('the count is never fitted here');
  assert.equal(fitted.code, 0, fitted.stderr);
  assert.match(fitted.stderr, /other processes keep [\d.]+ cores busy: 1 thread from here/);
  assert.equal(JSON.parse(readFileSync(path.join(dir, 'fitted', 'config.json'), 'utf8')).threads, 'auto');
});
