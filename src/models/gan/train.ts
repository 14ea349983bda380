// The seed's GAN loop: train the discriminator on generated (label 1) and real (label 0)
// images with noisy labels, then the generator through the frozen discriminator toward
// "real"; both with RMSprop and gradient values clipped to 1. Fixed latent points give one
// picture per checkpoint; the two failures the seed warns about are watched.
import { copyFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import * as T from '../../torch/index.js';
import { Tensor, noGrad, tidy } from '../../torch/index.js';
import { RMSprop } from '../../optim/index.js';
import { binaryCrossEntropyWithLogits } from '../../nn/index.js';
import { RunFolder } from '../../io/run-folder.js';
import { loadCheckpoint, restoreCheckpoint, saveCheckpoint } from '../../io/checkpoint.js';
import { DataLoader } from '../../io/loader.js';
import { Rng } from '../../io/random.js';
import { imageGrid, writeOwned } from '../../io/images.js';
import { linePlot } from '../../io/plot.js';
import { loadBuiltin, loadCifarBinary, loadCifarPython, loadImageFolder, sliceDataset, CIFAR_CLASSES, type ImageDataset } from '../../io/datasets.js';
import { Discriminator, Generator, type GanConfig } from './model.js';
import { featuresOf, frechetDistance, trainFeatureNet } from './quality.js';
import { inRange, positiveNumber, wholeNumber } from '../checks.js';

export interface GanTrainConfig {
  data: string;
  latent: number;
  batch: number;
  steps: number;
  dLr: number;
  gLr: number;
  clip: number;
  labelNoise: number;
  dropout: number;
  gFilters: number;
  dFilters: number;
  sampleEvery: number;
  logEvery: number;
  rollback: boolean;
  /** First step at which the failure watch speaks (null: max(500, 5 * sampleEvery)). */
  watchAfter: number | null;
  seed: number;
  size: number;
  channels: 1 | 3;
  limit: number | null;
  minutes: number | null;
}

export const GAN_DEFAULTS: GanTrainConfig = {
  data: 'builtin:mnist',
  latent: 32,
  batch: 20,
  steps: 10000,
  dLr: 8e-4,
  gLr: 4e-4,
  clip: 1,
  labelNoise: 0.05,
  dropout: 0.4,
  gFilters: 256,
  dFilters: 128,
  sampleEvery: 100,
  logEvery: 20,
  rollback: false,
  watchAfter: null,
  seed: 0,
  size: 32,
  channels: 3,
  limit: null,
  minutes: null,
};

export function validateGanConfig(c: GanTrainConfig): void {
  wholeNumber('latent', c.latent, 1);
  wholeNumber('batch', c.batch, 1);
  wholeNumber('steps', c.steps, 1);
  wholeNumber('sample-every', c.sampleEvery, 1);
  wholeNumber('log-every', c.logEvery, 1);
  wholeNumber('seed', c.seed, 0);
  wholeNumber('size', c.size, 24);
  wholeNumber('g-filters', c.gFilters, 2);
  wholeNumber('d-filters', c.dFilters, 1);
  if (c.gFilters % 2) throw new Error(`--g-filters must be even, got ${c.gFilters}`);
  if (c.limit !== null) wholeNumber('limit', c.limit, 1);
  if (c.watchAfter !== null && c.watchAfter !== undefined) wholeNumber('watch-after', c.watchAfter, 0);
  positiveNumber('d-lr', c.dLr);
  positiveNumber('g-lr', c.gLr);
  if (!(c.clip >= 0)) throw new Error(`--clip must be a number >= 0 (0: off), got ${c.clip}`);
  inRange('label-noise', c.labelNoise, 0, 0.5);
  inRange('dropout', c.dropout, 0, 1);
  if (c.minutes !== null) positiveNumber('minutes', c.minutes);
}

/**
 * builtin:mnist / builtin:fashion-mnist (training split), cifar10:<folder>[:<class>] (binary
 * or Python batches), or a folder of images (resized to --size, with --channels).
 */
export async function loadGanData(spec: string, c: { size: number; channels: 1 | 3; limit: number | null }): Promise<ImageDataset> {
  let ds: ImageDataset;
  if (spec.startsWith('builtin:')) ds = loadBuiltin(spec, 'train');
  else if (spec.startsWith('cifar10:')) {
    const [, dir, cls] = spec.match(/^cifar10:(.+?)(?::([a-z]+|\d))?$/) ?? [];
    if (!dir || !existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`cannot read CIFAR-10 folder ${dir ?? spec}: no such folder`);
    const only = cls === undefined ? undefined : [/^\d$/.test(cls) ? Number(cls) : CIFAR_CLASSES.indexOf(cls)];
    if (only && only[0] < 0) throw new Error(`unknown CIFAR-10 class '${cls}'; the classes are ${CIFAR_CLASSES.join(', ')}`);
    const files = readdirSync(dir).sort();
    const bins = files.filter((f) => /^data_batch_\d+\.bin$/.test(f)).map((f) => path.join(dir, f));
    const pys = files.filter((f) => /^data_batch_\d+$/.test(f)).map((f) => path.join(dir, f));
    if (bins.length) ds = loadCifarBinary(bins, only);
    else if (pys.length) ds = loadCifarPython(pys, only);
    else throw new Error(`${dir} holds no CIFAR-10 batches (data_batch_N.bin or data_batch_N)`);
  } else {
    ds = await loadImageFolder(spec, { size: [c.size, c.size], channels: c.channels });
  }
  if (c.limit !== null && ds.images.size(0) > c.limit) {
    const part = sliceDataset(ds, 0, c.limit);
    ds.dispose();
    ds = part;
  }
  return ds;
}

/** Rollbacks to one good checkpoint before the watch stops rolling back. */
const MAX_RETRIES = 3;

/** Generated images scored for the quality figure at each sample step. */
const FD_SAMPLES = 256;

/** Gaussian latent points from a seed, drawn in JS so they never touch training's RNG. */
export function fixedLatents(seed: number, count: number, latent: number): Tensor {
  const rng = new Rng(seed, 0x1a7e);
  const z = new Float32Array(count * latent);
  for (let i = 0; i < z.length; i++) z[i] = rng.gaussian();
  return T.tensor(z, { shape: [count, latent] });
}

/** The seed's labels: 1 for generated images, 0 for real ones, plus noise * U[0, 1). */
export function discriminatorLabels(batch: number, noise: number): Tensor {
  return tidy(() => T.cat([T.ones([batch, 1]), T.zeros([batch, 1])], 0).add(T.rand([2 * batch, 1]).mul(noise)));
}

/** Mean per-pixel standard deviation across a batch: how different the images are. */
export function diversity(images: Tensor): number {
  return tidy(() => T.std(images, [0], 1).mean().item());
}

export interface GanStepLog {
  step: number;
  d_loss: number;
  a_loss: number;
  ms_per_step: number;
}
export interface GanSampleLog {
  step: number;
  /** Fréchet distance of classifier features, generated vs real (lower is better); null without labels. */
  fd: number | null;
  diversity: number;
  real_diversity: number;
  samples: string;
  losses: string;
  warnings: string[];
}

export class GanTrainer {
  readonly g: Generator;
  readonly d: Discriminator;
  readonly optG: RMSprop;
  readonly optD: RMSprop;
  constructor(readonly cfg: GanTrainConfig, model: GanConfig) {
    this.g = new Generator(model);
    this.d = new Discriminator(model);
    // Keras' RMSprop: rho 0.9 and epsilon 1e-7, with clipvalue.
    const clip = cfg.clip > 0 ? { clipValue: cfg.clip } : {};
    this.optD = new RMSprop(this.d.parameters(), { lr: cfg.dLr, alpha: 0.9, eps: 1e-7, ...clip });
    this.optG = new RMSprop(this.g.parameters(), { lr: cfg.gLr, alpha: 0.9, eps: 1e-7, ...clip });
  }

  /** One discriminator update and one generator update; real images in [-1, 1]. */
  step(real: Tensor): { dLoss: number; aLoss: number } {
    const dLoss = this.trainDiscriminator(real);
    return { dLoss, aLoss: this.trainGenerator(real.size(0)) };
  }

  /** The discriminator learns generated (1) from real (0); the generator is not touched. */
  trainDiscriminator(real: Tensor): number {
    const b = real.size(0);
    return tidy(() => {
      const fake = noGrad(() => this.g.forward(T.randn([b, this.g.config.latent])));
      const logits = this.d.forward(T.cat([fake, real], 0));
      const loss = binaryCrossEntropyWithLogits(logits, discriminatorLabels(b, this.cfg.labelNoise));
      this.optD.zeroGrad();
      loss.backward();
      this.optD.step();
      return loss.item();
    });
  }

  /** The generator learns to make the frozen discriminator answer "real" (0). */
  trainGenerator(b: number): number {
    this.d.freeze(true); // no gradients reach the discriminator's weights
    try {
      return tidy(() => {
        const logits = this.d.forward(this.g.forward(T.randn([b, this.g.config.latent])));
        const loss = binaryCrossEntropyWithLogits(logits, T.zeros([b, 1]));
        this.optG.zeroGrad();
        loss.backward();
        this.optG.step();
        return loss.item();
      });
    } finally {
      this.d.freeze(false);
    }
  }

  dispose(): void {
    for (const x of [this.g, this.d, this.optG, this.optD]) x.dispose();
  }
}

export async function trainGan(
  config: GanTrainConfig,
  outDir: string,
  mode: { resume?: boolean; force?: boolean },
  hooks: { onStep?(l: GanStepLog): void; onSample?(l: GanSampleLog): void; onWarning?(w: string): void; shouldStop?(): boolean } = {},
): Promise<{ steps: number; seconds: number; rollbacks: number }> {
  const run = RunFolder.open(outDir, mode);
  const ck = mode.resume ? loadCheckpoint(run.checkpoint) : null;
  const cfg: GanTrainConfig = ck ? { ...(ck.config as unknown as GanTrainConfig), steps: config.steps, minutes: config.minutes } : config;
  let data: ImageDataset;
  try {
    validateGanConfig(cfg);
    data = await loadGanData(cfg.data, cfg);
  } catch (e) {
    ck?.dispose();
    throw e;
  }
  const [, c, h, w] = data.images.shape;
  const images = T.keep(tidy(() => data.images.mul(2).sub(1))); // the tanh range
  // The quality figure's feature net, trained on the labels when there are at least two
  // classes; seeded on its own and run on a fork of the RNG, so training is not perturbed.
  const labelled = data.classes.length >= 2 && tidy(() => data.labels.max().item() > data.labels.min().item());
  const quality = labelled
    ? await T.withRngFork(() => {
        T.manualSeed(config.seed + 7919);
        const { net, accuracy } = trainFeatureNet(images, data.labels, data.classes.length);
        const real = T.keep(featuresOf(net, images.narrow(0, 0, Math.min(2000, images.size(0)))));
        return { net, accuracy, real };
      })
    : null;
  data.dispose();
  T.manualSeed(cfg.seed);
  const t = new GanTrainer(cfg, { latent: cfg.latent, channels: c, height: h, width: w, dropout: cfg.dropout, gFilters: cfg.gFilters, dFilters: cfg.dFilters });
  const parts = { modules: { generator: t.g, discriminator: t.d }, optimizers: { g: t.optG, d: t.optD } };
  const loader = new DataLoader(images, T.keep(T.zeros([images.size(0)], { dtype: 'int64' })), cfg.batch, { seed: cfg.seed });
  let step = 0;
  let history: { d: number[]; a: number[] } = { d: [], a: [] };
  if (ck) {
    restoreCheckpoint(ck, parts);
    step = ck.step;
    run.trimMetrics(step);
    history = (ck.extra.history as typeof history) ?? history;
    ck.dispose();
  } else {
    run.create();
    run.writeConfig({ system: 'gan', ...cfg, imageShape: [c, h, w] });
    if (quality) run.log({ quality: 'frechet distance of feature-net features', feature_net_accuracy: quality.accuracy });
  }
  const save = (file = run.checkpoint) =>
    saveCheckpoint(file, parts, { step, config: cfg as unknown as Record<string, unknown>, extra: { imageShape: [c, h, w], history } });
  const fixed = T.keep(fixedLatents(cfg.seed, 64, cfg.latent));
  const realDiversity = diversity(images.narrow(0, 0, Math.min(64, images.size(0))));
  if (!existsSync(run.file('samples', 'real.png'))) {
    await writeOwned(run.file('samples', 'real.png'), tidy(() => imageGrid(images.narrow(0, 0, Math.min(64, images.size(0))).add(1).div(2), { cols: 8 })));
  }
  const started = Date.now();
  let rollbacks = 0;
  let retries = 0; // rollbacks since the last warning-free checkpoint
  let logD = 0;
  let logA = 0;
  let logN = 0;
  let logStart = performance.now();
  let order: Int32Array | null = null;
  let orderEpoch = -1;
  const fdLatents = T.keep(fixedLatents(cfg.seed + 1, FD_SAMPLES, cfg.latent));
  const sample = async () => {
    const gen = noGrad(() => tidy(() => t.g.forward(fixed)));
    const div = diversity(gen);
    const fd = quality
      ? tidy(() => {
          const parts: Tensor[] = [];
          for (let i = 0; i < FD_SAMPLES; i += 64) parts.push(noGrad(() => t.g.forward(fdLatents.narrow(0, i, Math.min(64, FD_SAMPLES - i)))));
          return frechetDistance(quality.real, featuresOf(quality.net, T.cat(parts, 0)));
        })
      : null;
    const samplesFile = run.file('samples', `step-${String(step).padStart(6, '0')}.png`);
    await writeOwned(samplesFile, tidy(() => imageGrid(gen.add(1).div(2), { cols: 8 })));
    gen.dispose();
    const lossesFile = run.file('losses.png');
    if (history.d.length > 1) await writeOwned(lossesFile, linePlot([history.d, history.a]));
    const recent = (xs: number[]) => xs.slice(-Math.max(1, Math.floor(cfg.sampleEvery / cfg.logEvery)));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const warnings: string[] = [];
    // Early on, a generator barely varies and a discriminator wins easily: watch after a warm-up.
    const watching = step >= (cfg.watchAfter ?? Math.max(500, 5 * cfg.sampleEvery));
    if (watching && mean(recent(history.d)) < 0.1 && mean(recent(history.a)) > 3) {
      warnings.push(`the discriminator is winning (its loss ${mean(recent(history.d)).toFixed(3)}, the adversarial loss ${mean(recent(history.a)).toFixed(2)}); lower --d-lr or raise --dropout`);
    }
    if (watching && div < 0.25 * realDiversity) warnings.push(`mode collapse: the fixed-point samples vary ${(div / realDiversity * 100).toFixed(0)}% as much as real images`);
    const log: GanSampleLog = { step, fd, diversity: div, real_diversity: realDiversity, samples: samplesFile, losses: lossesFile, warnings };
    run.log({ ...log });
    hooks.onSample?.(log);
    for (const warning of warnings) hooks.onWarning?.(warning);
    const goodFile = path.join(run.dir, 'good.safetensors');
    if (warnings.length && cfg.rollback && existsSync(goodFile)) {
      if (retries < MAX_RETRIES) {
        // Back to the last checkpoint without warnings, with a gentler discriminator. The
        // rate is halved from the current one, so repeated rollbacks keep lowering it.
        const lowered = t.optD.lr / 2;
        const good = loadCheckpoint(goodFile);
        restoreCheckpoint(good, parts);
        step = good.step;
        history = (good.extra.history as typeof history) ?? history;
        good.dispose();
        t.optD.lr = lowered;
        rollbacks++;
        hooks.onWarning?.(`rolled back to step ${step}; the discriminator's learning rate is now ${t.optD.lr}`);
        order = null;
        orderEpoch = -1;
      } else if (retries === MAX_RETRIES) {
        hooks.onWarning?.(`${MAX_RETRIES} rollbacks did not help; going on without rolling back until a checkpoint passes the watch`);
      }
      retries++;
    }
    if (!warnings.length) retries = 0;
    save();
    if (!warnings.length) copyFileSync(run.checkpoint, path.join(run.dir, 'good.safetensors'));
  };
  t.g.train();
  t.d.train();
  while (step < cfg.steps) {
    if (hooks.shouldStop?.() || (cfg.minutes !== null && Date.now() - started > cfg.minutes * 60000)) break;
    const epoch = Math.floor(step / loader.length);
    if (epoch !== orderEpoch) {
      order = loader.order(epoch);
      orderEpoch = epoch;
    }
    const { dLoss, aLoss } = tidy(() => t.step(loader.batch(epoch, step % loader.length, order!).images));
    if (!Number.isFinite(dLoss) || !Number.isFinite(aLoss)) throw new Error(`the losses became ${dLoss}, ${aLoss} at step ${step + 1}; lower the learning rates (the last checkpoint is kept)`);
    step++;
    logD += dLoss;
    logA += aLoss;
    logN++;
    if (step % cfg.logEvery === 0) {
      const l: GanStepLog = { step, d_loss: logD / logN, a_loss: logA / logN, ms_per_step: (performance.now() - logStart) / logN };
      history.d.push(l.d_loss);
      history.a.push(l.a_loss);
      run.log({ ...l });
      hooks.onStep?.(l);
      logD = logA = logN = 0;
      logStart = performance.now();
    }
    if (step % cfg.sampleEvery === 0) await sample();
  }
  if (step % cfg.sampleEvery !== 0 || step === 0) await sample();
  const seconds = (Date.now() - started) / 1000;
  t.dispose();
  fixed.dispose();
  fdLatents.dispose();
  if (quality) (quality.net.dispose(), quality.real.dispose());
  images.dispose();
  loader.labels.dispose();
  return { steps: step, seconds, rollbacks };
}

/** A trained generator from a run folder or checkpoint. */
export function loadGenerator(source: string): Generator {
  const file = RunFolder.checkpointOf(source);
  const ck = loadCheckpoint(file);
  try {
    const shape = ck.extra.imageShape as number[] | undefined;
    const cfg = ck.config as unknown as GanTrainConfig;
    if (!Array.isArray(shape) || !ck.tensors.has('module.generator.fc.weight')) throw new Error(`${file} is not a GAN checkpoint`);
    const g = new Generator({ latent: cfg.latent, channels: shape[0], height: shape[1], width: shape[2], dropout: 0, gFilters: cfg.gFilters, dFilters: cfg.dFilters });
    restoreCheckpoint(ck, { modules: { generator: g } }, { rng: false });
    g.eval();
    return g;
  } finally {
    ck.dispose();
  }
}
