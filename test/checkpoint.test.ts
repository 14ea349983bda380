// Checkpoints survive a kill mid-write; bad files given to --resume get one clear sentence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, truncateSync, writeFileSync, copyFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as T from '../src/torch/index.js';
import { Linear } from '../src/nn/index.js';
import { SGD } from '../src/optim/index.js';
import { loadCheckpoint, restoreCheckpoint, saveCheckpoint } from '../src/io/checkpoint.js';
import { repoRoot } from './helpers.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'loom-ck-'));
const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

test('a checkpoint restores model, optimizer, step, config and RNG state', () => {
  const file = path.join(tmp(), 'ck.safetensors');
  T.manualSeed(1);
  const a = new Linear(3, 2);
  const opt = new SGD(a.parameters(), { lr: 0.1, momentum: 0.9 });
  T.tidy(() => {
    a.forward(T.ones([4, 3]))
      .sum()
      .backward();
    opt.step();
  });
  saveCheckpoint(file, { modules: { net: a }, optimizers: { opt } }, { step: 7, config: { units: 2 } });
  const next = T.rand([3]).toFlatArray();
  const b = new Linear(3, 2);
  const opt2 = new SGD(b.parameters(), { lr: 0.5 });
  const ck = loadCheckpoint(file);
  restoreCheckpoint(ck, { modules: { net: b }, optimizers: { opt: opt2 } });
  assert.equal(ck.step, 7);
  assert.deepEqual(ck.config, { units: 2 });
  assert.equal(opt2.lr, 0.1);
  assert.deepEqual(b.weight.toFlatArray(), a.weight.toFlatArray());
  assert.deepEqual(T.rand([3]).toFlatArray(), next, 'the RNG continues where it was saved');
  ck.dispose();
});

test('a process killed while writing a checkpoint leaves the previous one loadable', async () => {
  const dir = tmp();
  const file = path.join(dir, 'ck.safetensors');
  const mod = (p: string) => JSON.stringify(pathToFileURL(path.join(repoRoot, 'dist', 'src', p)).href);
  const script = path.join(dir, 'writer.mjs');
  writeFileSync(
    script,
    `import * as T from ${mod('torch/index.js')};
import { Linear } from ${mod('nn/index.js')};
import { saveCheckpoint } from ${mod('io/checkpoint.js')};
const net = new Linear(2000, 2000); // 16 MB a write
for (let step = 1; ; step++) {
  saveCheckpoint(process.argv[2], { modules: { net } }, { step, config: {} });
  if (step === 1) console.log('first');
}
`,
  );
  const child = spawn(process.execPath, [script, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  await new Promise((r) => setTimeout(r, 150 + Math.random() * 200)); // somewhere mid-write
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const ck = loadCheckpoint(file);
  assert.ok(ck.step >= 1);
  assert.deepEqual(ck.tensors.get('module.net.weight')!.shape, [2000, 2000]);
  ck.dispose();
  // The partial write, if it was caught mid-way, is only ever a temporary file.
  for (const f of readdirSync(dir)) assert.ok(f === 'ck.safetensors' || f === 'writer.mjs' || f.includes('.tmp-'), f);
});

test('--resume with a truncated or foreign checkpoint: one clear sentence, exit code 2, nothing lost', () => {
  const dir = tmp();
  const corpus = path.join(dir, 'c.txt');
  writeFileSync(corpus, 'abcdefghij '.repeat(200));
  const run = path.join(dir, 'run');
  const tr = spawnSync(
    process.execPath,
    [
      CLI,
      'text',
      'train',
      '--model',
      'lstm',
      '--corpus',
      corpus,
      '--out',
      run,
      '--maxlen',
      '8',
      '--batch',
      '8',
      '--units',
      '8',
      '--steps',
      '3',
      '--sample-length',
      '5',
    ],
    { encoding: 'utf8' },
  );
  assert.equal(tr.status, 0, tr.stderr);
  const ck = path.join(run, 'checkpoint.safetensors');
  const keep = path.join(dir, 'good.safetensors');
  copyFileSync(ck, keep);
  truncateSync(ck, Math.floor(statSync(ck).size / 2));
  let r = spawnSync(process.execPath, [CLI, 'text', 'train', '--out', run, '--resume', '--steps', '6'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /is not a readable Loom checkpoint/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  writeFileSync(ck, 'PK\x03\x04 a zip file, not a checkpoint');
  r = spawnSync(process.execPath, [CLI, 'text', 'train', '--out', run, '--resume', '--steps', '6'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /is not a readable Loom checkpoint/);
  assert.ok(existsSync(path.join(run, 'config.json')), 'the run folder is left as it was');
  copyFileSync(keep, ck);
  r = spawnSync(
    process.execPath,
    [CLI, 'text', 'train', '--out', run, '--resume', '--steps', '6', '--sample-length', '5'],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
});
