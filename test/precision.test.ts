// --precision: settling fp32, bf16 and auto; every trainer, dream and Gatys style under bf16 autocast.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import { loadCheckpoint } from '../src/io/checkpoint.js';
import { writeImage } from '../src/io/images.js';
import { TEXT_DEFAULTS, trainText, type TextTrainConfig } from '../src/models/text/index.js';
import { VAE_DEFAULTS, trainVae } from '../src/models/vae/index.js';
import { STYLE_DEFAULTS, trainFastStyle, transferStyle } from '../src/models/style/index.js';
import { DREAM_DEFAULTS, dream } from '../src/models/dream/index.js';
import { GAN_DEFAULTS, trainGan } from '../src/models/gan/index.js';
import { mnistSlice } from './helpers.js';
import { fastFixture, tinyInception, tinyVgg } from './small-models.js';

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

/** Every floating tensor of a run's checkpoint is float32. */
function assertFloat32Checkpoint(dir: string): void {
  using ck = loadCheckpoint(path.join(dir, 'checkpoint.safetensors'));
  const floating = [...ck.tensors.values()].filter((t) => T.isFloating(t.dtype));
  assert.ok(floating.length > 0);
  for (const t of floating) assert.equal(t.dtype, 'float32');
}

test(
  'a VAE in bf16: its first loss within 1% of float32, a test -ELBO near it at equal steps, bf16 recorded, float32 weights, a flat tensor count',
  { skip: !T.bf16Supported() && 'no bf16 units on this CPU' },
  async () => {
    const data = mnistSlice(640);
    const elbo: Record<string, number> = {};
    const first: Record<string, number> = {};
    for (const precision of ['fp32', 'bf16'] as const) {
      const dir = tmp();
      const counts: number[] = [];
      await trainVae(
        { ...VAE_DEFAULTS, data, batch: 32, epochs: 2, logEvery: 1, precision },
        dir,
        {},
        {
          onStep: (l) => {
            first[precision] ??= l.loss;
            counts.push(T.liveTensors().undisposed);
          },
          onEpoch: (e) => void (elbo[precision] = e.test_elbo_nats),
        },
      );
      assert.equal(counts.at(-1), counts[4], `no leak per step in ${precision}`);
      assert.equal(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')).precisionUsed, precision);
      assertFloat32Checkpoint(dir);
    }
    // The same weights and batch at the first step; after 40 steps the two runs' paths have
    // parted (bf16 scored 4% better here), so the end is held to 10%.
    assert.ok(Math.abs(first.bf16 - first.fp32) < 0.01 * first.fp32, `first loss ${first.bf16} vs ${first.fp32}`);
    assert.ok(Math.abs(elbo.bf16 - elbo.fp32) < 0.1 * elbo.fp32, `test -ELBO ${elbo.bf16} vs ${elbo.fp32}`);
    assert.equal(T.isAutocastEnabled(), false);
  },
);

test(
  'fast style trains in bf16 with finite losses near float32, records bf16, keeps float32 weights and a flat tensor count',
  { skip: !T.bf16Supported() && 'no bf16 units on this CPU' },
  async () => {
    const dir = tmp();
    const backbone = tinyVgg();
    const cfg = {
      ...(await fastFixture(dir, 3, 50)),
      steps: 8,
      batch: 2,
      width: 4,
      residualBlocks: 1,
      sampleEvery: 100,
    };
    const first: Record<string, number> = {};
    for (const precision of ['fp32', 'bf16'] as const) {
      const run = path.join(dir, precision);
      const counts: number[] = [];
      const losses: number[] = [];
      await trainFastStyle(
        backbone,
        { ...cfg, precision },
        run,
        {},
        {
          onStep: (l) => {
            losses.push(l.loss);
            counts.push(T.liveTensors().undisposed);
          },
        },
      );
      assert.ok(losses.every(Number.isFinite), `${precision} losses ${losses}`);
      first[precision] = losses[0];
      assert.equal(counts.at(-1), counts[2], `no leak per step in ${precision}`);
      assert.equal(JSON.parse(readFileSync(path.join(run, 'config.json'), 'utf8')).precisionUsed, precision);
      assertFloat32Checkpoint(run);
    }
    // The same weights and crops at the first step: bf16's products move the loss by under 2%.
    assert.ok(Math.abs(first.bf16 - first.fp32) < 0.02 * first.fp32, `first loss ${first.bf16} vs ${first.fp32}`);
    backbone.net.dispose();
  },
);

test(
  "dream and Gatys style in bf16: dream's first loss within 2% of float32, Gatys' last within 15%, flat tensor counts",
  { skip: !T.bf16Supported() && 'no bf16 units on this CPU' },
  async () => {
    const inception = tinyInception();
    T.manualSeed(4);
    const img = T.rand([1, 3, 96, 96]);
    const dreamLosses: Record<string, number[]> = {};
    for (const precision of ['fp32', 'bf16'] as const) {
      const losses: number[] = [];
      const cfg = { ...DREAM_DEFAULTS, octaves: 1, steps: 4, jitter: 0, maxLoss: null, precision };
      (await dream(inception, img, cfg)).dispose();
      const live = T.liveTensors().undisposed;
      (await dream(inception, img, cfg, { onStep: (s) => void losses.push(s.loss) })).dispose();
      assert.equal(T.liveTensors().undisposed, live, `a ${precision} dream leaves nothing behind`);
      dreamLosses[precision] = losses;
    }
    const [d32, d16] = [dreamLosses.fp32[0], dreamLosses.bf16[0]];
    assert.ok(Math.abs(d16 - d32) < 0.02 * d32, `dream's first loss ${d16} vs ${d32}`);
    inception.net.dispose();

    const vgg = tinyVgg();
    const style = T.rand([1, 3, 40, 40]);
    const styleLosses: Record<string, number[]> = {};
    for (const precision of ['fp32', 'bf16'] as const) {
      const losses: number[] = [];
      const counts: number[] = [];
      const cfg = {
        ...STYLE_DEFAULTS,
        height: 40,
        iterations: 13,
        maxEvals: 2,
        contentLayer: 'block2_conv1',
        styleLayers: ['block1_conv1', 'block2_conv1'],
        precision,
      };
      const out = await transferStyle(vgg, img, [{ image: style, weight: 1 }], cfg, {
        onIteration: (it) => {
          losses.push(it.loss);
          counts.push(T.liveTensors().undisposed);
        },
      });
      out.dispose();
      // L-BFGS keeps up to 10 pairs of history, one more each step here: full from the 11th.
      assert.equal(counts[12], counts[11], `live tensors per ${precision} iteration: ${counts}`);
      assert.ok(losses[12] < losses[0], `${precision} Gatys lowers its loss: ${losses}`);
      styleLosses[precision] = losses;
    }
    // L-BFGS's line search takes another path from bf16's gradients (the first step's loss
    // differs by half here); where the paths end is what counts.
    const [s32, s16] = [styleLosses.fp32.at(-1)!, styleLosses.bf16.at(-1)!];
    assert.ok(Math.abs(s16 - s32) < 0.15 * s32, `Gatys' loss after 13 iterations ${s16} vs ${s32}`);
    assert.equal(T.isAutocastEnabled(), false);
    for (const t of [img, style]) t.dispose();
    vgg.net.dispose();
  },
);

test(
  'a GAN in bf16: its first losses within 2% of float32, bf16 recorded, float32 weights, a flat tensor count',
  { skip: !T.bf16Supported() && 'no bf16 units on this CPU' },
  async () => {
    // A folder of 16 random grey pictures: unlabelled, so the default recipe would be sngan.
    const data = path.join(tmp(), 'pictures');
    mkdirSync(data);
    T.manualSeed(6);
    for (let i = 0; i < 16; i++) await writeImage(path.join(data, `p${i}.png`), T.rand([1, 1, 24, 24]));
    const first: Record<string, [number, number]> = {};
    for (const precision of ['fp32', 'bf16'] as const) {
      const dir = tmp();
      const counts: number[] = [];
      await trainGan(
        {
          ...GAN_DEFAULTS,
          data,
          recipe: 'dcgan',
          size: 24,
          channels: 1,
          latent: 8,
          batch: 8,
          steps: 8,
          gFilters: 8,
          dFilters: 8,
          sampleEvery: 100,
          logEvery: 1,
          precision,
        },
        dir,
        {},
        {
          onStep: (l) => {
            first[precision] ??= [l.d_loss, l.a_loss];
            counts.push(T.liveTensors().undisposed);
          },
        },
      );
      assert.equal(counts.at(-1), counts[3], `no leak per step in ${precision}`);
      assert.equal(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')).precisionUsed, precision);
      assertFloat32Checkpoint(dir);
    }
    first.fp32.forEach((x, i) =>
      assert.ok(Math.abs(first.bf16[i] - x) < 0.02 * Math.abs(x), `first losses ${first.bf16} vs ${first.fp32}`),
    );
    assert.equal(T.isAutocastEnabled(), false);
  },
);

test('--precision auto: a resumed run goes on in what it started in, without probing again', async () => {
  const corpus = path.join(tmp(), 'corpus.txt');
  writeFileSync(corpus, TEXT);
  const cfg: TextTrainConfig = {
    ...TEXT_DEFAULTS,
    corpus,
    model: 'gpt',
    merges: 0,
    layers: 1,
    embed: 16,
    heads: 2,
    block: 8,
    batch: 4,
    steps: 2,
    logEvery: 1,
    sampleLength: 0,
    precision: 'auto',
  };
  const dir = tmp();
  await trainText(cfg, dir, {});
  const configFile = path.join(dir, 'config.json');
  // Whatever the probe chose at the start, the run's record is what resume follows.
  const kept: ('fp32' | 'bf16')[] = T.bf16Supported() ? ['fp32', 'bf16'] : ['fp32'];
  let steps = cfg.steps!;
  for (const startedIn of kept) {
    const config = JSON.parse(readFileSync(configFile, 'utf8'));
    writeFileSync(configFile, JSON.stringify({ ...config, precisionUsed: startedIn }));
    steps += 1;
    let used: string | undefined;
    await trainText({ ...cfg, steps }, dir, { resume: true }, { onStart: (s) => (used = s.precision) });
    assert.equal(used, startedIn);
  }
});
