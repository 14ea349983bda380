// The book's GAN loop: train the discriminator on generated (label 1) and real (label 0)
// images with noisy labels, then the generator through the frozen discriminator toward
// "real"; the recipe (recipes.ts) builds the networks, their optimisers and the
// discriminator's loss. Fixed latent points give one picture per checkpoint; the two failures
// the book warns about are watched.
import { existsSync } from 'node:fs';
import * as T from '../../torch/index.js';
import { Tensor, noGrad, tidy } from '../../torch/index.js';
import type { Optimizer } from '../../optim/index.js';
import { binaryCrossEntropyWithLogits } from '../../nn/index.js';
import { DataLoader } from '../../io/loader.js';
import { imageGrid, writeOwned } from '../../io/images.js';
import { PerEpoch, Training, type DistributedLog, type RunControl, type RunMode } from '../../train/index.js';
import type { GanConfig, GanDiscriminator, GanGenerator } from './model.js';
import { RECIPES, type GanRecipe } from './recipes.js';
import { loadGanData } from './data.js';
import { builtinClass } from '../../io/datasets.js';
import { diffAugment } from './augment.js';
import { clusterCount, clusterNames, kMeans, type Clusters } from './clusters.js';
import { FD_SAMPLES, GanMonitor, referenceOrder, type GanSampleLog, type LossHistory } from './monitor.js';
import { builtinJudge } from './quality.js';
import {
  GAN_OPTIONS,
  RESUME_DEFAULTS,
  conditionedClasses,
  validateGanConfig,
  withRecipe,
  type GanRunConfig,
  type GanTrainConfig,
} from './config.js';

/** Rollbacks to one good checkpoint before the watch stops rolling back. */
const MAX_RETRIES = 3;

/** The book's labels: 1 for generated images, 0 for real ones, plus noise * U[0, 1). */
export function discriminatorLabels(batch: number, noise: number): Tensor {
  return tidy(() => T.cat([T.ones([batch, 1]), T.zeros([batch, 1])], 0).add(T.rand([2 * batch, 1]).mul(noise)));
}

export interface GanStepLog extends DistributedLog {
  step: number;
  d_loss: number;
  a_loss: number;
  ms_per_step: number;
}
/** The two networks of a recipe, their optimizers, and one step of the adversarial update. */
export class GanTrainer {
  readonly g: GanGenerator;
  readonly d: GanDiscriminator;
  readonly optG: Optimizer;
  readonly optD: Optimizer;
  /** The generator's weights averaged over steps (Yazici et al. 2019), or null: what samples come from. */
  readonly average: GanGenerator | null;
  readonly cfg: GanRunConfig;
  readonly recipe: GanRecipe;
  /**
   * `inPrecision` runs each update's forward passes and loss (the run's --precision, settled:
   * Training.precision); the updates themselves stay float32.
   */
  constructor(
    config: GanTrainConfig,
    model: GanConfig,
    private readonly inPrecision: <R>(fn: () => R) => R = (fn) => fn(),
  ) {
    const cfg = (this.cfg = withRecipe(config));
    const recipe = (this.recipe = RECIPES[cfg.recipe]);
    this.g = recipe.generator(model);
    this.d = recipe.discriminator(model);
    this.optD = recipe.optimizer(this.d.parameters(), cfg.dLr, cfg.clip);
    this.optG = recipe.optimizer(this.g.parameters(), cfg.gLr, cfg.clip);
    this.average = null;
    if (cfg.ema > 0) {
      this.average = recipe.generator(model);
      this.average.loadStateDict(this.g.stateDict());
      this.average.freeze(true);
    }
  }

  /** The generator that samples are drawn from: the average when there is one. */
  get sampler(): GanGenerator {
    return this.average ?? this.g;
  }

  /** Conditioned on this many classes (0: not conditional). */
  get classes(): number {
    return this.d.classes;
  }

  /**
   * One discriminator update and one generator update; real images in [-1, 1] and, when
   * conditional, their labels. With --augment, every image the discriminator sees goes
   * through DiffAugment first.
   */
  step(real: Tensor, labels?: Tensor): { dLoss: number; aLoss: number } {
    const dLoss = this.trainDiscriminator(real, labels);
    return { dLoss, aLoss: this.trainGenerator(real.size(0)) };
  }

  /**
   * Labels for n generated images, drawn as often as the data holds each class when the
   * generator knows (clusters), else uniformly; undefined when not conditional.
   */
  private randomLabels(n: number): Tensor | undefined {
    if (!this.classes) return undefined;
    const weights = this.g.config.classWeights;
    return weights ? T.multinomial(T.tensor(Float32Array.from(weights)), n, true) : T.randint(0, this.classes, [n]);
  }

