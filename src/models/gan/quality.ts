// Quality figures for generated images of labelled data: a judge (a classifier trained on the
// data's labels) says how many samples it reads with confidence, and the Fréchet distance
// between its features of real and generated images. Comparable between runs on one data
// set; not comparable with published FID, which uses ImageNet Inception features.
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as T from '../../torch/index.js';
import { Tensor, noGrad, tidy } from '../../torch/index.js';
import { Conv2d, Linear, Module, crossEntropy } from '../../nn/index.js';
import { Adam } from '../../optim/index.js';
import { loadBuiltin, type ImageDataset } from '../../io/datasets.js';
import { makeFolder } from '../../io/files.js';
import { loadSafetensors, saveSafetensors } from '../../io/safetensors.js';
import { cacheFolder } from '../../vision/weights.js';

/**
 * The judge: a small classifier of the data's labels (two strided convolutions, a hidden
 * layer of 128 features, the classes). Its confidence on generated images says whether they
 * look like any class; its hidden features feed the Fréchet distance. A few epochs make it
 * accurate enough to judge by (its test accuracy on MNIST: docs/benchmarks.md).
 */
export class Judge extends Module {
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(channels: number, height: number, width: number, classes: number) {
    super();
    const quarter = (s: number) => Math.ceil(Math.ceil(s / 2) / 2);
    this.conv1 = this.registerModule('conv1', new Conv2d(channels, 16, 5, { stride: 2, padding: 2 }));
    this.conv2 = this.registerModule('conv2', new Conv2d(16, 32, 5, { stride: 2, padding: 2 }));
    this.fc1 = this.registerModule('fc1', new Linear(32 * quarter(height) * quarter(width), 128));
    this.fc2 = this.registerModule('fc2', new Linear(128, classes));
  }
  /** 128 features per image (the hidden layer) of images in [-1, 1]. */
  features(x: Tensor): Tensor {
    const y = this.conv2.forward(this.conv1.forward(x).relu()).relu();
    return this.fc1.forward(y.flatten(1)).relu();
  }
  override forward(x: Tensor): Tensor {
    return this.fc2.forward(this.features(x));
  }
}

/** Share of `images` whose label the judge predicts, evaluated in batches. */
export function judgeAccuracy(net: Judge, images: Tensor, labels: Tensor, batch = 1000): number {
  return noGrad(() =>
    tidy(() => {
      let right = 0;
      for (let i = 0; i < images.size(0); i += batch) {
        const k = Math.min(batch, images.size(0) - i);
        right += net
          .forward(images.narrow(0, i, k))
          .argmax(1)
          .eq(labels.narrow(0, i, k))
          .sum()
          .item();
      }
      return right / images.size(0);
    }),
  );
}

/**
 * The threads a judge trains on, whatever the run's setting: a convolution's sums come out
 * in another order on another count, so the cached judge, and every score against it, would
 * depend on the --threads of the run that happened to train it.
 */
const JUDGE_THREADS = 2;

/** Labelled images in [-1, 1]; with `rows` (int64), only those rows of them. */
export interface JudgeData {
  images: Tensor;
  labels: Tensor;
  rows?: Tensor;
}

/**
 * Trains a judge on labelled images in [-1, 1] with Adam, its rate falling linearly to zero
 * over `epochs` shuffled passes (at most `maxSteps` steps), on JUDGE_THREADS threads; returns
 * it in eval mode with its accuracy on the held-out images. `shouldStop` ends training early (Ctrl-C).
 */
export function trainJudge(
  train: JudgeData,
  heldOut: { images: Tensor; labels: Tensor },
  classes: number,
  opts: { epochs?: number; batch?: number; maxSteps?: number; shouldStop?: () => boolean } = {},
): { net: Judge; accuracy: number } {
  return T.withThreads(JUDGE_THREADS, () => trainJudgeHere(train, heldOut, classes, opts));
}

function trainJudgeHere(
  train: JudgeData,
  heldOut: { images: Tensor; labels: Tensor },
  classes: number,
  opts: { epochs?: number; batch?: number; maxSteps?: number; shouldStop?: () => boolean } = {},
): { net: Judge; accuracy: number } {
  const [, c, h, w] = train.images.shape;
  const n = train.rows?.size(0) ?? train.images.size(0);
  const batch = Math.min(opts.batch ?? 64, n);
  const perEpoch = Math.floor(n / batch);
  const total = Math.min(opts.maxSteps ?? Infinity, (opts.epochs ?? 3) * perEpoch);
  const net = new Judge(c, h, w, classes);
  using opt = new Adam(net.parameters(), { lr: 1e-3 });
  let order: Tensor | null = null;
  try {
    for (let s = 0; s < total && !opts.shouldStop?.(); s++) {
      if (s % perEpoch === 0) {
        order?.dispose();
        order = T.keep(T.randperm(n, 'int64'));
      }
      const at = (s % perEpoch) * batch;
      opt.lr = 1e-3 * (1 - s / total);
      tidy(() => {
        const drawn = order!.narrow(0, at, batch);
        const idx = train.rows ? train.rows.indexSelect(0, drawn) : drawn;
        opt.backwardStep(crossEntropy(net.forward(train.images.indexSelect(0, idx)), train.labels.indexSelect(0, idx)));
      });
    }
  } finally {
    order?.dispose();
  }
  net.eval();
  return { net, accuracy: judgeAccuracy(net, heldOut.images, heldOut.labels) };
}

