// VAE training into a run folder, test -ELBO per epoch (nats, reconstruction and KL apart),
// an importance-weighted NLL estimate, and exact resume.
import * as T from '../../torch/index.js';
import { lineChartSpec, writeChart } from '../../io/chart.js';
import { Tensor, noGrad, tidy } from '../../torch/index.js';
import { RMSprop, schedules } from '../../optim/index.js';
import { RunFolder } from '../../io/run-folder.js';
import {
  PerEpoch,
  Training,
  loadFromRun,
  type DistributedLog,
  type RunControl,
  type RunMode,
} from '../../train/index.js';
import { DataLoader } from '../../io/loader.js';
import { imageGrid, writeOwned } from '../../io/images.js';
import type { ImageDataset } from '../../io/datasets.js';
import { VAE, elboTerms } from './model.js';
import { loadVaeData } from './data.js';
import { gridCoordinates } from './latent.js';
import { MINUTES_OPTION, SEED_OPTION, checkOptions, defaultsOf, type ConfigOf, type OptionTable } from '../options.js';

/** Every setting of a VAE training run, declared once (see models/options.ts). */
export const VAE_OPTIONS = {
  data: {
    type: 'string',
    default: 'builtin:mnist',
    help: 'builtin:mnist, builtin:fashion-mnist, an idx images file, or a folder of images',
    meta: 'SRC',
    studio: 'data',
  },
  latent: { type: 'int', default: 2, min: 1, help: 'latent dimensions', studio: true },
  epochs: { type: 'int', default: 10, min: 1, help: 'passes over the training images', studio: true },
  batch: { type: 'int', default: 16, min: 1, help: 'images per step', studio: true },
  lr: { type: 'number', default: 1e-3, positive: true, help: 'RMSprop learning rate' },
  recipe: {
    type: 'choice',
    default: 'anneal',
    choices: ['anneal', 'keras'],
    aliases: { seed: 'keras' },
    help: "anneal: the book's RMSprop with 100 steps of warm-up, the rate then held, and annealed to 0 over the last 20% of the run (docs/benchmarks.md); keras: the book's Keras recipe (Deep Learning with Python, chapter 8), a constant rate. --schedule and --warmup override",
  },
  schedule: {
    type: 'choice',
    default: 'recipe',
    choices: ['recipe', 'constant', 'cosine', 'anneal'],
    help: "learning rate schedule (recipe: the recipe's); cosine falls to 0 where the run ends (--epochs, or --minutes if sooner); anneal holds the rate, then falls linearly to 0 over the last 20% of the run",
  },
  warmup: {
    type: 'int',
    default: null,
    min: 0,
    help: "steps of linear learning-rate warm-up (unset: the recipe's); RMSprop's first steps move every weight by about 10x the rate",
  },
  loss: {
    type: 'choice',
    default: 'elbo',
    choices: ['elbo', 'keras'],
    aliases: { seed: 'keras' },
    help: "elbo: summed cross-entropy + KL, in nats; keras: the book's Keras loss, mean cross-entropy + 5e-4 KL",
  },
  klWeight: { type: 'number', default: 1, atLeast: 0, help: 'weight of the KL term' },
  size: { type: 'int', default: 28, min: 4, help: 'image side for folder data' },
  channels: { type: 'choice', default: 1, choices: [1, 3], parse: 'int', help: 'channels for folder data (1 or 3)' },
  limit: { type: 'int', default: null, min: 1, help: 'use only the first N training images', studio: true },
  minutes: MINUTES_OPTION,
  logEvery: { type: 'int', default: 50, min: 1, help: 'log a line every N steps', studio: true },
  seed: SEED_OPTION,
} as const satisfies OptionTable;

export type VaeTrainConfig = ConfigOf<typeof VAE_OPTIONS>;
export const VAE_DEFAULTS: VaeTrainConfig = defaultsOf(VAE_OPTIONS);

