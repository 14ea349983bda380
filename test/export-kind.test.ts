// Export reads a run's kind from what the run recorded (its `system`), and still exports a
// checkpoint that recorded none (a run saved before, or a checkpoint file moved out of its folder).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TEXT_DEFAULTS, trainText } from '../src/models/text/index.js';
import { loadCheckpoint } from '../src/io/checkpoint.js';
import { exportRun, runKind } from '../src/export/index.js';
import { editMetadata } from './helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'loom-export-kind-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test("a run's kind is its recorded system; a checkpoint without one is still exported, by its tensors", async () => {
  const corpus = path.join(dir, 'corpus.txt');
  writeFileSync(corpus, 'the quick brown fox jumps over the lazy dog. '.repeat(40));
  const run = path.join(dir, 'run');
  const config = { ...TEXT_DEFAULTS, corpus, model: 'lstm', maxlen: 10, units: 8, batch: 8, steps: 2 } as const;
  await trainText({ ...config, sampleLength: 10 }, run, {});
  assert.equal(runKind(run), 'text');

  // A checkpoint whose config lacks `system`, away from its run's config.json: the old guess.
  const alone = path.join(dir, 'alone');
  mkdirSync(alone);
  const file = path.join(alone, 'old.safetensors');
  copyFileSync(path.join(run, 'checkpoint.safetensors'), file);
  {
    using ck = loadCheckpoint(file);
    assert.equal(ck.config.system, undefined);
  }
  assert.equal(runKind(file), 'text');
  const e = exportRun(file);
  assert.equal(e.kind, 'text');
  assert.equal(e.metadata['loom.kind'], 'text-lstm-step');

  // A system recorded in the checkpoint's config is what counts, not its tensors.
  editMetadata(file, (m) => {
    m.config = JSON.stringify({ ...JSON.parse(m.config), system: 'gan' });
  });
  assert.equal(runKind(file), 'gan');
  assert.throws(() => exportRun(file), /is not a GAN checkpoint/);

  // So is config.json's: a run of a system Loom does not export is refused in one sentence.
  const json = path.join(run, 'config.json');
  writeFileSync(json, JSON.stringify({ ...JSON.parse(readFileSync(json, 'utf8')), system: 'dream' }));
  assert.throws(() => runKind(run), /is not a run Loom can export \(a text, fast style, VAE or GAN run\)/);
});
