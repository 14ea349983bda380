// `loom launch` as a process supervisor: a cap on ranks per core, ranks that stop when the
// launcher dies, one sentence when a rank dies, and elastic restarts from the last checkpoint.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadCorpus } from '../src/io/corpus.js';
import { RunFolder } from '../src/io/run-folder.js';
import { freePort } from '../src/distributed/index.js';
import { restartCommand, runFolderOf } from '../src/cli/launch.js';
import { repoRoot } from './helpers.js';

const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const dir = mkdtempSync(path.join(tmpdir(), 'loom-launch-'));
const corpus = path.join(dir, 'sotu.txt');
writeFileSync(corpus, loadCorpus('builtin:sotu').text.slice(0, 40_000));
// The smallest training the distributed tests use: a char-LSTM of 64 units on 32 characters.
const TRAIN = [
  'text',
  'train',
  '--batch',
  '8',
  '--log-every',
  '1',
  '--model',
  'lstm',
  '--maxlen',
  '32',
  '--units',
  '64',
  '--corpus',
  corpus,
  '--sample-length',
  '10',
  '--json',
];

const loom = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });

/** Whether a process runs (a zombie that nobody has reaped yet counts as gone). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Polls until none of `pids` runs or `ms` passed; returns those still running. */
async function gone(pids: number[], ms: number): Promise<number[]> {
  const end = Date.now() + ms;
  while (pids.some(alive) && Date.now() < end) await sleep(100);
  return pids.filter(alive);
}

/** Every rank the tests saw, so that a failed test leaves none running. */
const seen = new Set<number>();
after(() => {
  for (const pid of [...seen].filter(alive)) process.kill(pid, 'SIGKILL');
});

/** The launcher's ranks now, by rank. */
function ranksOf(launcher: number): Map<number, number> {
  const out = new Map<number, number>();
  const pids = spawnSync('pgrep', ['-P', String(launcher)], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean);
  for (const pid of pids) {
    const rank = readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .find((v) => v.startsWith('RANK='));
    if (rank) out.set(Number(rank.slice('RANK='.length)), Number(pid));
    seen.add(Number(pid));
  }
  return out;
}

interface Launch {
  launcher: ChildProcessWithoutNullStreams;
  exited: Promise<number | null>;
  stderr: () => string;
  /** Resolves once rank 0 has logged `step` (the run is then in its steps, past its rendezvous). */
  reached: (step: number) => Promise<void>;
}

/** Starts `loom launch` of two ranks of the tiny training with the launch options `more`. */
async function launch(out: string, more: string[], train: string[]): Promise<Launch> {
  const launcher = spawn(process.execPath, [
    CLI,
    'launch',
    '--nproc-per-node',
    '2',
    '--master-port',
    String(await freePort()),
    '--timeout',
    '20',
    ...more,
    '--',
    ...TRAIN,
    '--out',
    out,
    ...train,
  ]);
  let stderr = '';
  let last = 0;
  const waiting: { step: number; resolve: () => void }[] = [];
  launcher.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  launcher.stdout.setEncoding('utf8').on('data', (c: string) => {
    for (const m of c.matchAll(/"step":(\d+),"epoch"/g)) last = Math.max(last, Number(m[1]));
    for (const w of waiting.filter((x) => last >= x.step)) w.resolve();
  });
  const exited = new Promise<number | null>((r) => launcher.on('exit', (code) => r(code)));
  const reached = (step: number) =>
    new Promise<void>((resolve, reject) => {
      if (last >= step) return resolve();
      waiting.push({ step, resolve });
      void exited.then(() => reject(new Error(`the launcher ended before step ${step}: ${stderr}`)));
    });
  return { launcher, exited, stderr: () => stderr, reached };
}

const lossCurve = (run: string) =>
  new RunFolder(run)
    .readMetrics()
    .filter((m) => typeof m.loss === 'number')
    .map((m) => [m.step, m.loss]);

test('more ranks than 4 per core are refused in one sentence unless --allow-oversubscribe; bad restarts too', () => {
  const most = 4 * availableParallelism();
  const r = loom('launch', '--nproc-per-node', String(most + 1), '--', ...TRAIN, '--out', path.join(dir, 'many'));
  assert.equal(r.status, 2);
  assert.equal(
    r.stderr,
    `loom: --nproc-per-node ${most + 1} is more than 4 ranks per core on this machine's ${availableParallelism()} cores (at most ${most}); pass --allow-oversubscribe to start them anyway\n`,
  );
  const help = loom('launch', '--help');
  assert.match(help.stdout, /--allow-oversubscribe/);
  assert.match(help.stdout, /--max-restarts N/);
  const negative = loom('launch', '--max-restarts', '-1', '--', 'text', 'train');
  assert.equal(negative.status, 2);
  assert.equal(negative.stderr, 'loom: --max-restarts must be at least 0, got -1\n');
  const nodes = loom('launch', '--max-restarts', '1', '--nnodes', '2', '--', 'text', 'train');
  assert.equal(nodes.status, 2);
  assert.match(nodes.stderr, /^loom: --max-restarts works on one node only \(--nnodes 1\)/);
});