/**
 * How convincingly generated images [N, C, H, W] in [-1, 1] show classes: the share the
 * judge classifies with probability at least `threshold`, and how many classes those cover.
 * With `only` (a run on one class), the share it classifies as that class.
 */
export function judgeScore(
  net: Judge,
  images: Tensor,
  threshold = 0.9,
  only?: number,
): { confident: number; classes: number } {
  return noGrad(() =>
    tidy(() => {
      const [p, cls] = net.forward(images).softmax(1).max(1);
      const sure = only === undefined ? p.ge(threshold) : p.ge(threshold).logicalAnd(cls.eq(only));
      const classes = new Set(cls.maskedSelect(sure).toFlatArray() as number[]).size;
      return { confident: sure.float().mean().item(), classes };
    }),
  );
}

/** Features of many images, in batches, as float64. */
export function featuresOf(net: Judge, images: Tensor, batch = 500): Tensor {
  return noGrad(() =>
    tidy(() => {
      const parts: Tensor[] = [];
      for (let i = 0; i < images.size(0); i += batch)
        parts.push(net.features(images.narrow(0, i, Math.min(batch, images.size(0) - i))));
      return T.cat(parts, 0).to('float64');
    }),
  );
}

/** The symmetric square root of a PSD matrix (through its eigen-decomposition). */
function sqrtPsd(m: Tensor): Tensor {
  const [w, v] = T.linalgEigh(m);
  return v.mul(w.clamp(0).sqrt().unsqueeze(0)).matmul(v.t());
}

/**
 * The Fréchet distance between Gaussians fitted to two feature sets [N, d] and [M, d]:
 * |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1^1/2 S2 S1^1/2)^1/2).
 */
export function frechetDistance(f1: Tensor, f2: Tensor): number {
  return tidy(() => {
    const stats = (f: Tensor) => {
      const mu = f.mean({ dim: 0 });
      const c = f.sub(mu);
      return [
        mu,
        c
          .t()
          .matmul(c)
          .div(f.size(0) - 1),
      ] as const;
    };
    const [m1, s1] = stats(f1.to('float64'));
    const [m2, s2] = stats(f2.to('float64'));
    const r = sqrtPsd(s1);
    const cross = T.linalgEigh(r.matmul(s2).matmul(r))[0].clamp(0).sqrt().sum();
    return m1.sub(m2).square().sum().add(s1.trace()).add(s2.trace()).sub(cross.mul(2)).item();
  });
}

/** Built-in labelled sets whose judge is trained once and kept in the weights cache. */
const CACHED_JUDGES = ['builtin:mnist', 'builtin:fashion-mnist'];

/**
 * The judge of a built-in data set, trained once on its training split (three epochs,
 * seeded) and scored on its test split, then kept in the weights cache; null for other data.
 * Training takes about half a minute on two cores; `onTrain` is told before it starts.
 */
export async function builtinJudge(
  spec: string,
  opts: { onTrain?: () => void; shouldStop?: () => boolean } = {},
): Promise<{ net: Judge; accuracy: number } | null> {
  if (!CACHED_JUDGES.includes(spec)) return null;
  const file = path.join(cacheFolder(), `judge-${spec.slice('builtin:'.length)}.safetensors`);
  if (existsSync(file)) {
    const { tensors, metadata } = loadSafetensors(file);
    const [c, h, w, classes] = JSON.parse(metadata.shape ?? '[]') as number[];
    const net = new Judge(c, h, w, classes);
    net.loadStateDict(tensors);
    for (const t of tensors.values()) t.dispose();
    return { net: net.eval(), accuracy: Number(metadata.accuracy) };
  }
  opts.onTrain?.();
  const train = loadBuiltin(spec, 'train');
  const test = loadBuiltin(spec, 'test');
  try {
    const tanh = (d: ImageDataset) => ({ images: T.keep(tidy(() => d.images.mul(2).sub(1))), labels: d.labels });
    const [tr, te] = [tanh(train), tanh(test)];
    try {
      const r = await T.withRngFork(() => {
        T.manualSeed(20_231);
        return trainJudge(tr, te, train.classes.length, { shouldStop: opts.shouldStop });
      });
      if (opts.shouldStop?.()) return r; // stopped early: used for this run, not kept
      const [, c, h, w] = train.images.shape;
      makeFolder(path.dirname(file));
      saveSafetensors(file, r.net.stateDict(), {
        shape: JSON.stringify([c, h, w, train.classes.length]),
        accuracy: String(r.accuracy),
        source: `${spec}, 3 epochs; accuracy on its test split`,
      });
      return r;
    } finally {
      tr.images.dispose();
      te.images.dispose();
    }
  } finally {
    train.dispose();
    test.dispose();
  }
}
