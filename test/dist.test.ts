// Data-parallel training on c10d (Gloo): `loom launch` against one process, failures, Ctrl-C,
// resume with another number of processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadCorpus } from '../src/io/corpus.js';
import { loadCheckpoint } from '../src/io/checkpoint.js';
import { RunFolder } from '../src/io/run-folder.js';
import { ProcessGroup, distEnv, freePort } from '../src/distributed/index.js';
import * as T from '../src/torch/index.js';
import { addonBuild, native } from '../src/torch/native.js';
import { repoRoot } from './helpers.js';

const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const dir = mkdtempSync(path.join(tmpdir(), 'loom-dist-'));
const corpus = path.join(dir, 'sotu.txt');
writeFileSync(corpus, loadCorpus('builtin:sotu').text.slice(0, 40_000));
const TEXT = ['--corpus', corpus, '--sample-length', '10', '--json'];
const LSTM = ['--model', 'lstm', '--maxlen', '32', '--units', '64'];

const loom = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
/** `loom launch` of a two-rank text training on `port`, as arguments for the CLI. */
const launchText = (port: number | string, ...more: string[]) => [
  'launch',
  '--nproc-per-node',
  '2',
  '--master-port',
  String(port),
  ...more,
  '--',
  'text',
  'train',
];
const losses = (run: string) => new RunFolder(run).readMetrics().filter((m) => typeof m.loss === 'number');

test('two processes with --batch 16 train the char model as one process with --batch 32: the same losses step by step and the same weights', async () => {
  const one = path.join(dir, 'one');
  const two = path.join(dir, 'two');
  const a = loom('text', 'train', '--out', one, '--batch', '32', '--steps', '20', '--log-every', '1', ...LSTM, ...TEXT);
  assert.equal(a.status, 0, a.stderr);
  const b = loom(
    ...launchText(await freePort()),
    '--out',
    two,
    '--batch',
    '16',
    '--steps',
    '20',
    '--log-every',
    '1',
    ...LSTM,
    ...TEXT,
  );
  assert.equal(b.status, 0, b.stderr);
  const [la, lb] = [losses(one), losses(two)];
  assert.equal(lb.length, 20, 'rank 0 alone logs, each step once');
  la.forEach((m, i) => {
    const rel = Math.abs(m.loss - lb[i].loss) / m.loss;
    assert.ok(rel < 1e-4, `step ${m.step}: loss ${m.loss} in one process, ${lb[i].loss} in two`);
  });
  assert.equal(JSON.parse(readFileSync(path.join(two, 'config.json'), 'utf8')).processes, 2);
  using ca = loadCheckpoint(path.join(one, 'checkpoint.safetensors'));
  using cb = loadCheckpoint(path.join(two, 'checkpoint.safetensors'));
  // RMSprop divides by the gradients' running size, so a weight whose gradient is near zero
  // moves by rounding noise, which differs between the two sums: compare the weights as a whole.
  let diff = 0;
  let norm = 0;
  for (const [k, t] of ca.tensors) {
    if (!k.startsWith('module.')) continue;
    const x = t.toFlatArray() as ArrayLike<number>;
    const y = cb.tensors.get(k)!.toFlatArray() as ArrayLike<number>;
    for (let i = 0; i < x.length; i++) {
      diff += (x[i] - y[i]) ** 2;
      norm += x[i] ** 2;
    }
  }
  const rel = Math.sqrt(diff / norm);
  console.log(`final weights: relative difference ${rel.toExponential(2)}`);
  assert.ok(rel < 1e-3, `the final weights differ by ${rel} of their norm`);
  // --resume works with another number of processes: here one, from the two-process run.
  const c = loom('text', 'train', '--out', two, '--resume', '--steps', '25', ...TEXT);
  assert.equal(c.status, 0, c.stderr);
  assert.deepEqual(
    losses(two).map((m) => m.step),
    Array.from({ length: 25 }, (_, i) => i + 1),
  );
});

