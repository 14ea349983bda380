// VAE training into a run folder, test -ELBO per epoch (nats, reconstruction and KL apart),
// and exact resume. The settings are in ./config.ts, the test figures in ./evaluate.ts, the
// pictures in ./pictures.ts.
import * as T from '../../torch/index.js';
import { lineChartSpec, writeChart } from '../../io/chart.js';
import { Tensor, tidy } from '../../torch/index.js';
import { RMSprop, schedules } from '../../optim/index.js';
import {
  PerEpoch,
  Training,
  loadFromRun,
  type DistributedLog,
  type RunControl,
  type RunMode,
} from '../../train/index.js';
import { DataLoader } from '../../io/loader.js';
import { VAE, elboTerms } from './model.js';
import { loadVaeData } from './data.js';
import { VAE_DEFAULTS, VAE_OPTIONS, vaeSchedule, validateVaeConfig, type VaeTrainConfig } from './config.js';
import { testElbo } from './evaluate.js';
import { writeEpochPictures } from './pictures.js';

// The option table's old home, where the system tables import it from.
export { VAE_OPTIONS };

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

/** The training loss of a batch, from each image's reconstruction and KL terms. */
export const VAE_LOSSES: Record<
  VaeTrainConfig['loss'],
  (x: Tensor, rec: Tensor, kl: Tensor, klWeight: number) => Tensor
> = {
  // Summed cross-entropy + KL: the negative ELBO, in nats per image.
  elbo: (_x, rec, kl, klWeight) => rec.add(kl.mul(klWeight)).mean(),
  // The book's Keras loss: per-pixel mean cross-entropy, KL weighted 5e-4 (not in nats, not comparable).
  keras: (x, rec, kl, klWeight) =>
    rec
      .div(x.numel / x.size(0))
      .add(kl.mul(5e-4 * klWeight))
      .mean(),
};

/** The training objective of a batch: the mean over images of the chosen loss. */
function objective(cfg: VaeTrainConfig, model: VAE, x: Tensor): Tensor {
  const { rec, kl } = elboTerms(model, x);
  return VAE_LOSSES[cfg.loss](x, rec, kl, cfg.klWeight);
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
  // The largest product: the second convolution's, as im2col multiplies it.
  const precision = t.precision([cfg.batch * Math.ceil(h / 2) * Math.ceil(w / 2), 32 * 9, 64]);
  t.begin(
    { modules: { model }, optimizers: { opt } },
    { config: { ...shape, ...precision.record }, extra: () => shape },
  );

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
      const l = precision.run(() => objective(cfg, model, images));
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
