// Fast style transfer (Johnson et al., with Ulyanov's instance normalisation): a feed-forward
// network trained once for one style with the same kinds of perceptual losses as Gatys
// (content features, Gram matrices, total variation), then one forward pass per photo.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import * as T from '../../torch/index.js';
import { Tensor } from '../../torch/index.js';
import { Conv2d, InstanceNorm2d, Module, ModuleList, ReflectionPad2d } from '../../nn/index.js';
import { Adam } from '../../optim/index.js';
import { readImage, resize, writeOwned, imageGrid } from '../../io/images.js';
import { BUILTIN_IMAGES, resolveImage } from '../../io/builtin-images.js';
import { IMAGE_EXT } from '../../io/datasets.js';
import { RunFolder } from '../../io/run-folder.js';
import { loadCheckpoint, restoreCheckpoint, saveCheckpoint } from '../../io/checkpoint.js';
import { Rng } from '../../io/random.js';
import { preprocess, type Backbone } from '../../vision/weights.js';
import { positiveNumber, wholeNumber } from '../checks.js';
import { styleDefaults } from './gatys.js';

/** Reflection padding, convolution, instance norm, optional ReLU; optional ×2 nearest upsample first. */
class ConvLayer extends Module {
  readonly pad: ReflectionPad2d;
  readonly conv: Conv2d;
  readonly norm: InstanceNorm2d | null;
  constructor(inC: number, outC: number, k: number, opts: { stride?: number; upsample?: boolean; norm?: boolean; relu?: boolean } = {}) {
    super();
    this.pad = this.registerModule('pad', new ReflectionPad2d(Math.floor(k / 2)));
    this.conv = this.registerModule('conv', new Conv2d(inC, outC, k, { stride: opts.stride ?? 1 }));
    this.norm = opts.norm === false ? null : this.registerModule('norm', new InstanceNorm2d(outC));
    this.upsample = Boolean(opts.upsample);
    this.relu = opts.relu !== false;
  }
  private readonly upsample: boolean;
  private readonly relu: boolean;
  forward(x: Tensor): Tensor {
    // Nearest upsampling then a convolution: transposed convolutions leave checkerboards.
    let y = this.upsample ? T.upsampleNearest2d(x, null, [2, 2]) : x;
    y = this.conv.forward(this.pad.forward(y));
    if (this.norm) y = this.norm.forward(y);
    return this.relu ? T.relu(y) : y;
  }
}

class Residual extends Module {
  readonly a: ConvLayer;
  readonly b: ConvLayer;
  constructor(c: number) {
    super();
    this.a = this.registerModule('a', new ConvLayer(c, c, 3));
    this.b = this.registerModule('b', new ConvLayer(c, c, 3, { relu: false }));
  }
  forward(x: Tensor): Tensor {
    return this.b.forward(this.a.forward(x)).add(x);
  }
}

export interface StyleNetShape {
  /** Channels of the first layer (32 in Johnson et al.); the rest are 2x and 4x. */
  width: number;
  residualBlocks: number;
}

/** Image in [0, 1] → stylised image in [0, 1] (sigmoid output), any size (multiples of 4 keep it exact). */
export class StyleNet extends Module {
  readonly layers: ModuleList;
  constructor(readonly shape: StyleNetShape = { width: 32, residualBlocks: 5 }) {
    super();
    const c = shape.width;
    const l = new ModuleList();
    l.push(new ConvLayer(3, c, 9));
    l.push(new ConvLayer(c, 2 * c, 3, { stride: 2 }));
    l.push(new ConvLayer(2 * c, 4 * c, 3, { stride: 2 }));
    for (let i = 0; i < shape.residualBlocks; i++) l.push(new Residual(4 * c));
    l.push(new ConvLayer(4 * c, 2 * c, 3, { upsample: true }));
    l.push(new ConvLayer(2 * c, c, 3, { upsample: true }));
    l.push(new ConvLayer(c, 3, 9, { norm: false, relu: false }));
    this.layers = this.registerModule('layers', l);
  }
  forward(x: Tensor): Tensor {
    const [, , h, w] = x.shape;
    let y = x;
    for (const m of this.layers.items) y = (m as ConvLayer).forward(y);
    // Strided layers round odd sizes down; bring the output back to the input's size.
    if (y.shape[2] !== h || y.shape[3] !== w) y = resize(y, h, w);
    return T.sigmoid(y);
  }
}

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
  seed: number;
  backbone: 'inception' | 'vgg19';
  weights: string | null;
}