/** The schedule and warm-up a run uses: those asked for, else its recipe's. */
export function vaeSchedule(c: VaeTrainConfig): { schedule: 'constant' | 'cosine' | 'anneal'; warmup: number } {
  const keras = c.recipe === 'keras';
  return {
    schedule: c.schedule !== 'recipe' ? c.schedule : keras ? 'constant' : 'anneal',
    warmup: c.warmup ?? (keras ? 0 : 100),
  };
}

export function validateVaeConfig(c: VaeTrainConfig): void {
  checkOptions(VAE_OPTIONS, c);
}

export interface VaeStepLog extends DistributedLog {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  ms_per_step: number;
  images_per_sec: number;
}
export interface VaeEpochLog {
  epoch: number;
  step: number;
  test_elbo_nats: number;
  test_rec_nats: number;
  test_kl_nats: number;
}

/** The training objective of a batch: the mean over images of the chosen loss. */
function objective(cfg: VaeTrainConfig, model: VAE, x: Tensor): Tensor {
  const { rec, kl } = elboTerms(model, x);
  // The book's Keras loss: per-pixel mean cross-entropy, KL weighted 5e-4 (not in nats, not comparable).
  if (cfg.loss === 'keras')
    return rec
      .div(x.numel / x.size(0))
      .add(kl.mul(5e-4 * cfg.klWeight))
      .mean();
  return rec.add(kl.mul(cfg.klWeight)).mean();
}

/** Test-set -ELBO (one z per image) and its two terms, in nats per image. */
export function testElbo(model: VAE, images: Tensor, batch = 500): { elbo: number; rec: number; kl: number } {
  const was = model.training;
  model.eval();
  let rec = 0;
  let kl = 0;
  const n = images.size(0);
  noGrad(() => {
    for (let i = 0; i < n; i += batch) {
      tidy(() => {
        const t = elboTerms(model, images.narrow(0, i, Math.min(batch, n - i)));
        rec += t.rec.sum().item();
        kl += t.kl.sum().item();
      });
    }
  });
  model.train(was);
  return { elbo: (rec + kl) / n, rec: rec / n, kl: kl / n };
}

/**
 * Importance-weighted estimate of -log p(x), in nats per image:
 * -log (1/k) Σ p(x|z_i) p(z_i) / q(z_i|x), z_i ~ q(z|x). k = 1 is the ELBO; it tightens with k.
 */
export function importanceWeightedNll(model: VAE, images: Tensor, k = 100, batch = 100): number {
  const was = model.training;
  model.eval();
  const n = images.size(0);
  let total = 0;
  const LOG2PI = Math.log(2 * Math.PI);
  noGrad(() => {
    for (let i = 0; i < n; i += batch) {
      tidy(() => {
        const x = images.narrow(0, i, Math.min(batch, n - i));
        const b = x.size(0);
        const [mean, logVar] = model.encode(x);
        const d = mean.size(1);
        // k samples per image: [k, b, d]
        const eps = T.randn([k, b, d]);
        const std = logVar.mul(0.5).exp();
        const z = mean.unsqueeze(0).add(eps.mul(std.unsqueeze(0)));
        const logQ = eps.square().add(LOG2PI).add(logVar.unsqueeze(0)).sum({ dim: 2 }).mul(-0.5);
        const logP = z.square().add(LOG2PI).sum({ dim: 2 }).mul(-0.5);
        const logits = model.decodeLogits(z.reshape([k * b, d]));
        const xs = x
          .unsqueeze(0)
          .expand([k, ...x.shape])
          .reshape([k * b, ...x.shape.slice(1)]);
        const logPx = T.binaryCrossEntropyWithLogits(logits, xs, null, null, 0)
          .flatten(1)
          .sum({ dim: 1 })
          .neg()
          .reshape([k, b]);
        const w = logPx.add(logP).sub(logQ);
        total += w.logsumexp([0]).sub(Math.log(k)).sum().item();
      });
    }
  });
  model.train(was);
  return -total / n;
}

export interface VaeTrainResult {
  steps: number;
  epochs: number;
  test: { elbo: number; rec: number; kl: number };
  seconds: number;
  /** Stopped by shouldStop or the signal (with a checkpoint), not by its epochs or minutes. */
  stoppedEarly: boolean;
}

