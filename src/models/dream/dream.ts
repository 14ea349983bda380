// DeepDream as the seed does it (gradient ascent on the image, octaves with re-injected
// detail), plus random roll jitter, tiles for large images, and zoom animations.
import * as T from '../../torch/index.js';
import { Tensor } from '../../torch/index.js';
import { resize } from '../../io/images.js';
import { Rng } from '../../util/random.js';
import { minInputSide, preprocess, type Backbone } from '../../vision/weights.js';
import { positiveNumber, wholeNumber } from '../checks.js';

export interface DreamConfig {
  /** Layer → weight of its term in the loss. */
  layers: Record<string, number>;
  octaves: number;
  octaveScale: number;
  steps: number;
  stepSize: number;
  /** Stop an octave once the loss passes this (null: never). */
  maxLoss: number | null;
  /** Largest random roll, in pixels, applied before each step (0: off, as the seed). */
  jitter: number;
  /** Largest tile side; bigger images are dreamed tile by tile (0: never tile). */
  tile: number;
  seed: number;
}

export const DREAM_DEFAULTS: DreamConfig = {
  layers: { mixed2: 0.2, mixed3: 3, mixed4: 2, mixed5: 1.5 },
  octaves: 3,
  octaveScale: 1.4,
  steps: 20,
  stepSize: 0.01,
  maxLoss: 15,
  jitter: 32,
  tile: 512,
  seed: 0,
};

export interface DreamStep {
  octave: number;
  step: number;
  loss: number;
  ms_per_step: number;
  height: number;
  width: number;
}

export interface DreamHooks {
  onStep?(s: DreamStep): void;
  /** The image (RGB in [0, 1]) at the end of each octave. */
  onOctave?(octave: number, image: Tensor): void | Promise<void>;
  shouldStop?(): boolean;
}

/** "mixed2=0.2,mixed3:3" → { mixed2: 0.2, mixed3: 3 }; a name alone weighs 1. */
export function parseLayers(spec: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [name, w] = part.split(/[=:]/);
    const weight = w === undefined ? 1 : Number(w);
    if (!Number.isFinite(weight)) throw new Error(`layer weight "${w}" for ${name} is not a number`);
    out[name] = weight;
  }
  if (Object.keys(out).length === 0) throw new Error('give at least one layer, e.g. mixed3=1');
  return out;
}

export function checkDreamConfig(c: DreamConfig, backbone: Backbone): void {
  wholeNumber('octaves', c.octaves, 1);
  positiveNumber('octave-scale', c.octaveScale);
  if (c.octaveScale <= 1 && c.octaves > 1) throw new Error(`--octave-scale must be above 1, got ${c.octaveScale}`);
  wholeNumber('steps', c.steps, 0);
  positiveNumber('step-size', c.stepSize);
  wholeNumber('jitter', c.jitter, 0);
  wholeNumber('tile', c.tile, 0);
  if (c.tile > 0 && c.tile < 96) throw new Error(`--tile must be 0 (off) or at least 96 pixels, got ${c.tile}`);
  const net = backbone.net;
  for (const name of Object.keys(c.layers)) {
    if (!net.hasEndpoint(name)) {
      throw new Error(`unknown layer "${name}" for ${net.arch}; valid layers: ${net.endpointNames.join(', ')}`);
    }
  }
}

/** The seed's loss: Σ weight · Σ(activation² without a 2-pixel border) / activation size. */
export function dreamLoss(backbone: Backbone, image: Tensor, layers: Record<string, number>): Tensor {
  const x =
    backbone.info.preprocess === 'inception' ? image : preprocess(image.add(1).div(2), backbone.info.preprocess);
  const acts = backbone.net.endpoints(x, Object.keys(layers));
  let loss: Tensor | null = null;
  for (const [name, w] of Object.entries(layers)) {
    const a = acts.get(name)!;
    const [, , h, wd] = a.shape;
    const inner = h > 4 && wd > 4 ? a.narrow(2, 2, h - 4).narrow(3, 2, wd - 4) : a;
    const term = inner
      .pow(2)
      .sum()
      .mul(w / a.numel);
    loss = loss ? loss.add(term) : term;
  }
  return loss!;
}

