// The VAE: its loss against PyTorch, the grid's quantiles, training, pictures, memory, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import * as T from '../src/torch/index.js';
import { gaussianKL } from '../src/nn/index.js';
import { loadPth } from '../src/io/pth.js';
import {
  VAE,
  VAE_DEFAULTS,
  elboTerms,
  gridCoordinates,
  interpolate,
  normalQuantile,
  trainVae,
  type VaeTrainConfig,
} from '../src/models/vae/index.js';
import { assertClose, collectGarbage, fromEnc, golden, repoRoot, writtenBefore, mnistSlice } from './helpers.js';

const G = golden('vae.json');
const tmp = () => mkdtempSync(path.join(tmpdir(), 'loom-vae-'));
const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

test('the KL term matches its closed form', () => {
  const mean = T.tensor([
    [0.5, -1.0],
    [0, 0],
  ]);
  const logVar = T.tensor([
    [0.2, -0.4],
    [0, 0],
  ]);
  const kl = gaussianKL(mean, logVar, 'none').toFlatArray();
  const closed = (m: number[], lv: number[]) =>
    m.reduce((s, mi, i) => s + 0.5 * (Math.exp(lv[i]) + mi * mi - 1 - lv[i]), 0);
  assert.ok(Math.abs(kl[0] - closed([0.5, -1], [0.2, -0.4])) < 1e-6);
  assert.ok(Math.abs(kl[1]) < 1e-7, 'N(0, I) against itself');
});

test('the -ELBO terms of a fixed model match PyTorch (same weights, same eps)', () => {
  const m = new VAE({ channels: 1, height: 6, width: 6, latent: 3 });
  m.loadStateDict(loadPth(path.join(repoRoot, 'test', 'golden', 'vae_small.pth')));
  const x = fromEnc(G.x);
  const [mean, logVar] = m.encode(x);
  assertClose(mean, G.mean, 1e-5, 1e-4, 'z_mean');
  assertClose(logVar, G.log_var, 1e-5, 1e-4, 'z_log_var');
  const { rec, kl } = elboTerms(m, x, fromEnc(G.eps));
  assertClose(rec, { shape: [4], data: G.rec }, 1e-4, 1e-5, 'reconstruction nats');
  assertClose(kl, { shape: [4], data: G.kl }, 1e-5, 1e-4, 'KL nats');
  m.dispose();
});

test("the grid's latent points are the Gaussian quantiles of linspace(0.05, 0.95)", () => {
  const q = gridCoordinates(15);
  q.forEach((v, i) => assert.ok(Math.abs(v - G.grid_quantiles_15[i]) < 1e-9, `${v} vs ${G.grid_quantiles_15[i]}`));
  assert.ok(Math.abs(normalQuantile(0.975) - 1.959963984540054) < 1e-12);
  const mid = interpolate([1, 0], [0, 1], 3, true)[1];
  assert.ok(Math.abs(Math.hypot(...mid) - 1) < 1e-12, 'slerp keeps the norm');
  assert.deepEqual(interpolate([0, 0], [2, 4], 3, false)[1], [1, 2]);
});

const small = (over: Partial<VaeTrainConfig>): VaeTrainConfig => ({ ...VAE_DEFAULTS, batch: 32, logEvery: 5, ...over });

test('a few epochs on a small slice of MNIST lower the test -ELBO; the live tensor count stays flat per step', async () => {
  const data = mnistSlice(1200);
  await collectGarbage(); // so that finalizers of earlier tests' garbage do not move the count
  const counts: number[] = [];
  const epochs: number[] = [];
  const run = path.join(tmp(), 'run');
  await trainVae(
    small({ data, epochs: 3, logEvery: 1 }),
    run,
    {},
    {
      onStep: () => counts.push(T.liveTensors().undisposed),
      onEpoch: (e) => epochs.push(e.test_elbo_nats),
    },
  );
  assert.equal(epochs.length, 3);
  assert.ok(epochs[2] < epochs[0] - 5, `test -ELBO fell: ${epochs.map((e) => e.toFixed(1)).join(' -> ')}`);
  assert.equal(counts[counts.length - 1], counts[4], 'no leak per step');
  // The curves of the three test figures per epoch, as a chart.
  assert.equal((await sharp(path.join(run, 'curves.png')).metadata()).format, 'png');
});