export const FAST_DEFAULTS: FastStyleConfig = {
  style: 'builtin:scream', images: 'builtin:photos', size: 256, steps: 2000, batch: 4, lr: 1e-3,
  contentWeight: 1, styleWeight: 1e4, tvWeight: 1e-6, width: 32, residualBlocks: 5, sampleEvery: 100, seed: 0,
  backbone: 'inception', weights: null,
};

/** Training photos: a folder's images, or builtin:photos (the built-in photos but the painting). */
export function photoFiles(spec: string): string[] {
  if (spec === 'builtin:photos') return BUILTIN_IMAGES.filter((n) => n !== 'scream').map((n) => resolveImage(`builtin:${n}`));
  if (!existsSync(spec) || !statSync(spec).isDirectory()) throw new Error(`cannot read image folder ${spec}: no such folder (or use builtin:photos)`);
  const files = readdirSync(spec).filter((f) => IMAGE_EXT.test(f)).sort().map((f) => path.join(spec, f));
  if (!files.length) throw new Error(`${spec} holds no images (png, jpg, webp, gif, tiff, avif)`);
  return files;
}

function checkFast(c: FastStyleConfig): void {
  wholeNumber('size', c.size, 32);
  wholeNumber('steps', c.steps, 1);
  wholeNumber('batch', c.batch, 1);
  wholeNumber('sample-every', c.sampleEvery, 1);
  positiveNumber('lr', c.lr);
}

/** Batch Gram matrices normalised by C·H·W, so one style weight suits any layer and size. */
export function batchGram(x: Tensor): Tensor {
  const [n, c, h, w] = x.shape;
  const f = x.reshape([n, c, h * w]);
  return T.bmm(f, f.transpose(1, 2)).div(c * h * w);
}

export class FastStyleLoss {
  readonly layers: { content: string; style: string[] };
  private readonly grams: Tensor[];
  constructor(readonly backbone: Backbone, style01: Tensor, readonly weights: { content: number; style: number; tv: number }) {
    const d = styleDefaults(backbone.net.arch);
    // Johnson et al. compare content early (VGG's relu2_2): a deep layer at training crop
    // sizes is a few pixels wide and lets the network paint over the photo.
    this.layers = { content: backbone.net.arch === 'vgg19' ? 'block2_conv2' : 'Conv2d_4a_3x3', style: d.style };
    this.grams = T.keep(T.noGrad(() => T.tidy(() => {
      const f = this.features(style01, d.style);
      return d.style.map((l) => batchGram(f.get(l)!));
    })));
  }
  private features(x01: Tensor, names: string[]): Map<string, Tensor> {
    return this.backbone.net.endpoints(preprocess(x01, this.backbone.info.preprocess), names);
  }
  terms(input: Tensor, output: Tensor): { total: Tensor; content: Tensor; style: Tensor; tv: Tensor } {
    const target = T.noGrad(() => this.features(input, [this.layers.content]).get(this.layers.content)!.detach());
    const f = this.features(output, [this.layers.content, ...this.layers.style]);
    const content = T.mseLoss(f.get(this.layers.content)!, target);
    let style = T.zeros([]);
    this.layers.style.forEach((l, i) => {
      const g = batchGram(f.get(l)!);
      style = style.add(T.mseLoss(g, this.grams[i].expand(g.shape)));
    });
    const [, , h, w] = output.shape;
    const px = output.mul(255);
    const dy = px.narrow(2, 1, h - 1).sub(px.narrow(2, 0, h - 1)).abs().mean();
    const dx = px.narrow(3, 1, w - 1).sub(px.narrow(3, 0, w - 1)).abs().mean();
    const tv = dy.add(dx);
    const total = content.mul(this.weights.content).add(style.mul(this.weights.style)).add(tv.mul(this.weights.tv));
    return { total, content, style, tv };
  }
  dispose(): void {
    this.grams.forEach((g) => g.dispose());
  }
}

/** Photos loaded once, shorter side a little above `size`, for random crops. */
async function loadPhotos(files: string[], size: number): Promise<Tensor[]> {
  const out: Tensor[] = [];
  try {
    for (const f of files) {
      const img = await readImage(f);
      const [, , h, w] = img.shape;
      const s = Math.round(size * 1.15) / Math.min(h, w);
      out.push(T.keep(T.tidy(() => resize(img, Math.max(size, Math.round(h * s)), Math.max(size, Math.round(w * s))))));
      img.dispose();
    }
    return out;
  } catch (e) {
    out.forEach((t) => t.dispose());
    throw e;
  }
}