/** Tile origins along one side: tiles of at most `tile` that cover `n` with no gaps. */
function tileStarts(n: number, tile: number): [number, number][] {
  if (tile <= 0 || n <= tile) return [[0, n]];
  const count = Math.ceil(n / tile);
  const size = Math.ceil(n / count);
  const out: [number, number][] = [];
  for (let s = 0; s < n; s += size) out.push([s, Math.min(size, n - s)]);
  return out;
}

/** Loss and its gradient with respect to the image, computed tile by tile. */
export function lossAndGradient(
  backbone: Backbone,
  image: Tensor,
  layers: Record<string, number>,
  tile: number,
): { loss: number; grad: Tensor } {
  const [, , h, w] = image.shape;
  const grad = T.zerosLike(image);
  let loss = 0;
  for (const [y, th] of tileStarts(h, tile)) {
    for (const [x, tw] of tileStarts(w, tile)) {
      T.tidy(() => {
        const part = image.narrow(2, y, th).narrow(3, x, tw).detach().requiresGrad_(true);
        const l = dreamLoss(backbone, part, layers);
        const [g] = T.grad([l], [part]);
        grad.narrow(2, y, th).narrow(3, x, tw).copy_(g!);
        loss += l.item();
      });
    }
  }
  return { loss, grad };
}

/**
 * One ascent step in place (none once the loss passes maxLoss): roll by a random shift, step
 * along the normalised gradient, roll back.
 */
export function dreamStep(
  backbone: Backbone,
  image: Tensor,
  cfg: Pick<DreamConfig, 'layers' | 'stepSize' | 'jitter' | 'tile' | 'maxLoss'>,
  rng: Rng,
): number {
  return T.tidy(() => {
    const dy = cfg.jitter ? rng.int(2 * cfg.jitter + 1) - cfg.jitter : 0;
    const dx = cfg.jitter ? rng.int(2 * cfg.jitter + 1) - cfg.jitter : 0;
    const rolled = dy || dx ? image.roll([dy, dx], [2, 3]) : image;
    const { loss, grad } = lossAndGradient(backbone, rolled, cfg.layers, cfg.tile);
    // As the seed: past --max-loss the octave ends without taking this step.
    if (cfg.maxLoss !== null && loss > cfg.maxLoss) return loss;
    const back = dy || dx ? grad.roll([-dy, -dx], [2, 3]) : grad;
    // The seed's normalisation: divide by the mean absolute gradient.
    const scale = Math.max(back.abs().mean().item(), 1e-7);
    T.noGrad(() => image.add_(back.mul(cfg.stepSize / scale)));
    return loss;
  });
}

/** Octave shapes from smallest to the original. */
export function octaveShapes(h: number, w: number, octaves: number, scale: number): [number, number][] {
  const shapes: [number, number][] = [];
  for (let i = octaves - 1; i >= 0; i--) {
    shapes.push([Math.max(1, Math.round(h / scale ** i)), Math.max(1, Math.round(w / scale ** i))]);
  }
  return shapes;
}

