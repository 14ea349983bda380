// The seed's GAN loop: train the discriminator on generated (label 1) and real (label 0)
// images with noisy labels, then the generator through the frozen discriminator toward
// "real"; both with RMSprop and gradient values clipped to 1. Fixed latent points give one
// picture per checkpoint; the two failures the seed warns about are watched.
import { existsSync } from 'node:fs';
import * as T from '../../torch/index.js';
import { Tensor, noGrad, tidy } from '../../torch/index.js';
import { RMSprop } from '../../optim/index.js';
import { binaryCrossEntropyWithLogits } from '../../nn/index.js';
import { DataLoader } from '../../io/loader.js';
import { imageGrid, writeOwned } from '../../io/images.js';
import { PerEpoch, Training, loadFromRun } from '../../train/index.js';
import { Discriminator, Generator, type GanConfig } from './model.js';
import { loadGanData } from './data.js';
import { GanMonitor, type GanSampleLog, type LossHistory } from './monitor.js';
import { MINUTES_OPTION, SEED_OPTION, checkOptions, defaultsOf, type ConfigOf, type OptionTable } from '../options.js';

/** Every setting of a GAN training run, declared once (see models/options.ts). */
export const GAN_OPTIONS = {
  data: {
    type: 'string',
    default: 'builtin:mnist',
    help: 'builtin:mnist, builtin:fashion-mnist, cifar10:<folder>[:<class>], or a folder of images',
    meta: 'SRC',
    studio: 'data',
  },
  latent: { type: 'int', default: 32, min: 1, help: 'latent dimensions' },
  batch: { type: 'int', default: 20, min: 1, help: 'real (and as many generated) images per step', studio: true },
  steps: { type: 'int', default: 10000, min: 1, help: 'training steps', studio: true },
  dLr: { type: 'number', default: 8e-4, positive: true, help: "discriminator's RMSprop learning rate" },
  gLr: {
    type: 'number',
    default: 4e-4,
    positive: true,
    help: "generator's (through the frozen discriminator) learning rate",
  },
  clip: { type: 'number', default: 1, atLeast: 0, help: 'clip every gradient value to [-clip, clip] (0: off)' },
  labelNoise: {
    type: 'number',
    default: 0.05,
    range: [0, 0.5],
    help: "uniform noise added to the discriminator's labels",
  },
  dropout: { type: 'number', default: 0.4, range: [0, 1], help: "dropout before the discriminator's last layer" },
  gFilters: {
    type: 'int',
    default: 256,
    min: 2,
    help: "the generator's convolution width (the seed's: 256)",
    studio: true,
  },
  dFilters: {
    type: 'int',
    default: 128,
    min: 1,
    help: "the discriminator's convolution width (the seed's: 128)",
    studio: true,
  },
  sampleEvery: { type: 'int', default: 100, min: 1, help: 'steps between sample grids and checkpoints', studio: true },
  logEvery: { type: 'int', default: 20, min: 1, help: 'steps between log lines', studio: true },
  rollback: {
    type: 'bool',
    default: false,
    help: "on a warning, return to the last good checkpoint and halve the discriminator's learning rate",
  },
  watchAfter: {
    type: 'int',
    default: null,
    min: 0,
    help: 'first step of the failure watch (default: max(500, 5 x sample-every))',
  },
  size: { type: 'int', default: 32, min: 24, help: 'image side for folder data' },
  channels: { type: 'choice', default: 3, choices: [1, 3], parse: 'int', help: 'channels for folder data (1 or 3)' },
  limit: { type: 'int', default: null, min: 1, help: 'use only the first N images', studio: true },
  minutes: MINUTES_OPTION,
  seed: SEED_OPTION,
} as const satisfies OptionTable;

export type GanTrainConfig = ConfigOf<typeof GAN_OPTIONS>;
export const GAN_DEFAULTS: GanTrainConfig = defaultsOf(GAN_OPTIONS);

export function validateGanConfig(c: GanTrainConfig): void {
  checkOptions(GAN_OPTIONS, c);
  if (c.gFilters % 2) throw new Error(`--g-filters must be even, got ${c.gFilters}`);
}

/** Rollbacks to one good checkpoint before the watch stops rolling back. */
const MAX_RETRIES = 3;

/** The seed's labels: 1 for generated images, 0 for real ones, plus noise * U[0, 1). */
export function discriminatorLabels(batch: number, noise: number): Tensor {
  return tidy(() => T.cat([T.ones([batch, 1]), T.zeros([batch, 1])], 0).add(T.rand([2 * batch, 1]).mul(noise)));
}

