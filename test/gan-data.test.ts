// The GAN's data beyond whole labelled sets: one class of a built-in set (its judge's share
// and Fréchet reference), a folder of colour pictures, one class of CIFAR-10.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import * as T from '../src/torch/index.js';
import {
  FD_SAMPLES,
  GAN_DEFAULTS,
  builtinJudge,
  conditionedClasses,
  featuresOf,
  fixedLatents,
  frechetDistance,
  judgeScore,
  labelledClasses,
  loadGanData,
  loadGenerator,
  recipeOf,
  referenceOrder,
  trainGan,
  type GanTrainConfig,
} from '../src/models/gan/index.js';
import { builtinClass, classSubset, loadBuiltin } from '../src/io/datasets.js';
import { RunFolder } from '../src/io/run-folder.js';
import { repoRoot, tinyGan } from './helpers.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'loom-gan-data-'));
const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const tiny = (over: Partial<GanTrainConfig>): GanTrainConfig => tinyGan({ steps: 2, ...over });
const cfg = (over: Partial<GanTrainConfig>): GanTrainConfig => ({ ...GAN_DEFAULTS, ...over });

test('one class of a built-in set, by name or number, is unlabelled data: the clustered recipe, never conditional on labels; an unknown class is one sentence', async () => {
  const sneaker = { set: 'builtin:fashion-mnist', index: 7, name: 'sneaker' };
  assert.deepEqual(builtinClass('builtin:fashion-mnist:sneaker'), sneaker);
  assert.deepEqual(builtinClass('builtin:fashion-mnist:7'), sneaker);
  assert.equal(builtinClass('builtin:fashion-mnist:ankle-boot')?.name, 'ankle boot');
  assert.equal(builtinClass('builtin:fashion-mnist:t-shirt')?.index, 0);
  assert.deepEqual(builtinClass('builtin:mnist:7'), { set: 'builtin:mnist', index: 7, name: '7' });
  assert.equal(builtinClass('builtin:mnist'), null);
  assert.equal(builtinClass('cifar10:/data/cifar:frog'), null);
  assert.throws(
    () => builtinClass('builtin:fashion-mnist:boot'),
    /^Error: unknown Fashion-MNIST class 'boot'; the classes are T-shirt, .*, ankle boot \(or their numbers 0-9\)$/,
  );
  assert.throws(
    () => builtinClass('builtin:mnist:10'),
    /^Error: unknown MNIST class '10'; the classes are 0, 1, 2, 3, 4, 5, 6, 7, 8, 9$/,
  );
  for (const data of ['builtin:mnist:7', 'builtin:fashion-mnist:sneaker']) {
    assert.equal(labelledClasses(data), null, data);
    assert.equal(recipeOf(cfg({ data })), 'clustered', `${data}: the unlabelled default`);
    assert.equal(conditionedClasses(cfg({ data, recipe: 'dcgan' })), null, `${data}: no conditional GAN`);
  }
  // Every image of the class from the training split, and only those; --limit keeps the first.
  const all = loadBuiltin('builtin:mnist', 'train');
  const sevens = all.labels.toFlatArray().filter((l) => l === 7).length;
  all.dispose();
  for (const [limit, n] of [
    [null, sevens],
    [50, 50],
  ] as const) {
    const ds = await loadGanData('builtin:mnist:7', { size: 32, channels: 1, limit });
    assert.equal(ds.images.size(0), n);
    assert.ok(ds.labels.toFlatArray().every((l) => l === 7));
    ds.dispose();
  }
  const out = path.join(tmp(), 'run');
  const r = spawnSync(process.execPath, [CLI, 'gan', 'train', '--data', 'builtin:mnist:seven', '--out', out], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim(), "loom: unknown MNIST class 'seven'; the classes are 0, 1, 2, 3, 4, 5, 6, 7, 8, 9");
  assert.ok(!existsSync(out));
});

test("on one class of MNIST the log's Fréchet distance is from that class's images, its share of samples read as that class", async () => {
  const dir = path.join(tmp(), 'run');
  await trainGan(tiny({ data: 'builtin:mnist:7' }), dir, {});
  const metrics = new RunFolder(dir).readMetrics();
  assert.match(String(metrics[0].quality), /classifies as 7 with probability >= 0.9/);
  const last = metrics.filter((m) => 'fd' in m).at(-1)!;
  assert.equal(last.judged_as, '7');
  assert.equal(last.classes, null, 'one class: no count of classes');
  // The figures again from the run's averaged generator, as the monitor draws them (in eval
  // mode, as loaded, 250 at a time), against the judge's features of 2,000 sevens in the
  // monitor's fixed order; the next 1,000 sevens give the distance real images score.
  const judge = (await builtinJudge('builtin:mnist'))!;
  const all = loadBuiltin('builtin:mnist', 'train');
  const sevens = classSubset(all, 7);
  using g = loadGenerator(dir);
  T.noGrad(() =>
    T.tidy(() => {
      const z = fixedLatents(GAN_DEFAULTS.seed + 1, FD_SAMPLES, 4);
      const generated = T.cat(
        Array.from({ length: FD_SAMPLES / 250 }, (_, i) => g.forward(z.narrow(0, i * 250, 250))),
        0,
      );
      const fake = featuresOf(judge.net, generated);
      const features = (d: typeof all, from: number, k: number) => {
        const order = referenceOrder(d.images.size(0)).slice(from, from + k);
        return featuresOf(
          judge.net,
          d.images
            .indexSelect(0, T.tensor(order, { dtype: 'int64' }))
            .mul(2)
            .sub(1),
        );
      };
      const reference = features(sevens, 0, 2000);
      const fd = frechetDistance(reference, fake);
      assert.ok(Math.abs(fd - last.fd) < 1e-6 * fd, `logged ${last.fd}, recomputed ${fd}`);
      const real = frechetDistance(reference, features(sevens, 2000, FD_SAMPLES));
      assert.ok(
        Math.abs(real - last.real_fd) < 1e-6 * real,
        `logged ${last.real_fd} for real images, recomputed ${real}`,
      );
      assert.ok(real < 0.2 * fd, `real sevens (${real}) score far nearer than a few steps' samples (${fd})`);
      const whole = frechetDistance(features(all, 0, 2000), fake);
      assert.ok(Math.abs(whole - fd) > 0.01 * fd, `against all digits it would be ${whole}`);
      assert.equal(judgeScore(judge.net, generated, 0.9, 7).confident, last.confident);
    }),
  );
  for (const x of [all, sevens, judge.net]) x.dispose();
});