test('every vae command writes a valid image of the expected size; eval prints nats', async () => {
  const run = path.join(tmp(), 'run');
  const data = mnistSlice(300);
  const tr = spawnSync(
    process.execPath,
    // The book's constant rate: nine steps of the default's warm-up would leave the decoder untrained.
    [
      CLI,
      'vae',
      'train',
      '--data',
      data,
      '--out',
      run,
      '--epochs',
      '1',
      '--batch',
      '32',
      '--recipe',
      'keras',
      '--log-every',
      '2',
      '--json',
    ],
    { encoding: 'utf8' },
  );
  assert.equal(tr.status, 0, tr.stderr);
  const lines = tr.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const step = lines.find((l) => 'images_per_sec' in l);
  for (const k of ['step', 'loss', 'ms_per_step', 'images_per_sec']) assert.ok(k in step, k);
  const ep = lines.find((l) => 'test_elbo_nats' in l);
  for (const k of ['epoch', 'test_elbo_nats', 'test_rec_nats', 'test_kl_nats']) assert.ok(k in ep, k);
  const out = tmp();
  const cases: [string[], string, number, number, number?][] = [
    [['grid', run, '--size', '5'], 'grid.png', 140, 140],
    [['sample', run, '--count', '9'], 'sample.png', 88, 88],
    [['interpolate', run, '0', '1', '--steps', '4'], 'walk.png', 118, 28],
    [['interpolate', run, '0', '1', '--steps', '4', '--slerp'], 'walk.gif', 28, 28, 6],
    [['concept', run, '--from', '1', '--to', '0', '--apply', '2', '--strengths', '-1,0,1'], 'concept.png', 118, 28],
  ];
  for (const [args, file, w, h, pages] of cases) {
    const f = path.join(out, file);
    const r = spawnSync(process.execPath, [CLI, 'vae', ...args, '--out', f], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    const meta = await sharp(f, { animated: true }).metadata();
    assert.equal(meta.width, w, `${file} width`);
    assert.equal(meta.pageHeight ?? meta.height, h, `${file} height`);
    if (pages) assert.equal(meta.pages, pages, `${file} frames`);
  }
  // The latent scatter is a chart: a 480-pixel square plot with axes and a legend, at double density.
  const scatter = spawnSync(process.execPath, [CLI, 'vae', 'scatter', run, '--out', path.join(out, 'scatter.png')], {
    encoding: 'utf8',
  });
  assert.equal(scatter.status, 0, scatter.stderr);
  const sm = await sharp(path.join(out, 'scatter.png')).metadata();
  assert.ok(sm.width! > 960 && sm.height! > 960, `scatter ${sm.width}x${sm.height}`);
  // A folder (ending in a slash) gets one 28x28 PNG per sample.
  const each = path.join(out, 'each') + path.sep;
  const r = spawnSync(process.execPath, [CLI, 'vae', 'sample', run, '--count', '4', '--out', each], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readdirSync(each).filter((f) => /^sample-0000[1-4]\.png$/.test(f)).length, 4);
  assert.equal((await sharp(path.join(each, 'sample-00004.png')).metadata()).width, 28);
  const ev = spawnSync(process.execPath, [CLI, 'vae', 'eval', run, '--iw-samples', '5', '--limit', '20', '--json'], {
    encoding: 'utf8',
  });
  assert.equal(ev.status, 0, ev.stderr);
  const e = JSON.parse(ev.stdout);
  assert.ok(e.test_iw_nll_nats > 0 && e.test_elbo_nats > 0);
});

test('bad data and bad options get one clear sentence and exit code 2', () => {
  const dir = tmp();
  writeFileSync(path.join(dir, 'junk-images'), 'not an idx file');
  const cases: [string[], RegExp][] = [
    [['train', '--data', path.join(dir, 'missing')], /no such file or folder/],
    [['train', '--data', path.join(dir, 'junk-images')], /not an idx file/],
    [['train', '--data', 'builtin:cifar'], /unknown built-in data set/],
    [['train', '--latent', '0'], /--latent must be a whole number >= 1/],
    [['train', '--loss', 'mse'], /--loss must be elbo or keras/],
    [['grid', path.join(dir, 'missing-run'), '--out', path.join(dir, 'g.png')], /cannot read checkpoint/],
    [['sample', path.join(dir, 'junk-images'), '--out', path.join(dir, 's.png')], /not a readable Loom checkpoint/],
  ];
  for (const [args, re] of cases) {
    const out = path.join(dir, 'out-' + Math.random().toString(36).slice(2));
    const r = spawnSync(process.execPath, [CLI, 'vae', ...args, ...(args[0] === 'train' ? ['--out', out] : [])], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.ok(!existsSync(out));
  }
});

test("two epochs equal one epoch resumed for one more at the keras recipe's constant rate (weights identical)", async () => {
  const data = mnistSlice(320);
  const full = path.join(tmp(), 'full');
  const half = path.join(tmp(), 'half');
  // A schedule that falls to 0 where the run ends cannot match a run with another end.
  const keras = { recipe: 'keras' as const };
  await trainVae(small({ data, epochs: 2, ...keras }), full, {});
  await trainVae(small({ data, epochs: 1, ...keras }), half, {});
  await trainVae(small({ data, epochs: 2, ...keras }), half, { resume: true });
  const { loadVae } = await import('../src/models/vae/index.js');
  const a = loadVae(full).model.stateDict();
  const b = loadVae(half).model.stateDict();
  for (const [k, t] of a) assert.deepEqual(b.get(k)!.toFlatArray(), t.toFlatArray(), k);
});

test("a run saved as recipe 'seed', loss 'seed' (the keras recipe's former name) resumes exactly, from the library and from the CLI's --recipe seed --loss seed", async () => {
  const data = mnistSlice(320);
  const keras = { recipe: 'keras' as const, loss: 'keras' as const };
  const full = path.join(tmp(), 'full');
  await trainVae(small({ data, epochs: 2, ...keras }), full, {});
  const { loadVae } = await import('../src/models/vae/index.js');
  const a = loadVae(full).model.stateDict();
  for (const how of ['library', 'cli']) {
    const half = path.join(tmp(), 'half');
    await trainVae(small({ data, epochs: 1, ...keras }), half, {});
    writtenBefore(half, { recipe: 'seed', loss: 'seed' });
    if (how === 'library') await trainVae(small({ data, epochs: 2, ...keras }), half, { resume: true });
    else {
      const args = ['--data', data, '--out', half, '--epochs', '2', '--batch', '32', '--log-every', '5'];
      const r = spawnSync(
        process.execPath,
        [CLI, 'vae', 'train', ...args, '--recipe', 'seed', '--loss', 'seed', '--resume', '--json'],
        { encoding: 'utf8' },
      );
      assert.equal(r.status, 0, r.stderr);
      // The old spelling names the run's own recipe and loss: nothing the resumed run ignores.
      assert.doesNotMatch(r.stderr, /does not apply/);
    }
    const b = loadVae(half).model.stateDict();
    for (const [k, t] of a) assert.deepEqual(b.get(k)!.toFlatArray(), t.toFlatArray(), `${how}: ${k}`);
  }
});

test('a run stopped mid-way resumes exactly under the default recipe (its rate is a function of the step)', async () => {
  const data = mnistSlice(320);
  const full = path.join(tmp(), 'full');
  const half = path.join(tmp(), 'half');
  const cfg = small({ data, epochs: 2, warmup: 3, logEvery: 1 });
  await trainVae(cfg, full, {});
  let steps = 0;
  await trainVae(cfg, half, {}, { onStep: () => steps++, shouldStop: () => steps >= 7 });
  assert.equal(steps, 7);
  await trainVae(cfg, half, { resume: true });
  const { loadVae } = await import('../src/models/vae/index.js');
  const a = loadVae(full).model.stateDict();
  const b = loadVae(half).model.stateDict();
  for (const [k, t] of a) assert.deepEqual(b.get(k)!.toFlatArray(), t.toFlatArray(), k);
});

test('the default recipe warms the rate up, holds --lr, then anneals it linearly to 0 over the last 20%; --recipe keras keeps it', async () => {
  const lrs: number[] = [];
  const cfg = small({ data: mnistSlice(200), epochs: 2, logEvery: 1, warmup: 4 }); // the default recipe
  await trainVae(cfg, path.join(tmp(), 'run'), {}, { onStep: (l) => lrs.push(l.lr) });
  const total = lrs.length;
  assert.ok(total >= 10, `${total} steps`);
  lrs.forEach((lr, i) => {
    const p = i / total; // the rate step i + 1 used
    const want = (p <= 0.8 ? 1e-3 : (1e-3 * (1 - p)) / 0.2) * Math.min(1, (i + 1) / 4);
    assert.ok(Math.abs(lr - want) < 1e-12, `step ${i + 1}: ${lr}, not ${want}`);
  });
  assert.ok(lrs.at(-1)! < 1e-3 / 2, 'the last steps run at a fraction of the rate');
  const kerasLrs: number[] = [];
  const keras = { ...cfg, recipe: 'keras' as const, warmup: null };
  await trainVae(keras, path.join(tmp(), 'keras'), {}, { onStep: (l) => kerasLrs.push(l.lr) });
  assert.deepEqual(new Set(kerasLrs), new Set([1e-3]));
});

test('--schedule cosine takes the rate from --lr down to 0 along half a cosine over the run', async () => {
  const lrs: number[] = [];
  const cfg = small({ data: mnistSlice(200), epochs: 2, logEvery: 1, schedule: 'cosine', warmup: 0 });
  await trainVae(cfg, path.join(tmp(), 'run'), {}, { onStep: (l) => lrs.push(l.lr) });
  const total = lrs.length; // every step is logged
  assert.ok(total >= 8, `${total} steps`);
  lrs.forEach((lr, i) => {
    const want = 1e-3 * 0.5 * (1 + Math.cos((Math.PI * i) / total)); // the rate step i + 1 used
    assert.ok(Math.abs(lr - want) < 1e-12, `step ${i + 1}: ${lr}, not ${want}`);
  });
});
