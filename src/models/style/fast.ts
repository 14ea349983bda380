// Fast style transfer (Johnson et al.): a feed-forward network trained once for one style with
// perceptual losses (fast-loss.ts) on random crops of photos (fast-data.ts), then one forward
// pass per photo.
import * as T from '../../torch/index.js';
import { Adam } from '../../optim/index.js';
import { readImage, writeOwned, imageGrid } from '../../io/images.js';
import { resolveImage } from '../../io/builtin-images.js';
import { RunFolder } from '../../io/run-folder.js';
import type { Backbone } from '../../vision/weights.js';
import { Training, loadFromRun } from '../../train/index.js';
import { positiveNumber, wholeNumber } from '../checks.js';
import { StyleNet } from './fast-net.js';
import { cropBatch, loadPhotos, photoFiles } from './fast-data.js';
import { FastStyleLoss } from './fast-loss.js';

export interface FastStyleConfig {
  style: string;
  images: string;
  size: number;
  steps: number;
  batch: number;
  lr: number;
  contentWeight: number;
  styleWeight: number;
  tvWeight: number;
  width: number;
  residualBlocks: number;
  sampleEvery: number;
  logEvery: number;
  minutes: number | null;
  seed: number;
  backbone: 'inception' | 'vgg19';
  weights: string | null;
}

export const FAST_DEFAULTS: FastStyleConfig = {
  style: 'builtin:scream', images: 'builtin:photos', size: 256, steps: 2000, batch: 4, lr: 1e-3,
  contentWeight: 1, styleWeight: 1e4, tvWeight: 1e-6, width: 32, residualBlocks: 5, sampleEvery: 100, logEvery: 1,
  minutes: null, seed: 0, backbone: 'inception', weights: null,
};

export function validateFastConfig(c: FastStyleConfig): void {
  wholeNumber('size', c.size, 32);
  wholeNumber('steps', c.steps, 1);
  wholeNumber('batch', c.batch, 1);
  wholeNumber('sample-every', c.sampleEvery, 1);
  wholeNumber('log-every', c.logEvery, 1);
  positiveNumber('lr', c.lr);
  if (c.minutes !== null) positiveNumber('minutes', c.minutes);
}

export interface FastStepLog {
  step: number;
  loss: number;
  content_loss: number;
  style_loss: number;
  tv_loss: number;
  ms_per_step: number;
}

/** Trains a style network in a run folder; checkpoints and sample images every sampleEvery steps. */
export async function trainFastStyle(
  backbone: Backbone, config: FastStyleConfig, outDir: string, mode: { resume?: boolean; force?: boolean },
  hooks: { onStep?(l: FastStepLog): void; onSample?(step: number, file: string): void; shouldStop?(): boolean } = {},
): Promise<{ steps: number; seconds: number }> {
  // Runs from before --minutes and --log-every lack them; they take the defaults.
  using t = Training.open({
    system: 'style', config, outDir, mode, fromCommand: ['steps', 'minutes'], shouldStop: hooks.shouldStop, advice: 'lower --lr',
    validate: (c) => validateFastConfig(Object.assign(c, { logEvery: c.logEvery ?? FAST_DEFAULTS.logEvery, minutes: c.minutes ?? null })),
  });
  const { cfg, run } = t;
  const photos = await loadPhotos(photoFiles(cfg.images), cfg.size);
  for (const p of photos) t.own(p);
  const style = t.own(await readImage(resolveImage(cfg.style), { height: cfg.size }));
  T.manualSeed(cfg.seed);
  const net = t.own(new StyleNet({ width: cfg.width, residualBlocks: cfg.residualBlocks }));
  const opt = t.own(new Adam(net.parameters(), { lr: cfg.lr }));
  const loss = t.own(new FastStyleLoss(backbone, style, { content: cfg.contentWeight, style: cfg.styleWeight, tv: cfg.tvWeight }));
  t.begin({ modules: { net }, optimizers: { adam: opt } });
  // A fixed preview: the first photo, centre-cropped, stylised at every sample.
  const preview = t.own(T.keep(T.tidy(() => {
    const p = photos[0];
    const [, , h, w] = p.shape;
    return p.narrow(2, Math.floor((h - cfg.size) / 2), cfg.size).narrow(3, Math.floor((w - cfg.size) / 2), cfg.size);
  })));
  const sample = async () => {
    t.save();
    const file = run.file('samples', `${RunFolder.stepTag(t.step)}.png`);
    await writeOwned(file, T.noGrad(() => T.tidy(() => {
      net.eval();
      const y = net.forward(preview);
      net.train();
      return imageGrid(T.cat([preview, y], 0), { cols: 2 });
    })));
    hooks.onSample?.(t.step, file);
  };
  for (const step of t.steps(cfg.steps)) {
    const terms = T.tidy(() => {
      const x = cropBatch(photos, cfg.size, cfg.batch, cfg.seed, step);
      const l = loss.terms(x, net.forward(x));
      opt.backwardStep(l.total);
      return { loss: l.total.item(), content_loss: l.content.item(), style_loss: l.style.item(), tv_loss: l.tv.item() };
    });
    const due = t.advance(terms, cfg.steps);
    if (due) {
      const l = { step: t.step, ...(due.mean as Omit<FastStepLog, 'step' | 'ms_per_step'>), ms_per_step: due.msPerStep };
      run.log(l);
      hooks.onStep?.(l);
    }
    if (t.step % cfg.sampleEvery === 0 || t.step === cfg.steps) await sample();
  }
  t.save();
  return { steps: t.step, seconds: (Date.now() - t.started) / 1000 };
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
