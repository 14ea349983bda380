// The GAN: who learns when, the label and clipping tricks, learning on a toy set, resume,
// memory, bad data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  existsSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import * as T from '../src/torch/index.js';
import { SGD } from '../src/optim/index.js';
import {
  DcganDiscriminator,
  FD_SAMPLES,
  DcganGenerator,
  GanMonitor,
  GanTrainer,
  Judge,
  cyclingLabels,
  dcganSides,
  discriminatorLabels,
  drawImages,
  featuresOf,
  fixedLatents,
  frechetDistance,
  loadGenerator,
  trainGan,
  type GanTrainConfig,
} from '../src/models/gan/index.js';
import { imageGrid, writeOwned } from '../src/io/images.js';
import { assertClose, collectGarbage, fromEnc, golden, repoRoot, tinyGan, writtenBefore, type Enc } from './helpers.js';
import { RunFolder } from '../src/io/run-folder.js';
import { loadCheckpoint } from '../src/io/checkpoint.js';
import { loadSafetensors, saveSafetensors } from '../src/io/safetensors.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'loom-gan-'));
const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const tiny = (over: Partial<GanTrainConfig> = {}): GanTrainConfig =>
  tinyGan({ recipe: 'keras', size: 24, channels: 1, ...over });
const model = { latent: 4, channels: 1, height: 24, width: 24, dropout: 0.4, gFilters: 8, dFilters: 8 };
const snapshot = (ts: T.Tensor[]) => ts.map((t) => t.toFlatArray());

/** A folder of 24x24 grey images, each all dark (0.1) or all light (0.9). */
async function twoColours(n = 32, labelled = false): Promise<string> {
  const dir = tmp();
  const folder = (i: number) => path.join(dir, 'imgs', labelled ? (i % 2 ? 'light' : 'dark') : '');
  for (let i = 0; i < n; i++) {
    mkdirSync(folder(i), { recursive: true });
    await sharp(Buffer.alloc(24 * 24, i % 2 ? 230 : 25), { raw: { width: 24, height: 24, channels: 1 } })
      .png()
      .toFile(path.join(folder(i), `${i}.png`));
  }
  return path.join(dir, 'imgs');
}

for (const recipe of ['keras', 'dcgan', 'sngan'] as const)
  test(`${recipe}: the discriminator's weights do not change while the generator trains, and vice versa`, () => {
    T.manualSeed(0);
    const t = new GanTrainer(tiny({ recipe }), model);
    const real = T.rand([8, 1, 24, 24]).mul(2).sub(1);
    const g0 = snapshot(t.g.parameters());
    const d0 = snapshot(t.d.parameters());
    t.trainDiscriminator(real);
    assert.deepEqual(snapshot(t.g.parameters()), g0, 'G unchanged by the D update');
    assert.notDeepEqual(snapshot(t.d.parameters()), d0, 'D changed');
    const d1 = snapshot(t.d.parameters());
    t.trainGenerator(8);
    assert.deepEqual(snapshot(t.d.parameters()), d1, 'D unchanged by the G update');
    assert.notDeepEqual(snapshot(t.g.parameters()), g0, 'G changed');
    assert.ok(
      t.d.parameters().every((p) => p.requiresGrad),
      'D is trainable again afterwards',
    );
    t.dispose();
  });

test('a dcgan step inside an outer autocast region moves every parameter of both networks', () => {
  // The generated images are drawn without gradients first: cached bfloat16 copies of the
  // generator's weights from that pass must not stand in for them in its own update.
  T.manualSeed(0);
  const t = new GanTrainer(tiny({ recipe: 'dcgan' }), model);
  const real = T.rand([8, 1, 24, 24]).mul(2).sub(1);
  const [g0, d0] = [snapshot(t.g.parameters()), snapshot(t.d.parameters())];
  T.autocast('bfloat16', () => t.step(real));
  for (const [net, before] of [
    [t.g, g0],
    [t.d, d0],
  ] as const)
    net.parameters().forEach((p, i) => assert.notDeepEqual(p.toFlatArray(), before[i], `parameter ${i}`));
  t.dispose();
  real.dispose();
});

