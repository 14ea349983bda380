// --precision: settling fp32, bf16 and auto, and a transformer trained under bf16 autocast.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import { loadCheckpoint } from '../src/io/checkpoint.js';
import { TEXT_DEFAULTS, trainText, type TextTrainConfig } from '../src/models/text/index.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'loom-precision-'));
const TEXT = 'the quick brown fox jumps over the lazy dog. '.repeat(30);

test('--precision: fp32 as asked; bf16 refused in one sentence without bf16 units, where auto stays fp32', () => {
  assert.deepEqual(T.resolvePrecision('fp32', [8, 8, 8], true), { precision: 'fp32' });
  assert.throws(
    () => T.resolvePrecision('bf16', [8, 8, 8], false),
    /^Error: --precision bf16 needs a CPU with bfloat16 units[^.]*; use --precision fp32 or auto$/,
  );
  assert.equal(T.resolvePrecision('auto', [8, 8, 8], false).precision, 'fp32');
  assert.deepEqual(T.resolvePrecision('bf16', [8, 8, 8], true), { precision: 'bf16' });
  const auto = T.resolvePrecision('auto', [64, 32, 32], true);
  assert.ok(typeof auto.probe === 'object' && auto.probe.fp32Ms > 0 && auto.probe.bf16Ms > 0, 'auto times both');
  assert.equal(auto.precision, auto.probe.bf16Ms < auto.probe.fp32Ms ? 'bf16' : 'fp32');
});

test(
  'a transformer trained in bf16 learns, records its precision, and saves float32 weights',
  { skip: !T.bf16Supported() && 'no bf16 units on this CPU' },
  async () => {
    const corpus = path.join(tmp(), 'corpus.txt');
    writeFileSync(corpus, TEXT);
    const cfg: TextTrainConfig = {
      ...TEXT_DEFAULTS,
      corpus,
      model: 'gpt',
      merges: 0,
      layers: 2,
      embed: 32,
      heads: 2,
      block: 16,
      batch: 16,
      steps: 120,
      warmup: 5,
      lr: 5e-3,
      logEvery: 20,
      sampleLength: 0,
      valFraction: 0.1,
      precision: 'bf16',
    };
    const dir = tmp();
    const r = await trainText(cfg, dir, {});
    assert.ok(r.valBpc !== null && r.valBpc < 1, `held-out bpc ${r.valBpc}`);
    const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    assert.equal(config.precision, 'bf16');
    assert.equal(config.precisionUsed, 'bf16');
    using ck = loadCheckpoint(path.join(dir, 'checkpoint.safetensors'));
    const floating = [...ck.tensors.values()].filter((t) => T.isFloating(t.dtype));
    assert.ok(floating.length > 0);
    for (const t of floating) assert.equal(t.dtype, 'float32');
    assert.equal(T.isAutocastEnabled(), false);
  },
);
