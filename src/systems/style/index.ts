// Style: neural style transfer (Gatys et al., optimised per image), and fast style networks
// trained once per painting that then stylise a photo in one forward pass.
import * as T from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import {
  STYLE_DEFAULTS,
  loadStyleNet,
  transferStyle,
  type FastStepLog,
  type FastStyleConfig,
  type StyleConfig,
  type StyleImage,
  type StyleIteration,
} from '../../models/style/index.js';
import { Breather } from '../../train/index.js';
import { backboneOf, type BackboneOptions } from '../backbone.js';
import { runTrainer, type Control, type RunPlace } from '../common.js';
import { fastStyleTrainer, type TrainFastProgress } from './trainer.js';
import { withSentences, withSentencesSync } from '../errors.js';
import { imageOf, type ImageInput } from '../images.js';

export type { FastStepLog, FastStyleConfig, StyleConfig, StyleIteration, TrainFastProgress };

/** The settings of `loom style`, each optional (its default), and the backbone. */
export type TransferOptions = Partial<StyleConfig> & BackboneOptions;

/** A style image with its weight among several (default 1), and where in the photo it goes. */
export interface StyleInput {
  image: ImageInput;
  weight?: number;
  /** [1, 1, H, W] in [0, 1] at the photo's aspect; none: everywhere. */
  mask?: Tensor | null;
}

export type TransferProgress = { type: 'iteration'; iteration: StyleIteration };

/**
 * Paints `content` in the style of one or more images; resolves with the image (RGB in [0, 1],
 * [1, 3, H, W], the caller's to dispose). An abort resolves with the best image so far.
 */
export async function transfer(
  content: ImageInput,
  styles: ImageInput | StyleInput[],
  options: TransferOptions = {},
  control: Control<TransferProgress> = {},
): Promise<Tensor> {
  return withSentences(async () => {
    const list: StyleInput[] = Array.isArray(styles) ? styles : [{ image: styles }];
    const made: Tensor[] = [];
    const read = async (x: ImageInput, maxSide?: number) => {
      const { image, made: ours } = await imageOf(x, maxSide ? { maxSide } : {});
      if (ours) made.push(image);
      return image;
    };
    try {
      const photo = await read(content);
      const painted: StyleImage[] = [];
      for (const s of list) painted.push({ image: await read(s.image, 1024), weight: s.weight ?? 1, mask: s.mask });
      const cfg: StyleConfig = { ...STYLE_DEFAULTS, ...defined(options) };
      const backbone = backboneOf(options);
      const breather = new Breather();
      try {
        return await transferStyle(backbone, photo, painted, cfg, {
          shouldStop: () => Boolean(control.signal?.aborted),
          onNote: control.onNote,
          // Each iteration lets the event loop run now and then, so that a timer's abort is seen.
          onIteration: async (iteration) => {
            control.onProgress?.({ type: 'iteration', iteration });
            await breather.breathe();
          },
        });
      } finally {
        backbone.net.dispose();
      }
    } finally {
      for (const t of made) t.dispose();
    }
  });
}

/** The settings of `loom style train`, each optional (the table's default), where the run goes, and the backbone. */
export type TrainFastOptions = Partial<FastStyleConfig> & RunPlace & BackboneOptions;

export interface TrainFastResult {
  dir: string;
  steps: number;
  /** The signal stopped it; its checkpoint is saved, and `resume: true` continues it. */
  aborted: boolean;
}

/** Trains (or with `resume`, continues) a fast style network into `options.out`. An abort resolves. */
export async function trainFast(
  options: TrainFastOptions,
  control: Control<TrainFastProgress> = {},
): Promise<TrainFastResult> {
  return withSentences(async () => {
    const { backbone, weights, ...rest } = options;
    const r = await runTrainer(fastStyleTrainer, rest, control, { backbone, weights });
    return { dir: options.out, steps: r.steps, aborted: r.stoppedEarly };
  });
}

/** A trained fast style network; dispose() frees it. */
export interface FastStyleModel extends Disposable {
  /** The photo stylised in one forward pass (RGB in [0, 1], the caller's to dispose); a file is read at `height`. */
  apply(image: ImageInput, options?: { height?: number }): Promise<Tensor>;
  dispose(): void;
}

/** Loads a trained fast style network from a run folder or a checkpoint file. */
export async function loadFast(source: string): Promise<FastStyleModel> {
  const net = await withSentences(() => loadStyleNet(source));
  let disposed = false;
  const dispose = () => {
    if (!disposed) net.dispose();
    disposed = true;
  };
  return {
    apply: (input, o = {}) =>
      withSentences(async () => {
        if (disposed) throw new Error('this style network was disposed');
        const { image, made } = await imageOf(input, o.height ? { height: o.height } : {});
        try {
          return withSentencesSync(() => T.noGrad(() => net.forward(image)));
        } finally {
          if (made) image.dispose();
        }
      }),
    dispose,
    [Symbol.dispose]: dispose,
  };
}

/** The options that are set, so that an undefined one leaves its default. */
function defined<O extends object>(o: O): Partial<O> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<O>;
}
