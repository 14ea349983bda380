// Fast style transfer (Johnson et al.): a feed-forward network trained once for one style with
// perceptual losses (fast-loss.ts) on random crops of photos (fast-data.ts), then one forward
// pass per photo.
import * as T from '../../torch/index.js';
import { Adam } from '../../optim/index.js';
import { readImage, writeOwned, imageGrid } from '../../io/images.js';
import { resolveImage } from '../../io/builtin-images.js';
import { RunFolder } from '../../io/run-folder.js';
import type { Backbone } from '../../vision/weights.js';
import { Training, loadFromRun, type DistributedLog, type RunControl, type RunMode } from '../../train/index.js';
import {
  MINUTES_OPTION,
  PRECISION_OPTION,
  SEED_OPTION,
  checkOptions,
  defaultsOf,
  type ConfigOf,
  type OptionTable,
  variantDefaults,
} from '../options.js';
import { StyleNet } from './fast-net.js';
import { cropBatch, loadPhotos, photoFiles } from './fast-data.js';
import { FastStyleLoss } from './fast-loss.js';
import type { StyleLossKind } from './options.js';

/** The stability loss's weight unless told (chosen by the flicker benchmark, docs/benchmarks.md). */
const STABILITY_DEFAULT = 1000;

/** Every setting of a fast style training run, declared once (see models/options.ts). */
export const FAST_OPTIONS = {
  style: { type: 'string', default: 'builtin:scream', help: 'the style image', meta: 'IMAGE' },
  images: { type: 'string', default: 'builtin:photos', help: 'a folder of photos, or builtin:photos', meta: 'SRC' },
  size: { type: 'int', default: 256, min: 32, max: 4096, help: 'training crop side' },
  steps: { type: 'int', default: 2000, min: 1, help: 'training steps' },
  batch: { type: 'int', default: 4, min: 1, help: 'crops per step' },
  lr: { type: 'number', default: 1e-3, positive: true, help: "Adam's learning rate" },
  contentWeight: { type: 'number', default: 1, atLeast: 0, help: 'content loss weight' },
  styleWeight: {
    type: 'number',
    default: null,
    atLeast: 0,
    help: 'style loss weight, by the style loss trained with',
    byVariant: { gram: 1e4, sliced: 20 },
  },
  tvWeight: { type: 'number', default: 1e-6, atLeast: 0, help: 'total-variation weight' },
  styleLoss: {
    type: 'choice',
    default: 'backbone',
    choices: ['backbone', 'gram', 'sliced'],
    help: "gram (Gram matrices) or sliced (sliced Wasserstein distances of the activations); backbone: inception's sliced, VGG19's gram",
  },
  stability: {
    type: 'number',
    default: STABILITY_DEFAULT,
    atLeast: 0,
    help: 'weight of the stability loss: how much the output changes when the input gets small noise (steadier video; 0: off)',
  },
  stabilityNoise: {
    type: 'number',
    default: 0.03,
    positive: true,
    help: "the stability loss's noise: its standard deviation, in units of the 0..1 pixel range",
  },
  width: { type: 'int', default: 32, min: 1, max: 1024, help: "the network's first-layer channels" },
  residualBlocks: { type: 'int', default: 5, min: 0, help: 'residual blocks' },
  sampleEvery: { type: 'int', default: 100, min: 1, help: 'steps between checkpoints and preview images' },
  logEvery: { type: 'int', default: 1, min: 1, help: 'steps per log line (their mean losses)' },
  minutes: MINUTES_OPTION,
  precision: PRECISION_OPTION,
  seed: SEED_OPTION,
  backbone: {
    type: 'choice',
    default: 'inception',
    choices: ['inception', 'vgg19'],
    help: 'vgg19 (needs imported weights) or inception (built in)',
    shared: true,
  },
  weights: { type: 'string', default: null, help: 'backbone weights file', shared: true },
} as const satisfies OptionTable;

export type FastStyleConfig = ConfigOf<typeof FAST_OPTIONS>;
export const FAST_DEFAULTS: FastStyleConfig = defaultsOf(FAST_OPTIONS);
/** Runs saved before the stability loss existed resume without it; before sliced losses, with Gram losses. */
const RESUME_DEFAULTS: FastStyleConfig = { ...FAST_DEFAULTS, stability: 0, styleLoss: 'gram', styleWeight: 1e4 };

/**
 * The style loss a run trains with, and its weight. Sliced Wasserstein losses for the built-in
 * InceptionV3, whose Gram matrices are flat (sliced losses carry more of the painting's
 * texture; the comparison is in docs/benchmarks.md); VGG19 keeps Gram losses, with which the
 * fast nets were made.
 */
export function fastStyleLoss(
  c: FastStyleConfig,
  arch: 'inception' | 'vgg19',
): { kind: StyleLossKind; weight: number } {
  const kind = c.styleLoss === 'backbone' ? (arch === 'inception' ? 'sliced' : 'gram') : c.styleLoss;
  return { kind, weight: c.styleWeight ?? (variantDefaults(FAST_OPTIONS, kind).styleWeight as number) };
}

export function validateFastConfig(c: FastStyleConfig): void {
  checkOptions(FAST_OPTIONS, c);
}

export interface FastStepLog extends DistributedLog {
  step: number;
  loss: number;
  content_loss: number;
  style_loss: number;
  tv_loss: number;
  stability_loss: number;
  ms_per_step: number;
}

