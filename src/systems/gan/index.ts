// GAN: train a DCGAN (the book's Keras recipe or the dcgan one) on images, load its generator, and draw images.
import * as T from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import {
  checkDrawCount,
  classIndex,
  drawImages,
  loadGenerator,
  type GanSampleLog,
  type GanStepLog,
  type GanTrainConfig,
} from '../../models/gan/index.js';
import { runTrainer, type Control, type RunPlace } from '../common.js';
import { ganTrainer, type Progress } from './trainer.js';
import { withSentences, withSentencesSync } from '../errors.js';

export type { GanSampleLog, GanStepLog, GanTrainConfig, Progress };

/** The settings of `loom gan train`, each optional (the table's default), and where the run goes. */
export type TrainOptions = Partial<GanTrainConfig> & RunPlace;

export interface TrainResult {
  dir: string;
  steps: number;
  /** Times the run went back to a good checkpoint after a collapse. */
  rollbacks: number;
  /** The signal stopped it; its checkpoint is saved, and `resume: true` continues it. */
  aborted: boolean;
}

/** Trains (or with `resume`, continues) a GAN into `options.out`. An abort resolves (see Control). */
export async function train(options: TrainOptions, control: Control<Progress> = {}): Promise<TrainResult> {
  return withSentences(async () => {
    const r = await runTrainer(ganTrainer, options, control);
    return { dir: options.out, steps: r.steps, rollbacks: r.rollbacks, aborted: r.stoppedEarly };
  });
}

/** A trained generator; dispose() frees it. */
export interface GanModel extends Disposable {
  /** The latent dimensions. */
  readonly latent: number;
  /** A conditional run's class names (none for an unconditional one). */
  readonly classes: string[];
  /**
   * `count` images [N, C, H, W] in [0, 1] (the caller disposes them): of the class named (by
   * name or number), or of every class in turn. The same seed gives the same images.
   */
  sample(count: number, options?: { seed?: number; label?: string }): Tensor;
  dispose(): void;
}

/** Loads a trained GAN's generator (its averaged weights, if the run kept them). */
export async function load(source: string): Promise<GanModel> {
  const g = await withSentences(() => loadGenerator(source));
  let disposed = false;
  const dispose = () => {
    if (!disposed) g.dispose();
    disposed = true;
  };
  return {
    latent: g.config.latent,
    classes: [...g.classNames],
    sample: (count, o = {}) =>
      withSentencesSync(() => {
        if (disposed) throw new Error('this GAN was disposed');
        checkDrawCount(count);
        const only = classIndex(g, o.label);
        if (o.seed !== undefined) T.manualSeed(o.seed);
        return T.noGrad(() => T.tidy(() => drawImages(g, T.randn([count, g.config.latent]), only)));
      }),
    dispose,
    [Symbol.dispose]: dispose,
  };
}