test('the transformer trains data-parallel too: two processes with --batch 8 take the steps of one with --batch 16', async () => {
  const GPT = ['--model', 'gpt', '--layers', '1', '--embed', '32', '--heads', '2', '--block', '24', '--steps', '12'];
  const one = path.join(dir, 'gpt-one');
  const two = path.join(dir, 'gpt-two');
  const a = loom('text', 'train', '--out', one, '--batch', '16', '--log-every', '1', ...GPT, ...TEXT);
  assert.equal(a.status, 0, a.stderr);
  const b = loom(...launchText(await freePort()), '--out', two, '--batch', '8', '--log-every', '1', ...GPT, ...TEXT);
  assert.equal(b.status, 0, b.stderr);
  // On libtorch 2.x c10d's Reducer all-reduces gradient buckets while the backward pass runs.
  const logged = new RunFolder(two).readMetrics().find((m) => typeof m.gradients === 'string');
  const expected = native.distReducer ? 'all-reduced during backward' : 'averaged after backward';
  assert.equal(logged?.gradients, expected);
  const [la, lb] = [losses(one), losses(two)];
  assert.equal(la.length, 12);
  assert.equal(lb.length, 12);
  la.forEach((m, i) => {
    const rel = Math.abs(m.loss - lb[i].loss) / m.loss;
    assert.ok(rel < 1e-4, `step ${m.step}: loss ${m.loss} in one process, ${lb[i].loss} in two`);
  });
});

/** Starts a long two-rank training; resolves with the launcher once rank 0 has logged a step. */
async function longRun(out: string) {
  const launcher = spawn(process.execPath, [
    CLI,
    ...launchText(await freePort(), '--timeout', '20'),
    '--out',
    out,
    '--batch',
    '8',
    '--steps',
    '1000000',
    '--log-every',
    '1',
    // auto settles on rank 0 and is broadcast to the other rank, a collective of its own.
    '--precision',
    'auto',
    ...LSTM,
    ...TEXT,
  ]);
  let stderr = '';
  launcher.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<number | null>((r) => launcher.on('exit', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    launcher.stdout.setEncoding('utf8').on('data', (c: string) => c.includes('"loss"') && resolve());
    launcher.on('exit', () => reject(new Error(`the launcher ended early: ${stderr}`)));
  });
  return { launcher, exited, stderr: () => stderr };
}

test('a rank killed mid-run stops the launcher and the other rank at once, naming it; Ctrl-C stops every rank with a checkpoint', async () => {
  const killed = await longRun(path.join(dir, 'killed'));
  const children = spawnSync('pgrep', ['-P', String(killed.launcher.pid)], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean);
  const rank1 = children.find((pid) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes('RANK=1'));
  assert.ok(rank1, 'rank 1 is a child of the launcher');
  const t0 = Date.now();
  process.kill(Number(rank1), 'SIGKILL');
  const code = await killed.exited;
  assert.notEqual(code, 0);
  assert.ok(Date.now() - t0 < 15_000, 'well within the collective timeout');
  assert.match(killed.stderr(), /rank 1 was killed by SIGKILL/);
  const alive = (pid: string) => {
    try {
      process.kill(Number(pid), 0);
      return true;
    } catch {
      return false;
    }
  };
  assert.equal(children.length, 2);
  assert.deepEqual(children.filter(alive), [], 'no rank left behind');

  const stopped = path.join(dir, 'stopped');
  const run = await longRun(stopped);
  run.launcher.kill('SIGINT');
  assert.equal(await run.exited, 0, run.stderr());
  const ck = loadCheckpoint(path.join(stopped, 'checkpoint.safetensors'));
  assert.ok(ck.step >= 1);
  ck.dispose();
});