test('a restart resumes only once the run has a checkpoint, and never adds --resume twice', () => {
  const cmd = ['text', 'train', '--out', 'runs/a', '--force'];
  assert.deepEqual(restartCommand(cmd, false), cmd);
  assert.deepEqual(restartCommand(cmd, true), ['text', 'train', '--out', 'runs/a', '--resume']);
  const resumed = ['text', 'train', '--resume', '--out', 'runs/a'];
  assert.deepEqual(restartCommand(resumed, true), resumed);
  assert.equal(runFolderOf(cmd), 'runs/a');
  assert.equal(runFolderOf(['vae', 'train', '--out=x/y']), 'x/y');
  assert.equal(runFolderOf(['gan', 'train']), path.join('runs', 'gan'));
});

test('ranks stop when the launcher is killed with SIGKILL, and a rank killed gets one sentence from each side', async () => {
  const run = await launch(path.join(dir, 'orphans'), [], ['--steps', '1000000']);
  await run.reached(1);
  const ranks = [...ranksOf(run.launcher.pid!).values()];
  assert.equal(ranks.length, 2);
  assert.match(run.stderr(), /^loom launch: starting ranks 0\.\.1 of 2 on this node$/m);
  run.launcher.kill('SIGKILL');
  await run.exited;
  // The bound only keeps a broken build from hanging the test; the ranks poll once a second.
  assert.deepEqual(await gone(ranks, 60_000), [], 'no rank trains on without its launcher');
  assert.ok(
    existsSync(path.join(dir, 'orphans', 'checkpoint.safetensors')),
    'they stopped as on Ctrl-C, with a checkpoint',
  );

  const killed = await launch(path.join(dir, 'killed'), [], ['--steps', '1000000']);
  await killed.reached(1);
  process.kill(ranksOf(killed.launcher.pid!).get(0)!, 'SIGKILL');
  assert.equal(await killed.exited, 2);
  const err = killed.stderr();
  assert.match(err, /^\[rank 1\] loom: rank 1 stopped: another rank of the group is gone$/m);
  assert.match(err, /^loom: the distributed run failed: rank 0 was killed by SIGKILL$/m);
  assert.doesNotMatch(err, /\.(cc|cpp|h):\d+|gloo|Connection reset/i, 'no C++ text');
});

test('--max-restarts: a rank killed mid-run restarts every rank from the checkpoint, and the loss curve is the uninterrupted run', async () => {
  const TRAINING = ['--steps', '300', '--save-every', '50'];
  const whole = await launch(path.join(dir, 'whole'), [], TRAINING);
  assert.equal(await whole.exited, 0, whole.stderr());

  const elastic = path.join(dir, 'elastic');
  const run = await launch(elastic, ['--max-restarts', '1'], TRAINING);
  await run.reached(60);
  process.kill(ranksOf(run.launcher.pid!).get(1)!, 'SIGKILL');
  assert.equal(await run.exited, 0, run.stderr());
  const err = run.stderr();
  const restart = err.match(
    /^loom launch: rank 1 was killed by SIGKILL; restarting every rank from the checkpoint at step (\d+) \(restart 1 of 1\)$/m,
  );
  assert.ok(restart, err);
  const from = Number(restart[1]);
  assert.ok(from >= 50 && from % 50 === 0, `restarted from step ${from}`);
  assert.match(err, /^loom: rank 0 stopped: another rank of the group is gone$/m);
  assert.equal(err.match(/starting ranks 0\.\.1 of 2/g)?.length, 2, 'started twice');
  const [a, b] = [lossCurve(path.join(dir, 'whole')), lossCurve(elastic)];
  assert.equal(b.length, 300, 'each step logged once');
  assert.deepEqual(b.slice(from), a.slice(from), 'the restarted steps repeat the uninterrupted run exactly');
  assert.deepEqual(b, a);

  // Killed before its first checkpoint, the run starts again from scratch with the same command.
  const early = path.join(dir, 'early');
  const again = await launch(early, ['--max-restarts', '1'], ['--steps', '300', '--save-every', '1000']);
  await again.reached(1);
  process.kill(ranksOf(again.launcher.pid!).get(1)!, 'SIGKILL');
  assert.equal(await again.exited, 0, again.stderr());
  assert.match(
    again.stderr(),
    /^loom launch: rank 1 was killed by SIGKILL; restarting every rank from the start \(the run has no checkpoint yet\) \(restart 1 of 1\)$/m,
  );
  assert.deepEqual(lossCurve(early), a);
});
