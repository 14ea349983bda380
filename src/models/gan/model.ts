// The book's DCGAN, sized from the data (28x28x1 as well as 32x32x3): a generator from
// Gaussian latent points to tanh images through a strided transposed convolution (kernel 4,
// divisible by the stride 2), and a discriminator of strided convolutions with LeakyReLU and
// dropout, giving one logit (the sigmoid is folded into the loss).
import * as T from '../../torch/index.js';
import { Tensor } from '../../torch/index.js';
import {
  BatchNorm2d,
  Conv2d,
  ConvTranspose2d,
  Dropout,
  Linear,
  Module,
  init,
  spectralNorm,
  type SpectralNorm,
} from '../../nn/index.js';
import type { Exported } from '../../export/onnx-graph.js';
import { dcganGeneratorGraph, kerasGeneratorGraph } from './onnx.js';

/** Keras' LeakyReLU default, which the book uses. */
const SLOPE = 0.3;

export interface GanConfig {
  latent: number;
  channels: number;
  height: number;
  width: number;
  dropout: number;
  /** Convolution widths: the book's are 256 (generator) and 128 (discriminator). */
  gFilters: number;
  dFilters: number;
  /** The names of the classes the dcgan networks are conditioned on (absent or empty: none). */
  classNames?: readonly string[];
  /**
   * How often each class is drawn when no labels are given (absent: equally): for clusters of
   * unlabelled images, their sizes, so that samples follow the data.
   */
  classWeights?: readonly number[];
}

/** What sampling, monitoring and export need of a generator, whatever its recipe. */
export interface GanGenerator extends Module {
  readonly config: GanConfig;
  /** Conditioned on this many class labels (0: unconditional), named by classNames. */
  readonly classes: number;
  readonly classNames: readonly string[];
  /** Images in [-1, 1] from latent points [N, latent]; `labels` [N] (int64) when conditional. */
  forward(z: Tensor, labels?: Tensor): Tensor;
  /** Its ONNX graph: latent points (and one-hot labels) to images in [-1, 1]. */
  exportGraph(): Exported;
}

/** A discriminator of any recipe: one logit per image, high for "generated". */
export interface GanDiscriminator extends Module {
  readonly classes: number;
  forward(x: Tensor, labels?: Tensor): Tensor;
}

/** Labels 0, 1, .., classes - 1, 0, 1, .. for n images (every class in turn), or `only` n times. */
export function cyclingLabels(
  n: number,
  classes: number,
  only: number | null = null,
  weights?: readonly number[],
): Tensor {
  if (only !== null || !weights)
    return T.tensor(Int32Array.from({ length: n }, (_, i) => only ?? i % classes)).to('int64');
  // Smooth weighted round-robin: each class gains its weight every draw and the one furthest
  // ahead is drawn and pays the total, so every prefix follows the weights as closely as
  // whole draws can (equal weights give 0, 1, 2, ...).
  const total = weights.reduce((a, b) => a + b, 0);
  const credit = weights.map(() => 0);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 0; c < classes; c++) {
      credit[c] += weights[c];
      if (credit[c] > credit[best]) best = c;
    }
    credit[best] -= total;
    out[i] = best;
  }
  return T.tensor(out).to('int64');
}

/**
 * The class index a user named (by name or number) for a generator; null for none given.
 * A generator trained without labels takes none.
 */
export function classIndex(g: GanGenerator, label: string | undefined): number | null {
  if (label === undefined) return null;
  const names = g.classNames;
  if (!names.length) throw new Error('--label is for a conditional GAN; this run was trained without labels');
  const i = names.indexOf(label);
  if (i >= 0) return i;
  if (/^\d+$/.test(label) && Number(label) < names.length) return Number(label);
  throw new Error(`unknown class '${label}'; this run's classes are ${names.join(', ')}`);
}

/** Labels [N] (int64) as one-hot rows [N, classes]. */
function oneHot(labels: Tensor, classes: number): Tensor {
  return T.eye(classes).indexSelect(0, labels);
}

