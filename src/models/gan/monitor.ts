// What the GAN's trainer watches at each sample step: a picture from fixed latent points, the
// quality figures (the share of samples a judge classifies with confidence, and the Fréchet
// distance of its features, generated against real), the samples' diversity, and the two
// failures the book warns about (a winning discriminator, mode collapse).
import * as T from '../../torch/index.js';
import { Tensor, noGrad, tidy } from '../../torch/index.js';
import { Rng } from '../../util/random.js';
import { imageGrid, writeOwned } from '../../io/images.js';
import { lineChartSpec, writeChart } from '../../io/chart.js';
import { RunFolder } from '../../io/run-folder.js';
import type { ImageDataset } from '../../io/datasets.js';
import type { Judge } from './quality.js';
import { featuresOf, frechetDistance, judgeScore, trainJudge } from './quality.js';
import { classColumns, cyclingLabels, generate, type GanGenerator } from './model.js';

/**
 * Generated images scored for the quality figures at each sample step. The Fréchet distance
 * of a few hundred images is mostly the noise of estimating 128 features' covariance, enough
 * that real images score worse than a good generator (docs/guides/gan.md measures it).
 */
export const FD_SAMPLES = 1000;
/** Real images whose features are the Fréchet distance's reference. */
const REFERENCE_IMAGES = 2000;
/** The least time between two drawings of the charts during a run. */
const CHART_EVERY_MS = 30_000;

/** Gaussian latent points from a seed, drawn in JS so they never touch training's RNG. */
export function fixedLatents(seed: number, count: number, latent: number): Tensor {
  const rng = new Rng(seed, 0x1a7e);
  const z = new Float32Array(count * latent);
  for (let i = 0; i < z.length; i++) z[i] = rng.gaussian();
  return T.tensor(z, { shape: [count, latent] });
}

/** 0..n-1 shuffled the same way for every run, so runs on the same data share a reference. */
export function referenceOrder(n: number): number[] {
  return new Rng(0xfd).shuffle(Array.from({ length: n }, (_, i) => i));
}

/** Mean per-pixel standard deviation across a batch: how different the images are. */
export function diversity(images: Tensor): number {
  return tidy(() => T.std(images, [0], 1).mean().item());
}

export interface GanSampleLog {
  step: number;
  /** Fréchet distance of the judge's features, generated vs real (lower is better); null without labels. */
  fd: number | null;
  /**
   * The Fréchet distance other real images score against the same reference, at the same count:
   * what a perfect generator would get; null without labels or with too few images.
   */
  real_fd?: number | null;
  /**
   * Share of the samples the judge classifies with probability >= 0.9 (on one class: as that
   * class); null without labels.
   */
  confident: number | null;
  /** Classes among those confidently classified samples; null without labels or on one class. */
  classes: number | null;
  /** On one class of a labelled set, the class the samples are judged as. */
  judged_as?: string;
  /** The judge's accuracy on held-out images; null without labels. */
  judge_accuracy: number | null;
  diversity: number;
  real_diversity: number;
  samples: string;
  losses: string;
  warnings: string[];
}

/** Mean losses per log line, for the loss chart and the watch; saved in checkpoints. */
export interface LossHistory {
  d: number[];
  a: number[];
}

export interface WatchSettings {
  seed: number;
  latent: number;
  sampleEvery: number;
  logEvery: number;
  /** First step at which the watch speaks (null: max(500, 5 * sampleEvery)). */
  watchAfter: number | null;
}

/** A judge of the data's labels; `only` when the run learns one of its classes. */
export interface GanJudge {
  net: Judge;
  accuracy: number;
  only?: { index: number; name: string };
}

export class GanMonitor {
  private readonly fixed: Tensor;
  private readonly fdLatents: Tensor;
  private chartedAt = 0;

  private constructor(
    private readonly s: WatchSettings,
    private readonly quality: (GanJudge & { real: Tensor; realFd: number | null }) | null,
    readonly realDiversity: number,
  ) {
    this.fixed = T.keep(fixedLatents(s.seed, 64, s.latent));
    this.fdLatents = T.keep(fixedLatents(s.seed + 1, FD_SAMPLES, s.latent));
  }

  /**
   * A monitor for real images in [-1, 1]. The quality figures need a judge of the labels:
   * `judge` when given (a built-in set's, trained once), else one trained here on the run's
   * images when they have at least two classes (a tenth, at most 1,000, held out for its
   * accuracy), seeded on its own and on a fork of the RNG, so training is not perturbed. The
   * Fréchet distance's reference is the judge's features of 2,000 of `images` (for a run on
   * one class, images of that class), and the next 1,000 give the distance real images score.
   * Each of these, and the real images' diversity, is drawn in referenceOrder. The monitor
   * owns the judge.
   */
  static async create(
    s: WatchSettings,
    images: Tensor,
    data: ImageDataset,
    featureSeed: number,
    judge: GanJudge | null = null,
  ): Promise<GanMonitor> {
    const labelled = data.classes.length >= 2 && tidy(() => data.labels.max().item() > data.labels.min().item());
    const n = images.size(0);
    // Images spread over the whole set, as a folder of class folders comes sorted by class.
    const order = referenceOrder(n);
    const rows = (from: number, k: number) => T.tensor(order.slice(from, from + k), { dtype: 'int64' });
    const realDiversity = tidy(() => diversity(images.indexSelect(0, rows(0, Math.min(64, n)))));
    if (!judge && labelled && n >= 20) {
      const held = Math.min(1000, Math.floor(n / 10));
      // The judge picks its batches from all the images by row, so training copies none of them.
      const trainRows = rows(0, n - held);
      const heldOut = tidy(() => {
        const r = rows(n - held, held);
        return { images: images.indexSelect(0, r), labels: data.labels.indexSelect(0, r) };
      });
      try {
        judge = await T.withRngFork(() => {
          T.manualSeed(featureSeed + 7919);
          return trainJudge({ images, labels: data.labels, rows: trainRows }, heldOut, data.classes.length, {
            maxSteps: 300,
          });
        });
      } finally {
        for (const t of [trainRows, heldOut.images, heldOut.labels]) t.dispose();
      }
    }
    if (!judge) return new GanMonitor(s, null, realDiversity);
    const net = judge.net;
    const features = (from: number, k: number) => tidy(() => featuresOf(net, images.indexSelect(0, rows(from, k))));
    const m = Math.min(REFERENCE_IMAGES, n);
    const real = T.keep(features(0, m));
    const realFd = n - m >= FD_SAMPLES ? tidy(() => frechetDistance(real, features(m, FD_SAMPLES))) : null;
    return new GanMonitor(s, { ...judge, real, realFd }, realDiversity);
  }