test('label noise and gradient clipping act as specified', () => {
  T.manualSeed(1);
  const labels = discriminatorLabels(500, 0.05).toFlatArray();
  const fake = labels.slice(0, 500);
  const real = labels.slice(500);
  assert.ok(
    fake.every((v) => v >= 1 && v < 1.05) && real.every((v) => v >= 0 && v < 0.05),
    'generated 1 + U[0, 0.05), real 0 + U[0, 0.05)',
  );
  assert.ok(Math.abs(real.reduce((a, b) => a + b, 0) / 500 - 0.025) < 0.005, 'the noise is uniform');
  const t = new GanTrainer(tiny({ clip: 1 }), model);
  assert.equal(t.optD.clip.clipValue, 1);
  assert.equal(t.optG.clip.clipValue, 1);
  t.dispose();
  // clipvalue clamps each gradient element before the update
  const p = T.tensor([0, 0], { requiresGrad: true });
  p.grad = T.tensor([5, -0.5]);
  new SGD([p], { lr: 1, clipValue: 1 }).step();
  assert.deepEqual(p.toFlatArray(), [-1, 0.5]);
});

test('a few hundred steps on a two-colour data set move the generated images toward the data; labels give a judge', async () => {
  const data = await twoColours(32, true);
  const dir = path.join(tmp(), 'run');
  const far = async () => {
    const g = loadGenerator(dir);
    // distance of each image's mean to the nearer colour (-0.8 or 0.8 in the tanh range)
    const means = T.noGrad(() =>
      T.tidy(() =>
        g
          .forward(T.randn([64, 4]))
          .mean({ dim: [1, 2, 3] })
          .toFlatArray(),
      ),
    );
    g.dispose();
    return means.reduce((s, m) => s + Math.min(Math.abs(m - 0.8), Math.abs(m + 0.8)), 0) / means.length;
  };
  await trainGan(tiny({ data, steps: 1, sampleEvery: 100 }), dir, {});
  const before = await far();
  await trainGan(tiny({ data, steps: 300, sampleEvery: 100, logEvery: 50 }), dir, { resume: true });
  const after = await far();
  assert.ok(after < before / 2, `distance to the data's colours: ${before.toFixed(3)} -> ${after.toFixed(3)}`);
  // The folders' labels (dark, light) train a judge: every sample check logs its figures, and
  // they are charted over the run.
  const judged = new RunFolder(dir).readMetrics().filter((m) => 'confident' in m);
  assert.deepEqual(
    judged.map((m) => m.step),
    [1, 100, 200, 300],
  );
  for (const m of judged) assert.ok(m.confident >= 0 && m.confident <= 1 && m.classes <= 2 && m.fd >= 0);
  assert.equal((await sharp(path.join(dir, 'quality.png')).metadata()).format, 'png');
});

test("a run saved as recipe 'seed' (the keras recipe's former name) loads, exports and resumes exactly, from the library and from the CLI's --recipe seed", async () => {
  const data = await twoColours(16);
  const full = path.join(tmp(), 'full');
  await trainGan(tiny({ data, steps: 8 }), full, {});
  const { loadCheckpoint } = await import('../src/io/checkpoint.js');
  const { exportRun } = await import('../src/export/index.js');
  const a = loadCheckpoint(path.join(full, 'checkpoint.safetensors'));
  for (const how of ['library', 'cli']) {
    const half = path.join(tmp(), 'half');
    await trainGan(tiny({ data, steps: 4 }), half, {});
    writtenBefore(half, { recipe: 'seed' });
    {
      using g = loadGenerator(half);
      assert.equal(g.constructor.name, 'Generator', "the keras recipe's generator");
      const e = exportRun(half);
      assert.equal(e.kind, 'gan');
    }
    if (how === 'library') await trainGan(tiny({ data, steps: 8 }), half, { resume: true });
    else {
      const r = spawnSync(
        process.execPath,
        [CLI, 'gan', 'train', '--data', data, '--out', half, '--steps', '8', '--recipe', 'seed', '--resume', '--json'],
        { encoding: 'utf8' },
      );
      assert.equal(r.status, 0, r.stderr);
      // The old spelling names the run's own recipe: nothing the resumed run ignores.
      assert.doesNotMatch(r.stderr, /does not apply/);
    }
    const b = loadCheckpoint(path.join(half, 'checkpoint.safetensors'));
    for (const [k, t] of a.tensors)
      if (k !== 'rng') assert.deepEqual(b.tensors.get(k)!.toFlatArray(), t.toFlatArray(), `${how}: ${k}`);
  }
});