export class Generator extends Module implements GanGenerator {
  /** The book's generator takes no labels. */
  readonly classes = 0;
  readonly classNames: readonly string[] = [];
  readonly fc: Linear;
  readonly conv1: Conv2d;
  readonly up: ConvTranspose2d;
  readonly conv2: Conv2d;
  readonly conv3: Conv2d;
  readonly out: Conv2d;
  constructor(readonly config: GanConfig) {
    super();
    const { latent, channels, height, width, gFilters: f } = config;
    if (height % 2 || width % 2) throw new Error(`GAN images need even sides, got ${height}x${width}`);
    this.fc = this.registerModule('fc', new Linear(latent, (f / 2) * (height / 2) * (width / 2)));
    this.conv1 = this.registerModule('conv1', new Conv2d(f / 2, f, 5, { padding: 2 }));
    this.up = this.registerModule('up', new ConvTranspose2d(f, f, 4, { stride: 2, padding: 1 }));
    this.conv2 = this.registerModule('conv2', new Conv2d(f, f, 5, { padding: 2 }));
    this.conv3 = this.registerModule('conv3', new Conv2d(f, f, 5, { padding: 2 }));
    this.out = this.registerModule('out', new Conv2d(f, channels, 7, { padding: 3 }));
  }
  /** Images in [-1, 1] from latent points [N, latent]; the book's generator takes no labels. */
  override forward(z: Tensor, _labels?: Tensor): Tensor {
    const { height, width } = this.config;
    let x = this.fc
      .forward(z)
      .leakyRelu(SLOPE)
      .reshape([-1, this.config.gFilters / 2, height / 2, width / 2]);
    x = this.conv1.forward(x).leakyRelu(SLOPE);
    x = this.up.forward(x).leakyRelu(SLOPE);
    x = this.conv2.forward(x).leakyRelu(SLOPE);
    x = this.conv3.forward(x).leakyRelu(SLOPE);
    return this.out.forward(x).tanh();
  }
  exportGraph(): Exported {
    return kerasGeneratorGraph(this);
  }
}

export class Discriminator extends Module implements GanDiscriminator {
  readonly classes = 0;
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly conv3: Conv2d;
  readonly conv4: Conv2d;
  readonly drop: Dropout;
  readonly fc: Linear;
  constructor(readonly config: GanConfig) {
    super();
    const { channels, height, width, dropout, dFilters: f } = config;
    const down = (s: number) => Math.floor((s - 4) / 2) + 1;
    const side = (s: number) => down(down(down(s - 2)));
    const [h, w] = [side(height), side(width)];
    if (h < 1 || w < 1)
      throw new Error(`GAN images must be at least 24x24 for the book's discriminator, got ${height}x${width}`);
    this.conv1 = this.registerModule('conv1', new Conv2d(channels, f, 3));
    this.conv2 = this.registerModule('conv2', new Conv2d(f, f, 4, { stride: 2 }));
    this.conv3 = this.registerModule('conv3', new Conv2d(f, f, 4, { stride: 2 }));
    this.conv4 = this.registerModule('conv4', new Conv2d(f, f, 4, { stride: 2 }));
    this.drop = this.registerModule('drop', new Dropout(dropout));
    this.fc = this.registerModule('fc', new Linear(f * h * w, 1));
  }
  /** One logit per image: high means "generated" in the book's labelling (1 = fake, 0 = real). */
  override forward(x: Tensor, _labels?: Tensor): Tensor {
    let y = this.conv1.forward(x).leakyRelu(SLOPE);
    y = this.conv2.forward(y).leakyRelu(SLOPE);
    y = this.conv3.forward(y).leakyRelu(SLOPE);
    y = this.conv4.forward(y).leakyRelu(SLOPE);
    return this.fc.forward(this.drop.forward(y.flatten(1)));
  }
}

/**
 * The sides of a DCGAN's feature maps, smallest first: the image side halved while it stays
 * even and at least 4 (28: 7, 14, 28; 32: 4, 8, 16, 32; 64: 4, 8, 16, 32, 64).
 */
export function dcganSides(height: number, width: number): [number, number][] {
  const sides: [number, number][] = [[height, width]];
  for (let [h, w] = [height, width]; h % 2 === 0 && w % 2 === 0 && h / 2 >= 4 && w / 2 >= 4; h /= 2, w /= 2)
    sides.unshift([h / 2, w / 2]);
  if (sides.length < 2)
    throw new Error(`the dcgan recipe needs image sides that halve at least once to 4 or more, got ${height}x${width}`);
  return sides;
}

/** Radford et al.'s initialisation: weights from N(0, 0.02), batch-norm scales from N(1, 0.02). */
function dcganInit(m: Module): void {
  T.noGrad(() => {
    for (const [name, p] of m.namedParameters()) {
      if (name.endsWith('bias')) init.zeros_(p);
      else if (/norm\d+\.weight$/.test(name)) init.normal_(p, 1, 0.02);
      else init.normal_(p, 0, 0.02);
    }
  });
}