test('a port in use, a malformed rank and a launch without a command each get one sentence', async () => {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = String((server.address() as net.AddressInfo).port);
  const r = loom(...launchText(port), '--out', path.join(dir, 'busy'), ...TEXT);
  server.close();
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, new RegExp(`port ${port} is already in use on this machine; choose another --master-port`));
  assert.doesNotMatch(r.stderr, /socket\.cpp|Traceback|at .*\.js:/);
  assert.throws(
    () => distEnv({ WORLD_SIZE: '2', RANK: '2' }),
    /^Error: RANK is 2, but WORLD_SIZE is 2: ranks go from 0 to 1$/,
  );
  assert.throws(() => distEnv({ WORLD_SIZE: 'two', RANK: '0' }), /WORLD_SIZE must be a whole number/);
  assert.equal(distEnv({}), null);
  const none = loom('launch', '--nproc-per-node', '2');
  assert.equal(none.status, 2);
  assert.match(none.stderr, /^loom: give the training command after --/);
});

test('gradients are averaged over the ranks during backward where every parameter gets one, after it where one does not', async () => {
  const port = await freePort();
  const script = path.join(repoRoot, 'dist', 'test', 'interop', 'sync-rank.js');
  const ranks = [0, 1].map((rank) => {
    const child = spawn(process.execPath, [script, String(rank), String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    return new Promise<{ code: number | null; out: string; err: string }>((r) =>
      child.on('exit', (code) => r({ code, out, err })),
    );
  });
  const near = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]) < 1e-6);
  for (const r of await Promise.all(ranks)) {
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, '', 'nothing on stderr (c10d warns there)');
    const got = JSON.parse(r.out);
    // Three SGD steps of 0.1 on the ranks' mean gradient: [2, 1, 1] for used, 1.5 for alone.
    assert.ok(near(got.used, [0.4, 1.7, 2.7]), `used ${got.used}`);
    assert.ok(near(got.alone, [3.55, 4.55]), `alone ${got.alone}`);
    assert.deepEqual(got.unreached, [1, 1]);
    assert.equal(
      got.path,
      native.distReducer ? 'all-reduced during backward for 1 of 2 optimizers' : 'averaged after backward',
    );
  }
});

test("a Loom rank and a PyTorch rank (torch.distributed, Gloo) join one group and all-reduce and broadcast with PyTorch's results", async () => {
  const port = await freePort();
  // The PyTorch of the addon's libtorch when it is an installed PyTorch's (ranks meet only
  // within one version, native/loom.cc), else Debian's.
  const python = addonBuild.libtorch?.python ?? '/usr/bin/python3';
  const torchRank = spawn(python, [path.join(repoRoot, 'test', 'interop', 'torch_rank.py'), String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  torchRank.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  torchRank.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const done = new Promise<number | null>((r) => torchRank.on('exit', (code) => r(code)));
  const env = {
    rank: 0,
    world: 2,
    localRank: 0,
    localWorld: 2,
    masterAddr: '127.0.0.1',
    masterPort: port,
    timeoutS: 30,
  };
  using group = ProcessGroup.join(env);
  const summed = T.tensor([1, 2, 3]);
  group.allReduce(summed, 'sum');
  const largest = T.tensor([2, 7]);
  group.allReduce(largest, 'max');
  const shared = T.tensor([0.5, -2, 1e-3, 42], { dtype: 'float64' });
  group.broadcast(shared, 0);
  group.barrier();
  assert.equal(await done, 0, err);
  const theirs = JSON.parse(out);
  assert.deepEqual(Array.from(summed.toFlatArray() as ArrayLike<number>), [11, 22, 33]);
  assert.deepEqual(theirs.sum, [11, 22, 33]);
  assert.deepEqual(Array.from(largest.toFlatArray() as ArrayLike<number>), [5, 7]);
  assert.deepEqual(theirs.max, [5, 7]);
  assert.deepEqual(theirs.broadcast, [0.5, -2, 1e-3, 42]);
  for (const t of [summed, largest, shared]) t.dispose();
});