/** Trains a style network in a run folder; checkpoints and sample images every sampleEvery steps. */
export async function trainFastStyle(
  backbone: Backbone,
  config: FastStyleConfig,
  outDir: string,
  mode: RunMode,
  hooks: RunControl & { onStep?(l: FastStepLog): void; onSample?(step: number, file: string): void } = {},
): Promise<{ steps: number; seconds: number; stoppedEarly: boolean }> {
  using t = Training.open({
    system: 'style',
    config,
    defaults: RESUME_DEFAULTS,
    outDir,
    mode,
    fromCommand: ['steps', 'minutes'],
    shouldStop: hooks.shouldStop,
    signal: hooks.signal,
    onNote: hooks.onNote,
    advice: 'lower --lr',
    validate: validateFastConfig,
  });
  const { cfg, run } = t;
  const photos = await loadPhotos(photoFiles(cfg.images), cfg.size);
  for (const p of photos) t.own(p);
  const style = t.own(await readImage(resolveImage(cfg.style), { height: cfg.size }));
  const [, , sh, sw] = style.shape;
  if (!FastStyleLoss.fits(backbone, cfg.size, cfg.size) || !FastStyleLoss.fits(backbone, sh, sw)) {
    throw new Error(
      `--size ${cfg.size} is too small: ${backbone.net.arch}'s style layers shrink the images to nothing`,
    );
  }
  T.manualSeed(cfg.seed);
  const styleLoss = fastStyleLoss(cfg, backbone.net.arch);
  const net = t.own(new StyleNet({ width: cfg.width, residualBlocks: cfg.residualBlocks }));
  const opt = t.own(new Adam(net.parameters(), { lr: cfg.lr }));
  const loss = t.own(
    new FastStyleLoss(
      backbone,
      style,
      { content: cfg.contentWeight, style: styleLoss.weight, tv: cfg.tvWeight },
      styleLoss.kind,
    ),
  );
  // The largest product: a residual block's convolution (at a quarter of the side, four
  // times the width), as im2col multiplies it.
  const side = Math.ceil(cfg.size / 4);
  const precision = t.precision([cfg.batch * side * side, cfg.width * 4 * 9, cfg.width * 4]);
  t.begin({ modules: { net }, optimizers: { adam: opt } }, { config: precision.record });
  // A fixed preview: the first photo, centre-cropped, stylised at every sample.
  const preview = t.own(
    T.keep(
      T.tidy(() => {
        const p = photos[0];
        const [, , h, w] = p.shape;
        return p
          .narrow(2, Math.floor((h - cfg.size) / 2), cfg.size)
          .narrow(3, Math.floor((w - cfg.size) / 2), cfg.size);
      }),
    ),
  );
  const sample = async () => {
    t.save();
    const file = run.file('samples', `${RunFolder.stepTag(t.step)}.png`);
    await writeOwned(
      file,
      T.noGrad(() =>
        T.tidy(() => {
          net.eval();
          const y = net.forward(preview);
          net.train();
          return imageGrid(T.cat([preview, y], 0), { cols: 2 });
        }),
      ),
    );
    hooks.onSample?.(t.step, file);
  };
  for await (const step of t.steps(cfg.steps)) {
    const terms = T.tidy(() => {
      // Data-parallel: the step's global batch of crops, of which this rank takes its share.
      const x = cropBatch(photos, cfg.size, cfg.batch * t.world, cfg.seed, step).narrow(
        0,
        t.rank * cfg.batch,
        cfg.batch,
      );
      const { l, stability, total } = precision.run(() => {
        const y = net.forward(x);
        const l = loss.terms(x, y);
        // Stability (Gupta et al. 2017): the same crops with a little noise, as consecutive video
        // frames of a still scene differ, should give the same output; instance normalisation
        // otherwise amplifies such noise in flat regions into flicker.
        const stability =
          cfg.stability > 0 ? T.mseLoss(net.forward(x.add(T.randn(x.shape).mul(cfg.stabilityNoise))), y) : T.zeros([]);
        return { l, stability, total: cfg.stability > 0 ? l.total.add(stability.mul(cfg.stability)) : l.total };
      });
      opt.backwardStep(total);
      return {
        loss: total.item(),
        content_loss: l.content.item(),
        style_loss: l.style.item(),
        tv_loss: l.tv.item(),
        stability_loss: stability.item(),
      };
    });
    const due = t.advance(terms, cfg.steps);
    if (due) {
      const l = {
        step: t.step,
        ...(due.mean as Omit<FastStepLog, 'step' | 'ms_per_step' | keyof DistributedLog>),
        ms_per_step: due.msPerStep,
        ...t.distributedLog(cfg.batch, due),
      };
      run.log({ ...l });
      hooks.onStep?.(l);
    }
    if (t.step % cfg.sampleEvery === 0 || t.step === cfg.steps) await sample();
  }
  t.save();
  return { steps: t.step, seconds: (Date.now() - t.started) / 1000, stoppedEarly: t.stopReason === 'asked' };
}

/** A trained style network from a run folder or checkpoint. */
export function loadStyleNet(source: string): StyleNet {
  const net = loadFromRun<StyleNet, FastStyleConfig>(source, (ck, file) => {
    const { width, residualBlocks } = ck.config;
    if (width === undefined || residualBlocks === undefined || !ck.tensors.has('module.net.layers.0.conv.weight')) {
      throw new Error(`${file} is not a fast style checkpoint`);
    }
    const net = new StyleNet({ width, residualBlocks });
    return { value: net, modules: { net } };
  });
  net.eval();
  net.freeze();
  return net;
}