for (const [recipe, labelled, augment] of [
  ['keras', false, false],
  ['dcgan', false, false],
  ['dcgan', true, false],
  ['sngan', false, false],
  ['sngan', false, true],
  ['clustered', false, false],
] as const)
  test(`${recipe}${labelled ? ', conditional' : ''}${augment ? ', --augment' : ''}: resume is exact (both networks, both optimizers, the average) and the live tensor count stays flat`, async () => {
    const data = await twoColours(16, labelled);
    const full = path.join(tmp(), 'full');
    const half = path.join(tmp(), 'half');
    await collectGarbage();
    const counts: number[] = [];
    const cfg = (steps: number) => tiny({ data, steps, recipe, augment, ...(recipe !== 'keras' ? { ema: 0.9 } : {}) });
    await trainGan(cfg(8), full, {}, { onStep: () => counts.push(T.liveTensors().undisposed) });
    assert.equal(counts[7], counts[2], 'no leak per step');
    await trainGan(cfg(4), half, {});
    await trainGan(cfg(8), half, { resume: true });
    const { loadCheckpoint } = await import('../src/io/checkpoint.js');
    const a = loadCheckpoint(path.join(full, 'checkpoint.safetensors'));
    const b = loadCheckpoint(path.join(half, 'checkpoint.safetensors'));
    assert.equal(
      a.tensors.has('module.average.fc.weight'),
      recipe !== 'keras',
      'the average is kept when there is one',
    );
    assert.equal(a.tensors.has('module.discriminator.embed.weight'), labelled, 'conditional on the class folders');
    assert.equal(
      a.tensors.has('module.discriminator.down0.weight_u'),
      recipe === 'sngan',
      "spectral norm's power-iteration vector is saved",
    );
    for (const [k, t] of a.tensors)
      if (k !== 'rng') assert.deepEqual(b.tensors.get(k)!.toFlatArray(), t.toFlatArray(), k);
    // The run's generator is its average when it kept one: that is what samples come from.
    using g = loadGenerator(full);
    const key = recipe !== 'keras' ? 'module.average.fc.weight' : 'module.generator.fc.weight';
    assert.deepEqual(g.fc.weight.toFlatArray(), a.tensors.get(key)!.toFlatArray());
  });

test('the monitor draws and scores the generator as `gan sample` does (eval mode), and leaves it in the mode it was in', async () => {
  T.manualSeed(5);
  using g = new DcganGenerator({ ...model, dropout: 0 });
  // A judge given (untrained: the figures need only be the same), so none is trained here.
  const judge = { net: new Judge(1, 24, 24, 2), accuracy: 0.5 };
  const images = T.keep(T.rand([40, 1, 24, 24]).mul(2).sub(1));
  const labels = T.keep(cyclingLabels(40, 2));
  const data = { images, labels, classes: ['a', 'b'], source: 'test', dispose: () => {} };
  const watch = { seed: 11, latent: 4, sampleEvery: 1, logEvery: 1, watchAfter: null };
  const monitor = await GanMonitor.create(watch, images, data, 0, judge);
  const running = () => snapshot([...g.namedBuffers()].map(([, t]) => t));
  try {
    for (const training of [true, false]) {
      g.train(training);
      const buffers = running();
      const log = await monitor.check(g, 1, { d: [], a: [] }, new RunFolder(tmp()));
      assert.ok(
        [...g.namedModules()].every(([, m]) => m.training === training),
        `back in ${training ? 'training' : 'eval'} mode`,
      );
      assert.deepEqual(running(), buffers, "drawing leaves batch norm's running statistics alone");
      // What `gan sample` draws from the monitor's latent points: a loaded generator is in eval mode.
      g.eval();
      const expected = path.join(tmp(), 'expected.png');
      await writeOwned(
        expected,
        T.noGrad(() => T.tidy(() => imageGrid(drawImages(g, fixedLatents(11, 64, 4), null), { cols: 8 }))),
      );
      assert.ok(
        (await sharp(log.samples).raw().toBuffer()).equals(await sharp(expected).raw().toBuffer()),
        "the monitor's picture is what sampling draws",
      );
      const fd = T.noGrad(() =>
        T.tidy(() =>
          frechetDistance(
            featuresOf(judge.net, images),
            featuresOf(judge.net, g.forward(fixedLatents(12, FD_SAMPLES, 4))),
          ),
        ),
      );
      assert.ok(Math.abs(log.fd! - fd) <= 1e-6 * Math.max(1, fd), `Fréchet distance ${log.fd} against ${fd}`);
      assert.equal(log.real_fd, null, 'too few images to score real ones beside the reference');
    }
  } finally {
    monitor.dispose();
    images.dispose();
    labels.dispose();
  }
});