export async function trainVae(
  config: VaeTrainConfig,
  outDir: string,
  mode: RunMode,
  hooks: RunControl & { onStep?(l: VaeStepLog): void; onEpoch?(l: VaeEpochLog): void } = {},
): Promise<VaeTrainResult> {
  using t = Training.open({
    system: 'vae',
    config,
    // Runs saved before recipes existed trained at the book's constant rate.
    defaults: { ...VAE_DEFAULTS, recipe: 'keras' as const },
    options: VAE_OPTIONS,
    outDir,
    mode,
    fromCommand: ['epochs', 'minutes'],
    validate: validateVaeConfig,
    shouldStop: hooks.shouldStop,
    signal: hooks.signal,
    onNote: hooks.onNote,
    advice: 'lower --lr',
  });
  const { cfg, run } = t;
  const { train, test } = await loadVaeData(cfg.data, {
    size: cfg.size,
    channels: cfg.channels,
    limit: cfg.limit ?? undefined,
  });
  t.own(train);
  t.own(test);
  const [, c, h, w] = train.images.shape;
  T.manualSeed(cfg.seed);
  const model = t.own(new VAE({ channels: c, height: h, width: w, latent: cfg.latent }));
  const opt = t.own(new RMSprop(model.parameters(), { lr: cfg.lr }));
  const loader = new DataLoader(train.images, train.labels, cfg.batch * t.world, { seed: cfg.seed });
  const part = { index: t.rank, count: t.world };
  const shape = { imageShape: [c, h, w], classes: train.classes };
  t.begin({ modules: { model }, optimizers: { opt } }, { config: shape, extra: () => shape });

  const total = cfg.epochs * loader.length;
  const { schedule, warmup } = vaeSchedule(cfg);
  // Cosine and anneal reach 0 where the run ends: after --epochs, or when its --minutes are
  // spent. Only they ask how far the run is (in a data-parallel run, a gather per step).
  const rateAt = schedules.warmup(warmup, (step) =>
    schedule === 'constant' ? cfg.lr : schedules.endingAt(schedule, cfg.lr, t.progress(step, total)),
  );
  let last = { elbo: NaN, rec: NaN, kl: NaN };
  // The test figures per epoch, for curves.png (a resumed run starts from its metrics).
  const history = run.readMetrics().filter((m) => typeof m.test_elbo_nats === 'number') as VaeEpochLog[];
  /** Test -ELBO, pictures and a checkpoint; on a fork of the RNG, so training is not perturbed. */
  const endEpoch = async (epoch: number) => {
    await T.withRngFork(async () => {
      last = testElbo(model, test.images);
      await writeEpochPictures(run, model, test, epoch, t.step);
    });
    const log: VaeEpochLog = {
      epoch,
      step: t.step,
      test_elbo_nats: last.elbo,
      test_rec_nats: last.rec,
      test_kl_nats: last.kl,
    };
    run.log({ ...log });
    history.push(log);
    if (t.isMain && history.length > 1) {
      const x = history.map((e) => e.epoch);
      const curve = (name: string, key: 'test_elbo_nats' | 'test_rec_nats' | 'test_kl_nats') => ({
        name,
        x,
        y: history.map((e) => e[key]),
      });
      const curves = [
        curve('-ELBO', 'test_elbo_nats'),
        curve('reconstruction', 'test_rec_nats'),
        curve('KL', 'test_kl_nats'),
      ];
      await writeChart(
        run.file('curves.png'),
        lineChartSpec(curves, { x: 'epoch', y: 'test set, nats per image', smooth: 1 }),
      );
    }
    t.save();
    hooks.onEpoch?.(log);
  };
  const order = new PerEpoch((epoch) => loader.order(epoch));
  model.train();
  for await (const step of t.steps(total)) {
    const epoch = Math.floor(step / loader.length);
    opt.lr = rateAt(step);
    const loss = tidy(() => {
      const { images } = loader.batch(epoch, step % loader.length, order.get(epoch), part);
      const l = objective(cfg, model, images);
      opt.backwardStep(l);
      return l.item();
    });
    const due = t.advance({ loss }, total);
    if (due) {
      const l: VaeStepLog = {
        step: t.step,
        epoch: t.step / loader.length,
        loss: due.mean.loss,
        lr: opt.lr,
        ms_per_step: due.msPerStep,
        images_per_sec: (loader.size * 1000) / due.msPerStep,
        ...t.distributedLog(cfg.batch, due),
      };
      run.log({ ...l });
      hooks.onStep?.(l);
    }
    if (t.step % loader.length === 0) await endEpoch(t.step / loader.length);
  }
  if (t.step % loader.length !== 0 || t.step === 0) await endEpoch(t.step / loader.length);
  return {
    steps: t.step,
    epochs: t.step / loader.length,
    test: last,
    seconds: (Date.now() - t.started) / 1000,
    stoppedEarly: t.stopReason === 'asked',
  };
}