/** A batch of random crops (and mirror images), drawn from a generator seeded by (seed, step). */
function cropBatch(photos: Tensor[], size: number, batch: number, seed: number, step: number): Tensor {
  const rng = new Rng(seed, step);
  return T.tidy(() => T.cat(Array.from({ length: batch }, () => {
    const p = photos[rng.int(photos.length)];
    const [, , h, w] = p.shape;
    const crop = p.narrow(2, rng.int(h - size + 1), size).narrow(3, rng.int(w - size + 1), size);
    return rng.next() < 0.5 ? crop : T.flip(crop, [3]);
  }), 0));
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
  const run = RunFolder.open(outDir, mode);
  const ck = mode.resume ? loadCheckpoint(run.checkpoint) : null;
  const cfg: FastStyleConfig = ck ? { ...(ck.config as unknown as FastStyleConfig), steps: config.steps } : config;
  let photos: Tensor[];
  let style: Tensor;
  try {
    checkFast(cfg);
    photos = await loadPhotos(photoFiles(cfg.images), cfg.size);
    style = T.keep(await readImage(resolveImage(cfg.style), { height: cfg.size }));
  } catch (e) {
    ck?.dispose();
    throw e;
  }
  T.manualSeed(cfg.seed);
  const net = new StyleNet({ width: cfg.width, residualBlocks: cfg.residualBlocks });
  const opt = new Adam(net.parameters(), { lr: cfg.lr });
  const loss = new FastStyleLoss(backbone, style, { content: cfg.contentWeight, style: cfg.styleWeight, tv: cfg.tvWeight });
  const parts = { modules: { net }, optimizers: { adam: opt } };
  let step = 0;
  if (ck) {
    restoreCheckpoint(ck, parts);
    step = ck.step;
    run.trimMetrics(step);
    ck.dispose();
  } else {
    run.create();
    run.writeConfig({ system: 'style', ...cfg });
  }
  // A fixed preview: the first photo, centre-cropped, stylised at every sample.
  const preview = T.keep(T.tidy(() => {
    const p = photos[0];
    const [, , h, w] = p.shape;
    return p.narrow(2, Math.floor((h - cfg.size) / 2), cfg.size).narrow(3, Math.floor((w - cfg.size) / 2), cfg.size);
  }));
  const save = () => saveCheckpoint(run.checkpoint, parts, { step, config: cfg as unknown as Record<string, unknown> });
  const started = Date.now();
  try {
    while (step < cfg.steps) {
      if (hooks.shouldStop?.()) break;
      const t0 = performance.now();
      const log = T.tidy(() => {
        const x = cropBatch(photos, cfg.size, cfg.batch, cfg.seed, step);
        opt.zeroGrad();
        const t = loss.terms(x, net.forward(x));
        t.total.backward();
        opt.step();
        return { loss: t.total.item(), content_loss: t.content.item(), style_loss: t.style.item(), tv_loss: t.tv.item() };
      });
      step++;
      const l: FastStepLog = { step, ...log, ms_per_step: performance.now() - t0 };
      run.log(l as unknown as Record<string, unknown>);
      hooks.onStep?.(l);
      if (step % cfg.sampleEvery === 0 || step === cfg.steps) {
        save();
        const file = run.file('samples', `step${String(step).padStart(6, '0')}.png`);
        await writeOwned(file, T.noGrad(() => T.tidy(() => {
          net.eval();
          const y = net.forward(preview);
          net.train();
          return imageGrid(T.cat([preview, y], 0), { cols: 2 });
        })));
        hooks.onSample?.(step, file);
      }
    }
    save();
  } finally {
    photos.forEach((p) => p.dispose());
    for (const t of [style, preview]) t.dispose();
    loss.dispose();
    opt.dispose();
    net.dispose();
  }
  return { steps: step, seconds: (Date.now() - started) / 1000 };
}

/** A trained style network from a run folder or checkpoint. */
export function loadStyleNet(source: string): StyleNet {
  const file = RunFolder.checkpointOf(source);
  const ck = loadCheckpoint(file);
  try {
    const cfg = ck.config as unknown as FastStyleConfig;
    if (cfg.residualBlocks === undefined || !ck.tensors.has('module.net.layers.0.conv.weight')) throw new Error(`${file} is not a fast style checkpoint`);
    const net = new StyleNet({ width: cfg.width, residualBlocks: cfg.residualBlocks });
    restoreCheckpoint(ck, { modules: { net } }, { rng: false });
    net.eval();
    net.freeze();
    return net;
  } finally {
    ck.dispose();
  }
}