test("the Fréchet distance's real images are spread over a folder sorted by class, and score near zero", async () => {
  T.manualSeed(6);
  using g = new DcganGenerator({ ...model, dropout: 0 });
  const judge = { net: new Judge(1, 24, 24, 2), accuracy: 0.5 };
  // 1,500 dark images then 1,500 bright ones, as a folder of two class folders loads.
  const n = 3000;
  const labels = T.tidy(() => T.cat([T.zeros([n / 2], { dtype: 'int64' }), T.ones([n / 2], { dtype: 'int64' })], 0));
  const images = T.tidy(() =>
    T.rand([n, 1, 24, 24])
      .mul(0.5)
      .add(labels.to('float32').view([n, 1, 1, 1]))
      .sub(0.75)
      .mul(2),
  );
  const data = { images, labels, classes: ['dark', 'bright'], source: 'test', dispose: () => {} };
  const watch = { seed: 11, latent: 4, sampleEvery: 1, logEvery: 1, watchAfter: null };
  const monitor = await GanMonitor.create(watch, images, data, 0, judge);
  try {
    const log = await monitor.check(g, 1, { d: [], a: [] }, new RunFolder(tmp()));
    const apart = T.noGrad(() =>
      T.tidy(() =>
        frechetDistance(
          featuresOf(judge.net, images.narrow(0, 0, 2000)),
          featuresOf(judge.net, images.narrow(0, 2000, 1000)),
        ),
      ),
    );
    assert.equal(typeof log.real_fd, 'number');
    // The first 2,000 against the next 1,000 would set mostly dark against only bright.
    assert.ok(log.real_fd! < 0.05 * apart, `real images score ${log.real_fd}; the data's halves in order ${apart}`);
  } finally {
    monitor.dispose();
    images.dispose();
    labels.dispose();
  }
});

test('dcgan networks are sized from the data: maps halve to 7 (28 px) or 4 (32 px); images in [-1, 1], one logit', () => {
  assert.deepEqual(dcganSides(28, 28), [
    [7, 7],
    [14, 14],
    [28, 28],
  ]);
  assert.deepEqual(dcganSides(32, 32), [
    [4, 4],
    [8, 8],
    [16, 16],
    [32, 32],
  ]);
  assert.throws(() => dcganSides(6, 6), /halve at least once to 4 or more, got 6x6/);
  for (const [side, channels] of [
    [28, 1],
    [32, 3],
  ]) {
    const m = { latent: 5, channels, height: side, width: side, dropout: 0, gFilters: 4, dFilters: 4 };
    using g = new DcganGenerator(m);
    using d = new DcganDiscriminator(m);
    const x = T.tidy(() => g.forward(T.randn([3, 5])));
    assert.deepEqual(x.shape, [3, channels, side, side]);
    assert.ok(T.tidy(() => x.abs().max().item()) <= 1);
    assert.deepEqual(
      T.tidy(() => d.forward(x).shape),
      [3, 1],
    );
    x.dispose();
  }
});