test('a folder of 32x32 colour pictures trains with the unlabelled default (clustered) at --channels 3', async () => {
  const data = path.join(tmp(), 'colour');
  mkdirSync(data);
  for (let i = 0; i < 16; i++) {
    const rgb = Buffer.alloc(32 * 32 * 3);
    for (let p = 0; p < 32 * 32; p++) rgb.set([(i * 40) % 256, p % 256, 255 - ((i * 16) % 256)], p * 3);
    await sharp(rgb, { raw: { width: 32, height: 32, channels: 3 } })
      .png()
      .toFile(path.join(data, `${i}.png`));
  }
  const out = path.join(tmp(), 'run');
  const args = ['--latent', '4', '--batch', '8', '--g-filters', '8', '--d-filters', '8', '--log-every', '1'];
  const r = spawnSync(
    process.execPath,
    [CLI, 'gan', 'train', '--data', data, '--channels', '3', '--steps', '2', '--out', out, ...args],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const config = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8'));
  assert.equal(config.recipe, 'clustered');
  assert.deepEqual(config.imageShape, [3, 32, 32]);
  assert.ok(existsSync(path.join(out, 'checkpoint.safetensors')));
  const grid = await sharp(path.join(out, 'samples', 'step-000002.png')).metadata();
  assert.deepEqual([grid.width, grid.channels], [8 * 32 + 7 * 2, 3]);
  using g = loadGenerator(out);
  assert.deepEqual(
    T.tidy(() => g.forward(T.randn([2, 4])).shape),
    [2, 3, 32, 32],
  );
});

test('cifar10:<folder>:frog trains the default recipe on the frogs alone', async () => {
  // A binary batch of 40 records: frogs (class 6) all green, the others all red.
  const dir = tmp();
  const batch = Buffer.alloc(40 * 3073);
  for (let i = 0; i < 40; i++) {
    const frog = i % 2 === 0;
    batch[i * 3073] = frog ? 6 : 3;
    batch.fill(255, i * 3073 + 1 + (frog ? 1024 : 0), i * 3073 + 1 + (frog ? 2048 : 1024));
  }
  writeFileSync(path.join(dir, 'data_batch_1.bin'), batch);
  const out = path.join(tmp(), 'run');
  await trainGan(tiny({ data: `cifar10:${dir}:frog` }), out, {});
  const config = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8'));
  assert.equal(config.recipe, 'clustered');
  assert.deepEqual(config.imageShape, [3, 32, 32]);
  assert.ok(existsSync(path.join(out, 'checkpoint.safetensors')));
  assert.ok(existsSync(path.join(out, 'samples', 'step-000002.png')));
  // The real images shown are the 20 green frogs (between them, the grid's white).
  const { data, info } = await sharp(path.join(out, 'samples', 'real.png'))
    .raw()
    .toBuffer({ resolveWithObject: true });
  const pixels = { red: 0, green: 0 };
  for (let p = 0; p < data.length; p += info.channels) {
    if (data[p] === 255 && data[p + 1] === 0) pixels.red++;
    if (data[p] === 0 && data[p + 1] === 255) pixels.green++;
  }
  assert.deepEqual(pixels, { red: 0, green: 20 * 32 * 32 }, 'the frogs and nothing else');
  using g = loadGenerator(out);
  assert.equal(g.classes, 0, 'unconditional: too few frogs for two clusters');
  // A class as the built-in sets take it (any case, or its number) reads the same frogs;
  // an unknown one is one sentence.
  for (const cls of ['Frog', '6']) {
    assert.equal(labelledClasses(`cifar10:${dir}:${cls}`), null);
    const ds = await loadGanData(`cifar10:${dir}:${cls}`, { size: 32, channels: 3, limit: null });
    assert.equal(ds.images.size(0), 20, cls);
    ds.dispose();
  }
  await assert.rejects(
    loadGanData(`cifar10:${dir}:toad`, { size: 32, channels: 3, limit: null }),
    /^Error: unknown CIFAR-10 class 'toad'; the classes are airplane, /,
  );
});
