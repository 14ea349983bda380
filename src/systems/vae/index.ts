// VAE: train a convolutional variational autoencoder on images, load it, and decode its latent space.
import * as T from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import {
  checkSampleCount,
  latentGrid,
  loadVae,
  resolveImage,
  sampleGrid,
  walk,
  type VaeEpochLog,
  type VaeStepLog,
  type VaeTrainConfig,
} from '../../models/vae/index.js';
import { runTrainer, type Control, type RunPlace } from '../common.js';
import { vaeTrainer, type Progress } from './trainer.js';
import { withSentences, withSentencesSync } from '../errors.js';

export type { Progress, VaeEpochLog, VaeStepLog, VaeTrainConfig };

/** The settings of `loom vae train`, each optional (the table's default), and where the run goes. */
export type TrainOptions = Partial<VaeTrainConfig> & RunPlace;

export interface TrainResult {
  dir: string;
  steps: number;
  epochs: number;
  /** The test set's negative ELBO and its two terms, in nats per image. */
  test: { elbo: number; rec: number; kl: number };
  /** The signal stopped it; its checkpoint is saved, and `resume: true` continues it. */
  aborted: boolean;
}

/** Trains (or with `resume`, continues) a VAE into `options.out`. An abort resolves (see Control). */
export async function train(options: TrainOptions, control: Control<Progress> = {}): Promise<TrainResult> {
  return withSentences(async () => {
    const r = await runTrainer(vaeTrainer, options, control);
    return { dir: options.out, steps: r.steps, epochs: r.epochs, test: r.test, aborted: r.stoppedEarly };
  });
}

/**
 * A trained VAE. Images are tensors [N, C, H, W] in [0, 1], owned by the caller (dispose
 * them); dispose() frees the model.
 */
export interface VaeModel extends Disposable {
  readonly config: VaeTrainConfig;
  /** The latent dimensions. */
  readonly latent: number;
  /** The run's class names, when its data had them. */
  readonly classes: string[];
  /** Decodes latent points: a tensor [N, latent] or rows of numbers. */
  decode(z: Tensor | number[][]): Tensor;
  /** One image: a size×size grid of decoded points at Gaussian quantiles over two latent dimensions. */
  grid(size: number, dims?: [number, number]): Tensor;
  /** One image: a grid of `count` points drawn from the prior (the same seed, the same points). */
  sample(count: number, options?: { seed?: number }): Tensor;
  /** Frames [steps, C, H, W] decoded between the codes of two images (tensors [1, C, H, W] or files). */
  interpolate(
    a: Tensor | string,
    b: Tensor | string,
    steps: number,
    options?: { spherical?: boolean },
  ): Promise<Tensor>;
  dispose(): void;
}

/** Loads a trained VAE from a run folder or a checkpoint file. */
export async function load(source: string): Promise<VaeModel> {
  const { model, config, classes } = await withSentences(() => loadVae(source));
  let disposed = false;
  /** Runs work on the model, which must not be disposed; its sentences as LoomErrors. */
  const onModel = <R>(work: () => R): R =>
    withSentencesSync(() => {
      if (disposed) throw new Error('this VAE was disposed');
      return work();
    });
  const dispose = () => {
    if (!disposed) model.dispose();
    disposed = true;
  };
  const image = async (x: Tensor | string) => (typeof x === 'string' ? resolveImage(model, x, null) : x);
  return {
    config,
    latent: model.config.latent,
    classes,
    decode: (z) =>
      onModel(() =>
        T.noGrad(() =>
          T.tidy(() =>
            model.decode(
              Array.isArray(z) ? T.tensor(Float32Array.from(z.flat()), { shape: [z.length, model.config.latent] }) : z,
            ),
          ),
        ),
      ),
    grid: (size, dims = [0, 1]) => onModel(() => latentGrid(model, size, dims)),
    sample: (count, o = {}) =>
      onModel(() => {
        checkSampleCount(count);
        if (o.seed !== undefined) T.manualSeed(o.seed);
        return sampleGrid(model, count);
      }),
    interpolate: (a, b, steps, o = {}) =>
      withSentences(async () => {
        onModel(() => undefined);
        const [x, y] = [await image(a), await image(b)];
        try {
          return walk(model, x, y, steps, o.spherical ?? false);
        } finally {
          if (x !== a) x.dispose();
          if (y !== b) y.dispose();
        }
      }),
    dispose,
    [Symbol.dispose]: dispose,
  };
}