/**
 * Radford et al.'s generator (pytorch/examples' dcgan, sized from the data): the latent point
 * to the smallest map by a linear layer, then strided transposed convolutions (kernel 4,
 * stride 2) that double the side and halve the width, with batch norm and ReLU, and tanh.
 */
export class DcganGenerator extends Module implements GanGenerator {
  readonly fc: Linear;
  readonly norm0: BatchNorm2d;
  readonly ups: ConvTranspose2d[] = [];
  readonly norms: BatchNorm2d[] = [];
  /** The first feature map's [channels, height, width]. */
  readonly first: [number, number, number];
  /** Conditioned on this many class labels, one-hot beside the latent point (0: none). */
  readonly classes: number;
  constructor(readonly config: GanConfig) {
    super();
    const { latent, channels, height, width, gFilters: f } = config;
    const sides = dcganSides(height, width);
    const n = sides.length - 1;
    this.first = [f << (n - 1), sides[0][0], sides[0][1]];
    this.classes = config.classNames?.length ?? 0;
    this.fc = this.registerModule(
      'fc',
      new Linear(latent + this.classes, this.first[0] * sides[0][0] * sides[0][1], { bias: false }),
    );
    this.norm0 = this.registerModule('norm0', new BatchNorm2d(this.first[0]));
    for (let i = 0; i < n; i++) {
      const out = i === n - 1 ? channels : f << (n - 2 - i);
      this.ups.push(
        this.registerModule(
          `up${i}`,
          new ConvTranspose2d(f << (n - 1 - i), out, 4, { stride: 2, padding: 1, bias: i === n - 1 }),
        ),
      );
      if (i < n - 1) this.norms.push(this.registerModule(`norm${i + 1}`, new BatchNorm2d(out)));
    }
    dcganInit(this);
  }
  /**
   * Images from latent points [N, latent]; a conditional generator draws the classes in
   * `labels` [N] (int64), or every class in turn when they are not given.
   */
  override forward(z: Tensor, labels?: Tensor): Tensor {
    if (this.classes) {
      const y = labels ?? cyclingLabels(z.size(0), this.classes, null, this.config.classWeights);
      z = T.cat([z, oneHot(y, this.classes)], 1);
      if (!labels) y.dispose();
    }
    let x = this.norm0.forward(this.fc.forward(z).reshape([-1, ...this.first])).relu();
    for (let i = 0; i < this.ups.length - 1; i++) x = this.norms[i].forward(this.ups[i].forward(x)).relu();
    return this.ups[this.ups.length - 1].forward(x).tanh();
  }
  get classNames(): readonly string[] {
    return this.config.classNames ?? [];
  }
  exportGraph(): Exported {
    return dcganGeneratorGraph(this);
  }
}

/**
 * The matching discriminator: strided convolutions (kernel 4, stride 2) that halve the side
 * and double the width, LeakyReLU 0.2, batch norm after the first, dropout, and one logit
 * from the smallest map. A conditional one adds the projection of the features on an
 * embedding of the label (Miyato and Koyama 2018), so it judges "a real 7", not "a real digit".
 */
export class DcganDiscriminator extends Module implements GanDiscriminator {
  readonly downs: Conv2d[] = [];
  readonly norms: BatchNorm2d[] = [];
  readonly drop: Dropout;
  readonly fc: Linear;
  /** One row of features per class (a bias-free linear map of the one-hot label), or null. */
  readonly embed: Linear | null;
  readonly classes: number;
  constructor(readonly config: GanConfig) {
    super();
    const { channels, height, width, dropout, dFilters: f } = config;
    const sides = dcganSides(height, width);
    const n = sides.length - 1;
    for (let i = 0; i < n; i++) {
      this.downs.push(
        this.registerModule(
          `down${i}`,
          new Conv2d(i === 0 ? channels : f << (i - 1), f << i, 4, { stride: 2, padding: 1, bias: i === 0 }),
        ),
      );
      if (i > 0) this.norms.push(this.registerModule(`norm${i}`, new BatchNorm2d(f << i)));
    }
    this.drop = this.registerModule('drop', new Dropout(dropout));
    const features = (f << (n - 1)) * sides[0][0] * sides[0][1];
    this.fc = this.registerModule('fc', new Linear(features, 1));
    this.classes = config.classNames?.length ?? 0;
    this.embed = this.classes
      ? this.registerModule('embed', new Linear(this.classes, features, { bias: false }))
      : null;
    dcganInit(this);
  }
  /** One logit per image: high means "generated", as the book labels; `labels` [N] when conditional. */
  override forward(x: Tensor, labels?: Tensor): Tensor {
    let y = this.downs[0].forward(x).leakyRelu(0.2);
    for (let i = 1; i < this.downs.length; i++) y = this.norms[i - 1].forward(this.downs[i].forward(y)).leakyRelu(0.2);
    const h = this.drop.forward(y.flatten(1));
    const logit = this.fc.forward(h);
    if (!this.embed) return logit;
    if (!labels) throw new Error('a conditional discriminator needs the labels of its images');
    return logit.add(this.embed.forward(oneHot(labels, this.classes)).mul(h).sum({ dim: 1, keepdim: true }));
  }
}