/** Reconstructions beside originals, random samples, and (2-D latent) the latent grid. */
async function writeEpochPictures(
  run: RunFolder,
  model: VAE,
  test: ImageDataset,
  epoch: number,
  step: number,
): Promise<void> {
  const tag = Number.isInteger(epoch) ? RunFolder.epochTag(epoch) : RunFolder.stepTag(step);
  const [recon, samples, grid] = noGrad(() =>
    tidy(() => {
      model.eval();
      const x = test.images.narrow(0, 0, Math.min(16, test.images.size(0)));
      const [mean] = model.encode(x);
      const pairs = T.stack([x, model.decode(mean)], 1).reshape([-1, ...x.shape.slice(1)]);
      const out: [Tensor, Tensor, Tensor | null] = [
        imageGrid(pairs, { cols: 8 }),
        imageGrid(model.decode(T.randn([64, model.config.latent])), { cols: 8 }),
        model.config.latent === 2 ? latentGrid(model, 15) : null,
      ];
      model.train();
      return out;
    }),
  );
  await writeOwned(run.file('samples', `${tag}-reconstructions.png`), recon);
  await writeOwned(run.file('samples', `${tag}-samples.png`), samples);
  if (grid) await writeOwned(run.file('samples', `${tag}-grid.png`), grid);
}

export const LATENT_GRID_MOST = 64;

/** The book's n×n grid of decoded points at Gaussian quantiles, over latent dims (a, b). */
export function latentGrid(model: VAE, n: number, dims: [number, number] = [0, 1]): Tensor {
  // n * n decodes in one batch: beyond this the batch and the image outgrow memory.
  if (n > LATENT_GRID_MOST) throw new Error(`--size must be at most ${LATENT_GRID_MOST} points per side, got ${n}`);
  const q = gridCoordinates(n);
  const d = model.config.latent;
  if (dims.some((k) => !(Number.isInteger(k) && k >= 0 && k < d)) || dims[0] === dims[1]) {
    throw new Error(`--dims must name two different latent dimensions below ${d}`);
  }
  const z = new Float32Array(n * n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      // rows go down the second dimension from high to low, as the book's plot does
      z[(i * n + j) * d + dims[0]] = q[j];
      z[(i * n + j) * d + dims[1]] = q[n - 1 - i];
    }
  }
  return noGrad(() => tidy(() => imageGrid(model.decode(T.tensor(z, { shape: [n * n, d] })), { cols: n, pad: 0 })));
}

/** A trained VAE from a run folder or checkpoint. */
export function loadVae(source: string): { model: VAE; config: VaeTrainConfig; classes: string[] } {
  const loaded = loadFromRun<{ model: VAE; config: VaeTrainConfig; classes: string[] }, VaeTrainConfig>(
    source,
    (ck, file) => {
      const shape = ck.extra.imageShape as number[] | undefined;
      if (!Array.isArray(shape)) throw new Error(`${file} is not a VAE checkpoint`);
      const config = { ...VAE_DEFAULTS, ...ck.config };
      const model = new VAE({ channels: shape[0], height: shape[1], width: shape[2], latent: config.latent });
      return { value: { model, config, classes: (ck.extra.classes as string[]) ?? [] }, modules: { model } };
    },
  );
  loaded.model.eval();
  return loaded;
}