  /** The judge's accuracy on held-out images, or null when the data has no labels. */
  get judgeAccuracy(): number | null {
    return this.quality?.accuracy ?? null;
  }

  /**
   * Samples from the fixed points, the loss chart and the quality figures, with warnings. The
   * images are drawn as `gan sample` draws them (generate: eval mode), so the figures describe
   * the samples a user gets.
   */
  async check(g: GanGenerator, step: number, history: LossHistory, run: RunFolder): Promise<GanSampleLog> {
    // A conditional generator's picture: a row per latent point, a column per class.
    const k = classColumns(g);
    const gen = noGrad(() =>
      tidy(() => {
        if (!k) return generate(g, this.fixed);
        const z = this.fixed.narrow(0, 0, 8);
        return generate(
          g,
          z
            .unsqueeze(1)
            .expand([8, k, z.size(1)])
            .reshape([8 * k, z.size(1)]),
          cyclingLabels(8 * k, k),
        );
      }),
    );
    const div = diversity(gen);
    const q = this.quality;
    let scores: { fd: number; confident: number; classes: number } | null = null;
    if (q) {
      scores = tidy(() => {
        const parts: Tensor[] = [];
        for (let i = 0; i < FD_SAMPLES; i += 250)
          parts.push(noGrad(() => generate(g, this.fdLatents.narrow(0, i, Math.min(250, FD_SAMPLES - i)))));
        const generated = T.cat(parts, 0);
        return {
          fd: frechetDistance(q.real, featuresOf(q.net, generated)),
          ...judgeScore(q.net, generated, 0.9, q.only?.index),
        };
      });
    }
    const samplesFile = run.file('samples', `${RunFolder.stepTag(step)}.png`);
    await writeOwned(
      samplesFile,
      tidy(() => imageGrid(gen.add(1).div(2), { cols: k || 8 })),
    );
    gen.dispose();
    const lossesFile = run.file('losses.png');
    return {
      step,
      fd: scores?.fd ?? null,
      real_fd: q?.realFd ?? null,
      confident: scores?.confident ?? null,
      classes: q?.only ? null : (scores?.classes ?? null),
      ...(q?.only ? { judged_as: q.only.name } : {}),
      judge_accuracy: q?.accuracy ?? null,
      diversity: div,
      real_diversity: this.realDiversity,
      samples: samplesFile,
      losses: lossesFile,
      warnings: this.watch(step, history, div),
    };
  }

  /**
   * The loss chart and the judge's figure over the run (from the run's metrics), at most
   * every CHART_EVERY_MS unless `now`: each costs about a third of a second.
   */
  async charts(history: LossHistory, run: RunFolder, now = false): Promise<void> {
    if (!now && Date.now() - this.chartedAt < CHART_EVERY_MS) return;
    this.chartedAt = Date.now();
    if (history.d.length > 1) {
      const steps = history.d.map((_, i) => (i + 1) * this.s.logEvery);
      const curves = [
        { name: 'discriminator', x: steps, y: history.d },
        { name: 'generator', x: steps, y: history.a },
      ];
      await writeChart(run.file('losses.png'), lineChartSpec(curves, { x: 'step', y: 'loss (binary cross-entropy)' }));
    }
    const judged = run.readMetrics().filter((m) => typeof m.confident === 'number');
    if (judged.length > 1) {
      const curve = {
        name: 'read with p >= 0.9',
        x: judged.map((m) => m.step as number),
        y: judged.map((m) => (m.confident as number) * 100),
      };
      await writeChart(
        run.file('quality.png'),
        lineChartSpec([curve], { x: 'step', y: 'samples the judge reads (%)', smooth: 1 }),
      );
    }
  }

  private watch(step: number, history: LossHistory, div: number): string[] {
    const recent = (xs: number[]) => xs.slice(-Math.max(1, Math.floor(this.s.sampleEvery / this.s.logEvery)));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const warnings: string[] = [];
    // Early on, a generator barely varies and a discriminator wins easily: watch after a warm-up.
    if (step < (this.s.watchAfter ?? Math.max(500, 5 * this.s.sampleEvery))) return warnings;
    const d = mean(recent(history.d));
    const a = mean(recent(history.a));
    if (d < 0.1 && a > 3) {
      warnings.push(
        `the discriminator is winning (its loss ${d.toFixed(3)}, the adversarial loss ${a.toFixed(2)}); lower --d-lr or raise --dropout`,
      );
    }
    if (div < 0.25 * this.realDiversity)
      warnings.push(
        `mode collapse: the fixed-point samples vary ${((div / this.realDiversity) * 100).toFixed(0)}% as much as real images`,
      );
    return warnings;
  }

  dispose(): void {
    this.fixed.dispose();
    this.fdLatents.dispose();
    this.quality?.net.dispose();
    this.quality?.real.dispose();
  }
}