  /**
   * The discriminator learns generated (1) from real (0); the generator is not touched. The
   * recipe scores the halves (keras in one batch, dcgan in two).
   */
  trainDiscriminator(real: Tensor, realLabels?: Tensor): number {
    const b = real.size(0);
    if (this.classes && !realLabels) throw new Error('a conditional GAN trains on labelled images');
    return tidy(() => {
      const fakeLabels = this.randomLabels(b);
      const loss = this.inPrecision(() => {
        const fake = noGrad(() => this.g.forward(T.randn([b, this.g.config.latent]), fakeLabels));
        const labels = discriminatorLabels(b, this.cfg.labelNoise);
        const [f, r] = this.cfg.augment ? [diffAugment(fake), diffAugment(real)] : [fake, real];
        return this.recipe.discriminatorLoss(this.d, f, fakeLabels, r, realLabels, labels);
      });
      this.optD.backwardStep(loss);
      return loss.item();
    });
  }

  /** The generator learns to make the frozen discriminator answer "real" (the recipe's loss, or BCE toward 0). */
  trainGenerator(b: number): number {
    this.d.freeze(true); // no gradients reach the discriminator's weights
    try {
      return tidy(() => {
        const y = this.randomLabels(b);
        const loss = this.inPrecision(() => {
          const drawn = this.g.forward(T.randn([b, this.g.config.latent]), y);
          const fake = this.cfg.augment ? diffAugment(drawn) : drawn;
          return this.recipe.generatorLoss
            ? this.recipe.generatorLoss(this.d, fake, y)
            : binaryCrossEntropyWithLogits(this.d.forward(fake, y), T.zeros([b, 1]));
        });
        this.optG.backwardStep(loss);
        if (this.average) this.updateAverage();
        return loss.item();
      });
    } finally {
      this.d.freeze(false);
    }
  }

  /** avg <- avg + (1 - decay) (g - avg) for weights; batch-norm statistics are copied. */
  private updateAverage(): void {
    const avg = this.average!;
    noGrad(() => {
      const live = new Map(this.g.stateDict());
      for (const [name, p] of avg.stateDict()) {
        const q = live.get(name)!;
        if (p.dtype === 'float32' && !/running_/.test(name)) p.lerp_(q, 1 - this.cfg.ema);
        else p.copy_(q);
      }
    });
  }

  dispose(): void {
    for (const x of [this.g, this.d, this.optG, this.optD, this.average]) x?.dispose();
  }
}

export interface GanTrainResult {
  steps: number;
  seconds: number;
  rollbacks: number;
  /** Stopped by shouldStop or the signal (with a checkpoint), not by its steps or minutes. */
  stoppedEarly: boolean;
}