export interface GanStepLog {
  step: number;
  d_loss: number;
  a_loss: number;
  ms_per_step: number;
}
/** The two networks, their optimizers, and one step of the seed's adversarial update. */
export class GanTrainer {
  readonly g: Generator;
  readonly d: Discriminator;
  readonly optG: RMSprop;
  readonly optD: RMSprop;
  constructor(
    readonly cfg: GanTrainConfig,
    model: GanConfig,
  ) {
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
      this.optD.backwardStep(loss);
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
        this.optG.backwardStep(loss);
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
  hooks: {
    onStep?(l: GanStepLog): void;
    onSample?(l: GanSampleLog): void;
    onWarning?(w: string): void;
    shouldStop?(): boolean;
  } = {},
): Promise<{ steps: number; seconds: number; rollbacks: number }> {
  using t = Training.open({
    system: 'gan',
    config,
    defaults: GAN_DEFAULTS,
    outDir,
    mode,
    fromCommand: ['steps', 'minutes'],
    validate: validateGanConfig,
    shouldStop: hooks.shouldStop,
    advice: 'lower the learning rates',
  });
  const { cfg, run } = t;
  const data = t.own(await loadGanData(cfg.data, cfg));
  const [, c, h, w] = data.images.shape;
  const images = t.own(T.keep(tidy(() => data.images.mul(2).sub(1)))); // the tanh range
  const monitor = t.own(await GanMonitor.create(cfg, images, data, cfg.seed));
  data.images.dispose(); // the tanh-range copy is the one trained on; the labels stay for batching
  T.manualSeed(cfg.seed);
  const gan = t.own(
    new GanTrainer(cfg, {
      latent: cfg.latent,
      channels: c,
      height: h,
      width: w,
      dropout: cfg.dropout,
      gFilters: cfg.gFilters,
      dFilters: cfg.dFilters,
    }),
  );
  const parts = { modules: { generator: gan.g, discriminator: gan.d }, optimizers: { g: gan.optG, d: gan.optD } };
  const loader = new DataLoader(images, data.labels, cfg.batch * t.world, { seed: cfg.seed });
  const part = { index: t.rank, count: t.world };
  let history: LossHistory = (t.resumed?.history as LossHistory | undefined) ?? { d: [], a: [] };
  const newRun = !t.resumed;
  t.begin(parts, { config: { imageShape: [c, h, w] }, extra: () => ({ imageShape: [c, h, w], history }) });
  const accuracy = monitor.featureNetAccuracy;
  if (newRun && accuracy !== null)
    run.log({ quality: 'frechet distance of feature-net features', feature_net_accuracy: accuracy });
  if (!existsSync(run.file('samples', 'real.png'))) {
    await writeOwned(
      run.file('samples', 'real.png'),
      tidy(() =>
        imageGrid(
          images
            .narrow(0, 0, Math.min(64, images.size(0)))
            .add(1)
            .div(2),
          { cols: 8 },
        ),
      ),
    );
  }
  let rollbacks = 0;
  let retries = 0; // rollbacks since the last warning-free checkpoint
  const order = new PerEpoch((epoch) => loader.order(epoch));

  /** Pictures and figures; with --rollback, a warning sends training back to the last good checkpoint. */
  const sample = async () => {
    const log = await monitor.check(gan.g, t.step, history, run);
    const { warnings } = log;
    run.log({ ...log });
    hooks.onSample?.(log);
    for (const warning of warnings) hooks.onWarning?.(warning);
    if (warnings.length && cfg.rollback && existsSync(run.good)) {
      if (retries < MAX_RETRIES) {
        // Back to the last checkpoint without warnings, with a gentler discriminator. The
        // rate is halved from the current one, so repeated rollbacks keep lowering it.
        const lowered = gan.optD.lr / 2;
        history = (t.rollBack(run.good).history as LossHistory | undefined) ?? history;
        gan.optD.lr = lowered;
        rollbacks++;
        hooks.onWarning?.(`rolled back to step ${t.step}; the discriminator's learning rate is now ${gan.optD.lr}`);
        order.reset();
      } else if (retries === MAX_RETRIES) {
        hooks.onWarning?.(
          `${MAX_RETRIES} rollbacks did not help; going on without rolling back until a checkpoint passes the watch`,
        );
      }
      retries++;
    }
    if (!warnings.length) retries = 0;
    t.save();
    if (!warnings.length) t.keepAs('good');
  };

  gan.g.train();
  gan.d.train();
  for (const step of t.steps(cfg.steps)) {
    const epoch = Math.floor(step / loader.length);
    const { dLoss, aLoss } = tidy(() =>
      gan.step(loader.batch(epoch, step % loader.length, order.get(epoch), part).images),
    );
    const due = t.advance({ d_loss: dLoss, a_loss: aLoss }, cfg.steps);
    if (due) {
      const l: GanStepLog = {
        step: t.step,
        d_loss: due.mean.d_loss,
        a_loss: due.mean.a_loss,
        ms_per_step: due.msPerStep,
      };
      history.d.push(l.d_loss);
      history.a.push(l.a_loss);
      run.log({ ...l, ...t.distributedLog(cfg.batch, due) });
      hooks.onStep?.(l);
    }
    if (t.step % cfg.sampleEvery === 0) await sample();
  }
  if (t.step % cfg.sampleEvery !== 0 || t.step === 0) await sample();
  return { steps: t.step, seconds: (Date.now() - t.started) / 1000, rollbacks };
}

/** A trained generator from a run folder or checkpoint. */
export function loadGenerator(source: string): Generator {
  const g = loadFromRun<Generator, GanTrainConfig>(source, (ck, file) => {
    const shape = ck.extra.imageShape as number[] | undefined;
    if (!Array.isArray(shape) || !ck.tensors.has('module.generator.fc.weight'))
      throw new Error(`${file} is not a GAN checkpoint`);
    const cfg = { ...GAN_DEFAULTS, ...ck.config };
    const g = new Generator({
      latent: cfg.latent,
      channels: shape[0],
      height: shape[1],
      width: shape[2],
      dropout: 0,
      gFilters: cfg.gFilters,
      dFilters: cfg.dFilters,
    });
    return { value: g, modules: { generator: g } };
  });
  g.eval();
  return g;
}
