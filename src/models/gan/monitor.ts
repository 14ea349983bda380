// What the GAN's trainer watches at each sample step: a picture from fixed latent points, the
// quality figure (Fréchet distance of a feature net's features, generated against real), the
// samples' diversity, and the two failures the seed warns about (a winning discriminator,
// mode collapse).
import * as T from '../../torch/index.js';
import { Tensor, noGrad, tidy } from '../../torch/index.js';
import { Rng } from '../../util/random.js';
import { imageGrid, writeOwned } from '../../io/images.js';
import { linePlot } from '../../io/plot.js';
import { RunFolder } from '../../io/run-folder.js';
import type { ImageDataset } from '../../io/datasets.js';
import type { FeatureNet } from './quality.js';
import { featuresOf, frechetDistance, trainFeatureNet } from './quality.js';
import type { Generator } from './model.js';

/** Generated images scored for the quality figure at each sample step. */
const FD_SAMPLES = 256;

/** Gaussian latent points from a seed, drawn in JS so they never touch training's RNG. */
export function fixedLatents(seed: number, count: number, latent: number): Tensor {
  const rng = new Rng(seed, 0x1a7e);
  const z = new Float32Array(count * latent);
  for (let i = 0; i < z.length; i++) z[i] = rng.gaussian();
  return T.tensor(z, { shape: [count, latent] });
}

/** Mean per-pixel standard deviation across a batch: how different the images are. */
export function diversity(images: Tensor): number {
  return tidy(() => T.std(images, [0], 1).mean().item());
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

export class GanMonitor {
  private readonly fixed: Tensor;
  private readonly fdLatents: Tensor;
  readonly realDiversity: number;

  private constructor(
    private readonly s: WatchSettings,
    private readonly quality: { net: FeatureNet; accuracy: number; real: Tensor } | null,
    images: Tensor,
  ) {
    this.fixed = T.keep(fixedLatents(s.seed, 64, s.latent));
    this.fdLatents = T.keep(fixedLatents(s.seed + 1, FD_SAMPLES, s.latent));
    this.realDiversity = diversity(images.narrow(0, 0, Math.min(64, images.size(0))));
  }

  /**
   * A monitor for real images in [-1, 1]. The quality figure's feature net is trained on the
   * labels when there are at least two classes; seeded on its own and run on a fork of the
   * RNG, so training is not perturbed.
   */
  static async create(s: WatchSettings, images: Tensor, data: ImageDataset, featureSeed: number): Promise<GanMonitor> {
    const labelled = data.classes.length >= 2 && tidy(() => data.labels.max().item() > data.labels.min().item());
    const quality = labelled
      ? await T.withRngFork(() => {
          T.manualSeed(featureSeed + 7919);
          const { net, accuracy } = trainFeatureNet(images, data.labels, data.classes.length);
          const real = T.keep(featuresOf(net, images.narrow(0, 0, Math.min(2000, images.size(0)))));
          return { net, accuracy, real };
        })
      : null;
    return new GanMonitor(s, quality, images);
  }

  /** The feature net's test accuracy, or null when the data has no labels. */
  get featureNetAccuracy(): number | null {
    return this.quality?.accuracy ?? null;
  }

  /** Samples from the fixed points, the loss chart and the quality figures, with warnings. */
  async check(g: Generator, step: number, history: LossHistory, run: RunFolder): Promise<GanSampleLog> {
    const gen = noGrad(() => tidy(() => g.forward(this.fixed)));
    const div = diversity(gen);
    const q = this.quality;
    const fd = q
      ? tidy(() => {
          const parts: Tensor[] = [];
          for (let i = 0; i < FD_SAMPLES; i += 64)
            parts.push(noGrad(() => g.forward(this.fdLatents.narrow(0, i, Math.min(64, FD_SAMPLES - i)))));
          return frechetDistance(q.real, featuresOf(q.net, T.cat(parts, 0)));
        })
      : null;
    const samplesFile = run.file('samples', `${RunFolder.stepTag(step)}.png`);
    await writeOwned(
      samplesFile,
      tidy(() => imageGrid(gen.add(1).div(2), { cols: 8 })),
    );
    gen.dispose();
    const lossesFile = run.file('losses.png');
    if (history.d.length > 1) await writeOwned(lossesFile, linePlot([history.d, history.a]));
    return {
      step,
      fd,
      diversity: div,
      real_diversity: this.realDiversity,
      samples: samplesFile,
      losses: lossesFile,
      warnings: this.watch(step, history, div),
    };
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