export async function trainGan(
  config: GanTrainConfig,
  outDir: string,
  mode: RunMode,
  hooks: {
    onStep?(l: GanStepLog): void;
    onSample?(l: GanSampleLog): void;
    onWarning?(w: string): void;
    /** Told before a built-in data set's judge is trained (once per machine, about half a minute). */
    onJudgeTraining?(): void;
  } & RunControl = {},
): Promise<GanTrainResult> {
  using t = Training.open({
    system: 'gan',
    config: withRecipe(config),
    defaults: RESUME_DEFAULTS,
    options: GAN_OPTIONS,
    outDir,
    mode,
    fromCommand: ['steps', 'minutes'],
    validate: validateGanConfig,
    shouldStop: hooks.shouldStop,
    signal: hooks.signal,
    onNote: hooks.onNote,
    advice: 'lower the learning rates',
  });
  const cfg = withRecipe(t.cfg);
  const run = t.run;
  const data = t.own(await loadGanData(cfg.data, cfg));
  const [, c, h, w] = data.images.shape;
  const images = t.own(T.keep(tidy(() => data.images.mul(2).sub(1)))); // the tanh range
  const started = Date.now();
  const clusters = RECIPES[cfg.recipe].clustered ? clustersOf(images, cfg, t.resumed ?? undefined) : null;
  if (clusters) {
    t.own(clusters.labels);
    hooks.onNote?.(
      `${clusters.sizes.length} clusters of the ${images.size(0)} images (k-means) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  }
  // A built-in set's judge is trained on all of its training split; a --limit run trains its
  // own, except on one class, where the run's images cannot teach one.
  const one = builtinClass(cfg.data);
  const judge =
    cfg.limit === null || one
      ? await builtinJudge(one?.set ?? cfg.data, {
          onTrain: hooks.onJudgeTraining,
          shouldStop: () => Boolean(hooks.shouldStop?.() || hooks.signal?.aborted),
        })
      : null;
  const only = one && { index: one.index, name: one.name };
  const monitor = t.own(
    await GanMonitor.create(cfg, images, data, cfg.seed, judge && (only ? { ...judge, only } : judge)),
  );
  data.images.dispose(); // the tanh-range copy is the one trained on; the labels stay for batching
  // The largest product: the generator's widest transposed convolution at half the side, as
  // im2col multiplies it.
  const precision = t.precision([cfg.batch * Math.ceil(h / 2) * Math.ceil(w / 2), cfg.gFilters * 16, cfg.gFilters]);
  T.manualSeed(cfg.seed);
  const gan = t.own(
    new GanTrainer(
      cfg,
      {
        latent: cfg.latent,
        channels: c,
        height: h,
        width: w,
        dropout: cfg.dropout,
        gFilters: cfg.gFilters,
        dFilters: cfg.dFilters,
        classNames: clusters ? clusterNames(clusters.sizes.length) : (conditionedClasses(cfg) ?? []),
        ...(clusters ? { classWeights: clusters.sizes } : {}),
      },
      precision.run,
    ),
  );
  const parts = {
    modules: { generator: gan.g, discriminator: gan.d, ...(gan.average ? { average: gan.average } : {}) },
    optimizers: { g: gan.optG, d: gan.optD },
  };
  const loader = new DataLoader(images, clusters?.labels ?? data.labels, cfg.batch * t.world, { seed: cfg.seed });
  const part = { index: t.rank, count: t.world };
  let history: LossHistory = (t.resumed?.history as LossHistory | undefined) ?? { d: [], a: [] };
  const newRun = !t.resumed;
  t.begin(parts, {
    config: { imageShape: [c, h, w], ...precision.record },
    // The class names go with the weights, so the run samples by name after its data has moved.
    extra: () => ({
      imageShape: [c, h, w],
      history,
      classNames: gan.g.classNames,
      ...(clusters ? { classWeights: clusters.sizes } : {}),
    }),
  });
  const accuracy = monitor.judgeAccuracy;
  if (newRun && accuracy !== null)
    run.log({
      quality: only
        ? `share of ${FD_SAMPLES.toLocaleString('en-US')} samples the judge classifies as ${only.name} with probability >= 0.9; frechet distance of the judge's features from those of the training images of ${only.name}`
        : `share of ${FD_SAMPLES.toLocaleString('en-US')} samples the judge classifies with probability >= 0.9; frechet distance of the judge's features`,
      judge_accuracy: accuracy,
    });
  if (!existsSync(run.file('samples', 'real.png'))) {
    await writeOwned(
      run.file('samples', 'real.png'),
      tidy(() =>
        imageGrid(
          images
            .indexSelect(0, T.tensor(referenceOrder(images.size(0)).slice(0, 64), { dtype: 'int64' }))
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
    const log = await monitor.check(gan.sampler, t.step, history, run);
    const { warnings } = log;
    run.log({ ...log });
    if (t.isMain) await monitor.charts(history, run);
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
  for await (const step of t.steps(cfg.steps)) {
    const epoch = Math.floor(step / loader.length);
    const { dLoss, aLoss } = tidy(() => {
      const batch = loader.batch(epoch, step % loader.length, order.get(epoch), part);
      return gan.step(batch.images, gan.classes ? batch.labels : undefined);
    });
    const due = t.advance({ d_loss: dLoss, a_loss: aLoss }, cfg.steps);
    if (due) {
      const l: GanStepLog = {
        step: t.step,
        d_loss: due.mean.d_loss,
        a_loss: due.mean.a_loss,
        ms_per_step: due.msPerStep,
        ...t.distributedLog(cfg.batch, due),
      };
      history.d.push(l.d_loss);
      history.a.push(l.a_loss);
      run.log({ ...l });
      hooks.onStep?.(l);
    }
    if (t.step % cfg.sampleEvery === 0) await sample();
  }
  if (t.step % cfg.sampleEvery !== 0 || t.step === 0) await sample();
  if (t.isMain) await monitor.charts(history, run, true);
  return { steps: t.step, seconds: (Date.now() - t.started) / 1000, rollbacks, stoppedEarly: t.stopReason === 'asked' };
}

/**
 * The clustered recipe's clusters of the run's images (in the tanh range), or null where there
 * are too few images for two (the run trains unconditionally). A resumed run forms them again
 * (the same, from the same images and seed) and is refused if its data has changed since, as
 * the sizes its checkpoint kept would show.
 */
function clustersOf(images: Tensor, cfg: GanRunConfig, resumed: Record<string, unknown> | undefined): Clusters | null {
  const k = clusterCount(cfg.clusters, images.size(0));
  const clusters = k > 1 ? kMeans(images, k, cfg.seed) : null;
  const kept = resumed?.classWeights;
  const same = clusters ? Array.isArray(kept) && kept.join() === clusters.sizes.join() : kept === undefined;
  if (resumed && !same) {
    clusters?.labels.dispose();
    throw new Error(
      `the images of ${cfg.data} no longer form the clusters this run was trained on (the data changed since); train a new run`,
    );
  }
  return clusters;
}