test('conditional dcgan networks match PyTorch: images and logits in training mode, and the gradients', () => {
  const G = golden('dcgan_conditional.json');
  const m = {
    latent: G.latent,
    channels: 1,
    height: 16,
    width: 16,
    dropout: 0,
    gFilters: G.gFilters,
    dFilters: G.dFilters,
    classNames: ['a', 'b', 'c', 'd'],
  };
  using g = new DcganGenerator(m);
  using d = new DcganDiscriminator(m);
  for (const [net, sd] of [
    [g, G.g],
    [d, G.d],
  ] as const) {
    const tensors = Object.fromEntries(Object.entries(sd as Record<string, Enc>).map(([k, e]) => [k, fromEnc(e)]));
    const r = net.loadStateDict(tensors, { strict: false });
    assert.deepEqual(r.unexpected, []);
    assert.ok(
      r.missing.every((k) => k.endsWith('num_batches_tracked')),
      `only batch counters are absent: ${r.missing}`,
    );
  }
  assert.equal(g.classes, 4);
  T.tidy(() => {
    const labels = T.tensor(G.labels, { dtype: 'int64' });
    const images = g.forward(fromEnc(G.z), labels);
    assertClose(images, G.images, 1e-5, 1e-4, 'images');
    const logits = d.forward(images.detach(), labels);
    assertClose(logits, G.logits, 1e-4, 1e-4, 'logits');
    logits.sum().backward();
    for (const [name, p] of d.namedParameters()) assertClose(p.grad, G.grads[name], 1e-4, 1e-3, `grad ${name}`);
    // Without labels a conditional generator draws every class in turn; its discriminator needs them.
    const cycled = g.forward(fromEnc(G.z), cyclingLabels(5, 4));
    assert.equal(g.forward(fromEnc(G.z)).sub(cycled).abs().max().item(), 0);
    assert.notEqual(images.sub(cycled).abs().max().item(), 0, 'the label changes the image');
    assert.throws(() => d.forward(images), /needs the labels/);
  });
});

test('dcgan on class folders is conditional: each class drawn on demand, a column per class, --label; --no-conditional is not', async () => {
  const data = await twoColours(32, true);
  const dir = path.join(tmp(), 'run');
  const cfg = tiny({ data, recipe: 'dcgan', steps: 200, sampleEvery: 200, logEvery: 50 });
  await trainGan(cfg, dir, {});
  {
    using g = loadGenerator(dir);
    assert.ok(g instanceof DcganGenerator);
    assert.deepEqual(g.config.classNames, ['dark', 'light']);
    // Asked for dark, it draws dark (-0.8 in the tanh range); asked for light, light.
    const mean = (label: number) =>
      T.noGrad(() =>
        T.tidy(() =>
          g
            .forward(T.randn([32, 4]), cyclingLabels(32, 2, label))
            .mean()
            .item(),
        ),
      );
    const [dark, light] = [mean(0), mean(1)];
    assert.ok(dark < -0.4 && light > 0.4, `dark ${dark.toFixed(2)}, light ${light.toFixed(2)}`);
  }
  // The picture: 8 fixed latent points (rows) x 2 classes (columns), 24 px with 2 px between.
  const grid = await sharp(path.join(dir, 'samples', 'step-000200.png')).metadata();
  assert.deepEqual([grid.width, grid.height], [2 * 24 + 2, 8 * 24 + 7 * 2]);
  const sample = (...args: string[]) =>
    spawnSync(process.execPath, [CLI, 'gan', 'sample', dir, '--count', '4', ...args], { encoding: 'utf8' });
  const out = path.join(tmp(), 'light.png');
  assert.equal(sample('--label', 'light', '--out', out).status, 0);
  const lightPng = await sharp(out).raw().toBuffer();
  assert.ok(lightPng.reduce((a, b) => a + b, 0) / lightPng.length > 160, 'the light class drawn alone');
  const bad = sample('--label', 'blue', '--out', path.join(tmp(), 'x.png'));
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr.trim(), "loom: unknown class 'blue'; this run's classes are dark, light");
  // The class names are kept with the weights: the run samples by name after its data has moved.
  renameSync(data, data + '-moved');
  {
    using g = loadGenerator(dir);
    assert.deepEqual(g.config.classNames, ['dark', 'light']);
  }
  const moved = sample('--label', 'light', '--out', path.join(tmp(), 'moved.png'));
  assert.equal(moved.status, 0, moved.stderr);
  // A run saved before they were kept names them from its data: gone, the run says so in a sentence.
  const file = path.join(dir, 'checkpoint.safetensors');
  const { tensors, metadata } = loadSafetensors(file);
  const extra = JSON.parse(metadata.extra) as Record<string, unknown>;
  delete extra.classNames;
  saveSafetensors(file, tensors, { ...metadata, extra: JSON.stringify(extra) });
  for (const t of tensors.values()) t.dispose();
  assert.throws(
    () => loadGenerator(dir),
    /^Error: cannot name the classes of .*: its generator draws 2, and its data .* now has 0$/,
  );
  renameSync(data + '-moved', data);
  const plain = path.join(tmp(), 'plain');
  await trainGan({ ...cfg, conditional: false, steps: 1 }, plain, {});
  using u = loadGenerator(plain);
  assert.equal((u as DcganGenerator).classes, 0);
  assert.equal(
    T.tidy(() => u.forward(T.randn([2, 4])).shape[0]),
    2,
  );
});