/** Dreams an RGB image [1, 3, H, W] in [0, 1]; returns a new image of the same size. */
export async function dream(
  backbone: Backbone,
  rgb: Tensor,
  cfg: DreamConfig,
  hooks: DreamHooks = {},
): Promise<Tensor> {
  checkDreamConfig(cfg, backbone);
  const [n, c, h, w] = rgb.shape;
  if (n !== 1 || c !== 3) throw new Error(`dream takes one RGB image [1, 3, H, W], got [${rgb.shape}]`);
  const shapes = octaveShapes(h, w, cfg.octaves, cfg.octaveScale);
  const least = minInputSide(backbone.net.arch);
  if (Math.min(...shapes[0]) < least)
    throw new Error(
      `the smallest octave would be ${shapes[0].join('x')} pixels, under ${backbone.net.arch}'s ${least}; use fewer octaves or a larger image`,
    );
  const rng = new Rng(cfg.seed);
  // The seed works in Inception's [-1, 1]; so does the step size.
  const original = T.keep(T.tidy(() => rgb.mul(2).sub(1)));
  let shrunk = T.keep(T.tidy(() => resize(original, ...shapes[0])));
  let img = T.keep(shrunk.clone());
  try {
    for (let o = 0; o < shapes.length; o++) {
      const [oh, ow] = shapes[o];
      if (o > 0) {
        // Scale up, then re-inject the detail that shrinking the original lost.
        const next = T.keep(
          T.tidy(() => {
            const up = resize(img, oh, ow);
            const lost = resize(original, oh, ow).sub(resize(shrunk, oh, ow));
            return up.add(lost);
          }),
        );
        img.dispose();
        img = next;
        shrunk.dispose();
        shrunk = T.keep(T.tidy(() => resize(original, oh, ow)));
      }
      for (let s = 0; s < cfg.steps; s++) {
        if (hooks.shouldStop?.()) break;
        const t0 = performance.now();
        const loss = dreamStep(backbone, img, cfg, rng);
        hooks.onStep?.({ octave: o, step: s, loss, ms_per_step: performance.now() - t0, height: oh, width: ow });
        if (cfg.maxLoss !== null && loss > cfg.maxLoss) break;
      }
      if (hooks.onOctave) {
        const view = T.tidy(() => img.add(1).div(2).clamp(0, 1));
        try {
          await hooks.onOctave(o, view);
        } finally {
          view.dispose();
        }
      }
    }
    return T.tidy(() => img.add(1).div(2).clamp(0, 1));
  } finally {
    for (const t of [original, shrunk, img]) t.dispose();
  }
}

/**
 * A zoom animation: dream the image, then repeatedly crop the centre by `zoom`, scale back
 * up and dream a few steps more (one octave). Each frame goes to `onFrame` as it is made and
 * is freed after it (only the latest is kept, to zoom into), so memory stays flat however
 * many frames; returns how many were made.
 */
export async function dreamZoom(
  backbone: Backbone,
  rgb: Tensor,
  cfg: DreamConfig,
  frames: number,
  onFrame: (frame: Tensor, index: number) => void | Promise<void>,
  opts: { zoom?: number; stepsPerFrame?: number } = {},
  hooks: DreamHooks = {},
): Promise<number> {
  wholeNumber('zoom-frames', frames, 1);
  const zoom = opts.zoom ?? 1.05;
  let last = T.keep(await dream(backbone, rgb, cfg, hooks));
  const [, , h, w] = rgb.shape;
  const frameCfg: DreamConfig = {
    ...cfg,
    octaves: 1,
    steps: opts.stepsPerFrame ?? Math.max(1, Math.round(cfg.steps / 4)),
  };
  let made = 0;
  try {
    await onFrame(last, made++);
    for (let f = 1; f < frames; f++) {
      if (hooks.shouldStop?.()) break;
      const prev = last;
      using zoomed = T.tidy(() => {
        const ch = Math.round(h / zoom);
        const cw = Math.round(w / zoom);
        return resize(prev.narrow(2, Math.floor((h - ch) / 2), ch).narrow(3, Math.floor((w - cw) / 2), cw), h, w);
      });
      const hooksNow = { onStep: hooks.onStep, shouldStop: hooks.shouldStop };
      last = T.keep(await dream(backbone, zoomed, { ...frameCfg, seed: cfg.seed + f }, hooksNow));
      prev.dispose();
      await onFrame(last, made++);
    }
  } finally {
    last.dispose();
  }
  return made;
}