/**
 * The sngan recipe's discriminator (Miyato et al. 2018): the dcgan discriminator's strided
 * convolutions without batch norm, a 3x3 convolution that doubles the width at the smallest
 * map, LeakyReLU 0.1, and every layer spectrally normalised, so the hinge loss cannot push
 * its logits without bound. Takes no labels.
 */
export class SnDiscriminator extends Module implements GanDiscriminator {
  readonly classes = 0;
  readonly downs: SpectralNorm[] = [];
  readonly last: SpectralNorm;
  readonly fc: SpectralNorm;
  constructor(readonly config: GanConfig) {
    super();
    const { channels, height, width, dFilters: f } = config;
    const sides = dcganSides(height, width);
    const n = sides.length - 1;
    for (let i = 0; i < n; i++) {
      const conv = new Conv2d(i === 0 ? channels : f << (i - 1), f << i, 4, { stride: 2, padding: 1 });
      this.downs.push(this.registerModule(`down${i}`, spectralNorm(conv)));
    }
    this.last = this.registerModule('last', spectralNorm(new Conv2d(f << (n - 1), f << n, 3, { padding: 1 })));
    this.fc = this.registerModule('fc', spectralNorm(new Linear((f << n) * sides[0][0] * sides[0][1], 1)));
  }
  /** One logit per image: high means "generated", as the other recipes' discriminators. */
  override forward(x: Tensor, _labels?: Tensor): Tensor {
    let y = x;
    for (const down of this.downs) y = down.forward(y).leakyRelu(0.1);
    y = this.last.forward(y).leakyRelu(0.1);
    return this.fc.forward(y.flatten(1));
  }
}

/** The generators Loom's recipes build (code that needs only what every one has takes GanGenerator). */
export type AnyGenerator = Generator | DcganGenerator;

/** The most images one call draws (in one batch) and the most frames of a walk. */
export const GAN_MOST_IMAGES = 4096;
export const GAN_MOST_FRAMES = 1000;

/** The CLI's and the library's bound on the images one call draws. */
export function checkDrawCount(count: number): void {
  if (!(Number.isInteger(count) && count >= 1 && count <= GAN_MOST_IMAGES))
    throw new Error(`--count must be in 1..${GAN_MOST_IMAGES}, got ${count}`);
}

/**
 * Images in [-1, 1] from latent points as samples are drawn: with the generator in eval mode,
 * so batch norm uses its running statistics (not the drawn batch's) and leaves them alone;
 * each part is given back the mode it had, so training goes on as it was.
 */
export function generate(g: GanGenerator, z: Tensor, labels?: Tensor): Tensor {
  const modes = [...g.namedModules()].map(([, m]) => [m, m.training] as const);
  g.eval();
  try {
    return g.forward(z, labels);
  } finally {
    for (const [m, training] of modes) m.training = training;
  }
}

/**
 * How many columns a sample grid gives the classes, one each: a generator of labelled classes
 * has one per class; one of clusters (drawn as often as the data holds them) and an
 * unconditional one, none.
 */
export function classColumns(g: GanGenerator): number {
  return g.config.classWeights ? 0 : g.classes;
}

/**
 * Images in [0, 1] from latent points [N, latent]: of class `only`, or of every class in turn
 * (a walk keeps to class 0 when none is asked for, so its frames change smoothly).
 */
export function drawImages(g: GanGenerator, z: Tensor, only: number | null, walk = false): Tensor {
  const classes = g.classes;
  return generate(
    g,
    z,
    classes ? cyclingLabels(z.size(0), classes, only ?? (walk ? 0 : null), g.config.classWeights) : undefined,
  )
    .add(1)
    .div(2);
}