test('a run records conditional: false where it learned without labels; an older run that said true still loads, samples and resumes', async () => {
  const loose = await twoColours(16);
  const dir = path.join(tmp(), 'run');
  const cfg = tiny({ data: loose, recipe: 'dcgan', steps: 2, sampleEvery: 2 });
  await trainGan(cfg, dir, {});
  const config = path.join(dir, 'config.json');
  const checkpoint = path.join(dir, 'checkpoint.safetensors');
  const recorded = () => {
    using ck = loadCheckpoint(checkpoint);
    return [JSON.parse(readFileSync(config, 'utf8')).conditional, ck.config.conditional];
  };
  assert.deepEqual(recorded(), [false, false], 'loose images carry no labels');
  // Labelled data, but a recipe whose networks take none.
  const keras = path.join(tmp(), 'keras');
  await trainGan(tiny({ data: await twoColours(16, true), steps: 1 }), keras, {});
  assert.equal(JSON.parse(readFileSync(path.join(keras, 'config.json'), 'utf8')).conditional, false);

  // An older run said true in both places; meanwhile its data folder gained class folders, so
  // only the checkpoint's tensors still say its generator takes no label.
  writeFileSync(config, JSON.stringify({ ...JSON.parse(readFileSync(config, 'utf8')), conditional: true }));
  const st = loadSafetensors(checkpoint);
  const old = { ...JSON.parse(st.metadata.config), conditional: true };
  saveSafetensors(checkpoint, st.tensors, { ...st.metadata, config: JSON.stringify(old) });
  for (const t of st.tensors.values()) t.dispose();
  assert.deepEqual(recorded(), [true, true]);
  for (const c of ['dark', 'light']) mkdirSync(path.join(loose, c));
  {
    using g = loadGenerator(dir);
    assert.deepEqual([g.classes, g.classNames], [0, []]);
  }
  const drawn = path.join(tmp(), 'drawn.png');
  const r = spawnSync(process.execPath, [CLI, 'gan', 'sample', dir, '--count', '4', '--out', drawn], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  for (const c of ['dark', 'light']) rmSync(path.join(loose, c), { recursive: true });
  const resumed = await trainGan({ ...cfg, steps: 4 }, dir, { resume: true });
  assert.equal(resumed.steps, 4);
});

test('the CLI samples and walks; bad data and options get one clear sentence and exit code 2', async () => {
  const data = await twoColours(16);
  const run = path.join(tmp(), 'run');
  const common = [
    '--latent',
    '4',
    '--batch',
    '8',
    '--g-filters',
    '8',
    '--d-filters',
    '8',
    '--size',
    '24',
    '--channels',
    '1',
  ];
  let r = spawnSync(
    process.execPath,
    [
      CLI,
      'gan',
      'train',
      '--data',
      data,
      '--out',
      run,
      '--steps',
      '2',
      '--sample-every',
      '2',
      '--log-every',
      '1',
      '--json',
      ...common,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const step = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .find((l) => 'd_loss' in l);
  for (const k of ['step', 'd_loss', 'a_loss', 'ms_per_step']) assert.ok(k in step, k);
  const out = tmp();
  r = spawnSync(process.execPath, [CLI, 'gan', 'sample', run, '--count', '9', '--out', path.join(out, 's.png')], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal((await sharp(path.join(out, 's.png')).metadata()).width, 3 * 24 + 2 * 2);
  r = spawnSync(process.execPath, [CLI, 'gan', 'walk', run, '--frames', '6', '--out', path.join(out, 'w.gif')], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal((await sharp(path.join(out, 'w.gif'), { animated: true }).metadata()).pages, 6);
  // A folder gets one PNG per sample; a second run into it is refused, leaving them as they were.
  const folder = path.join(out, 'each') + path.sep;
  const sampleInto = (...more: string[]) =>
    spawnSync(process.execPath, [CLI, 'gan', 'sample', run, '--count', '3', '--out', folder, ...more], {
      encoding: 'utf8',
    });
  assert.equal(sampleInto().status, 0);
  const files = readdirSync(folder).sort();
  assert.deepEqual(files, ['sample-00001.png', 'sample-00002.png', 'sample-00003.png']);
  assert.equal((await sharp(path.join(folder, files[0])).metadata()).width, 24);
  const before = readFileSync(path.join(folder, files[0]));
  r = sampleInto('--seed', '9');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /already holds samples; choose another --out or add --force/);
  assert.deepEqual(readFileSync(path.join(folder, files[0])), before);
  assert.equal(sampleInto('--seed', '9', '--force').status, 0);
  assert.notDeepEqual(readFileSync(path.join(folder, files[0])), before, '--force replaces them');
  const cases: [string[], RegExp][] = [
    [['--data', path.join(out, 'missing')], /no such folder/],
    [['--data', 'cifar10:' + path.join(out, 'nope')], /cannot read CIFAR-10 folder/],
    [['--data', 'cifar10:' + out + ':zebra'], /unknown CIFAR-10 class 'zebra'/],
    [['--data', data, '--size', '16'], /--size must be a whole number >= 24/],
    [['--data', data, '--label-noise', '0.9'], /--label-noise must be in \[0, 0.5\)/],
  ];
  for (const [args, re] of cases) {
    const o = path.join(out, 'run-' + Math.random().toString(36).slice(2));
    const x = spawnSync(process.execPath, [CLI, 'gan', 'train', '--out', o, ...args], { encoding: 'utf8' });
    assert.equal(x.status, 2, `${args.join(' ')}: ${x.stderr}`);
    assert.match(x.stderr, re);
    assert.equal(x.stderr.trim().split('\n').length, 1);
    assert.ok(!existsSync(o));
  }
});

test('the Fréchet distance matches PyTorch, is ~0 for a set against itself, and a judge learns labels (and on one class counts only it)', async () => {
  const { frechetDistance, trainJudge, judgeScore } = await import('../src/models/gan/index.js');
  const { golden } = await import('./helpers.js');
  const g = golden('frechet.json');
  const f1 = T.tensor(g.f1.data, { shape: g.f1.shape, dtype: 'float64' });
  const f2 = T.tensor(g.f2.data, { shape: g.f2.shape, dtype: 'float64' });
  assert.ok(Math.abs(frechetDistance(f1, f2) - g.fd) < 1e-9 * (1 + g.fd), `${frechetDistance(f1, f2)} vs ${g.fd}`);
  assert.ok(Math.abs(frechetDistance(f1, f1)) < 1e-9);
  T.manualSeed(3);
  // Two classes, dark and light, alternating, with noise; the last 20 are held out.
  const classOf = Array.from({ length: 100 }, (_, i) => i % 2);
  const y = T.tensor(classOf, { dtype: 'int64' });
  const x = T.tensor(classOf, { dtype: 'float32' })
    .mul(1.6)
    .sub(0.8)
    .reshape([100, 1, 1, 1])
    .add(T.randn([100, 1, 24, 24]).mul(0.1));
  const part = (from: number, k: number) => ({ images: x.narrow(0, from, k), labels: y.narrow(0, from, k) });
  const { net, accuracy } = trainJudge(part(0, 80), part(80, 20), 2, { epochs: 10, batch: 16 });
  assert.equal(accuracy, 1, 'the held-out images are all classified');
  // The judge is sure of real images of both classes, of one class when shown only that one,
  // and of few images of flat grey, which is neither.
  assert.deepEqual(judgeScore(net, x), { confident: 1, classes: 2 });
  const light = T.full([10, 1, 24, 24], 0.8);
  assert.equal(judgeScore(net, light).classes, 1);
  assert.ok(judgeScore(net, T.zeros([10, 1, 24, 24])).confident < 1);
  // On one class it counts only the samples read as that class.
  assert.equal(judgeScore(net, light, 0.9, 1).confident, 1, 'light read as light');
  assert.equal(judgeScore(net, light, 0.9, 0).confident, 0, 'none read as dark');
  assert.equal(judgeScore(net, x, 0.9, 0).confident, 0.5, 'of both classes, the dark half');
  net.dispose();
});

test("a judge's weights do not depend on the run's thread count, so neither do scores against a cached one", async () => {
  const { trainJudge } = await import('../src/models/gan/index.js');
  const { loadBuiltin } = await import('../src/io/datasets.js');
  const digits = loadBuiltin('builtin:mnist', 'test');
  // Enough images that a convolution's sums split over threads (a few would run on one).
  const images = T.keep(T.tidy(() => digits.images.narrow(0, 0, 512).mul(2).sub(1)));
  const labels = T.keep(digits.labels.narrow(0, 0, 512));
  const before = T.getNumThreads();
  const weights = (threads: number) => {
    T.setNumThreads(threads);
    T.manualSeed(5);
    const { net } = trainJudge({ images, labels }, { images, labels }, 10, { epochs: 1 });
    const bytes = [...net.stateDict().values()].map((t) => Buffer.from((t.data() as Float32Array).buffer));
    net.dispose();
    return Buffer.concat(bytes);
  };
  try {
    assert.ok(weights(1).equals(weights(3)), 'the same bytes on 1 thread and on 3');
    assert.equal(T.getNumThreads(), 3, "the run's own count is given back");
  } finally {
    T.setNumThreads(before);
    images.dispose();
    labels.dispose();
    digits.dispose();
  }
});

test('a judge trained on rows of the images learns what one trained on a copy of those rows learns', async () => {
  const { trainJudge } = await import('../src/models/gan/index.js');
  T.manualSeed(8);
  const images = T.tidy(() => T.rand([60, 1, 24, 24]).mul(2).sub(1));
  const labels = T.tidy(() => cyclingLabels(60, 2));
  const rows = T.tensor([...Array(60).keys()].filter((i) => i % 3 !== 0).reverse(), { dtype: 'int64' });
  const copy = { images: images.indexSelect(0, rows), labels: labels.indexSelect(0, rows) };
  const weights = (train: Parameters<typeof trainJudge>[0]) => {
    T.manualSeed(5);
    const { net } = trainJudge(train, { images, labels }, 2, { epochs: 2, batch: 8 });
    const flat = [...net.stateDict().values()].flatMap((t) => [...(t.toFlatArray() as number[])]);
    net.dispose();
    return flat;
  };
  try {
    const byRows = weights({ images, labels, rows });
    assert.deepEqual(byRows, weights(copy));
    assert.notDeepEqual(byRows, weights({ images, labels }), 'the rows left out change what it learns');
  } finally {
    for (const t of [images, labels, rows, copy.images, copy.labels]) t.dispose();
  }
});

test('--rollback returns to the last good checkpoint with a halved discriminator rate, a bounded number of times', async () => {
  const data = await twoColours(16);
  const dir = path.join(tmp(), 'run');
  const warnings: string[] = [];
  // A fresh generator barely varies, so with the watch on from step 4 it reports collapse.
  const r = await trainGan(
    tiny({ data, steps: 10, sampleEvery: 2, watchAfter: 4, rollback: true }),
    dir,
    {},
    { onWarning: (w) => warnings.push(w) },
  );
  assert.equal(r.steps, 10, 'the run still finishes');
  assert.equal(r.rollbacks, 3, 'three rollbacks, then it goes on');
  assert.ok(warnings.some((w) => /mode collapse/.test(w)));
  assert.deepEqual(
    warnings
      .filter((w) => /rolled back/.test(w))
      .map((w) => w.match(/rate is now ([0-9.e-]+)/)![1])
      .map(Number),
    [4e-4, 2e-4, 1e-4],
  );
  assert.ok(warnings.some((w) => /did not help/.test(w)));
});
