// DeepDream as the book does it (gradient ascent on the image, octaves with re-injected
// detail), plus random roll jitter, tiles for large images, and zoom animations.
import * as T from '../../torch/index.js';
import { Tensor } from '../../torch/index.js';
import { resize } from '../../io/images.js';
import { Rng } from '../../util/random.js';
import { minInputSide, preprocess, type Backbone } from '../../vision/weights.js';
import { wholeNumber } from '../checks.js';
import { checkDreamConfig, type DreamConfig } from './options.js';
import { layersInOctave, splitKey, type ChannelChoice } from './layers.js';
import { Breather, fitThreadsBetweenSteps, type RunControl } from '../../train/index.js';

export interface DreamStep {
  octave: number;
  step: number;
  loss: number;
  ms_per_step: number;
  height: number;
  width: number;
}

/** shouldStop or the signal ends the dream early with the image so far (it resolves, not rejects). */
export interface DreamHooks extends RunControl {
  onStep?(s: DreamStep): void;
  /** The image (RGB in [0, 1]) at the end of each octave. */
  onOctave?(octave: number, image: Tensor): void | Promise<void>;
}

/** One octave at full size, of `steps` steps, with the layers of `cfg`'s last octave (zoom and video frames). */
function lastOctave(cfg: DreamConfig, steps: number): DreamConfig {
  const layers = layersInOctave(cfg.layers, cfg.layerOctaves ?? {}, cfg.octaves);
  return { ...cfg, octaves: 1, layerOctaves: {}, layers, steps };
}

/** Activations of the loss's layers for an image in [-1, 1], by layer name. */
function activations(backbone: Backbone, image: Tensor, layers: Record<string, number>): Map<string, Tensor> {
  const x =
    backbone.info.preprocess === 'inception' ? image : preprocess(image.add(1).div(2), backbone.info.preprocess);
  return backbone.net.endpoints(x, [...new Set(Object.keys(layers).map((k) => splitKey(k)[0]))]);
}

/** One channel of a layer's activations, or all of them; a channel past the layer's is refused. */
function channelOf(acts: Map<string, Tensor>, key: string): Tensor {
  const [name, ch] = splitKey(key);
  const a = acts.get(name)!;
  if (ch === null) return a;
  if (ch >= a.size(1)) throw new Error(`${name} has channels 0 to ${a.size(1) - 1}; there is no channel ${ch}`);
  return a.narrow(1, ch, 1);
}

/**
 * The book's loss: Σ weight · Σ(activation² without a 2-pixel border) / activation size, over
 * whole layers or single channels. With `guide` (each key's activations of the guide image),
 * each position's activation vector is pulled toward the guide's vector it is most alike
 * (largest dot product), as the original DeepDream notebook's guided dreams: Σ weight ·
 * Σ_positions x · g_best / activation size.
 */
export function dreamLoss(
  backbone: Backbone,
  image: Tensor,
  layers: Record<string, number>,
  guide: Map<string, Tensor> | null = null,
): Tensor {
  const acts = activations(backbone, image, layers);
  let loss: Tensor | null = null;
  for (const [key, w] of Object.entries(layers)) {
    const a = channelOf(acts, key);
    const [, c, h, wd] = a.shape;
    let term: Tensor;
    if (guide) {
      const x = a.reshape([c, h * wd]);
      const y = guide.get(key)!.reshape([c, -1]);
      const best = T.noGrad(() => x.t().matmul(y).argmax(1));
      term = x
        .mul(y.indexSelect(1, best))
        .sum()
        .mul(w / a.numel);
    } else {
      const inner = h > 4 && wd > 4 ? a.narrow(2, 2, h - 4).narrow(3, 2, wd - 4) : a;
      term = inner
        .pow(2)
        .sum()
        .mul(w / a.numel);
    }
    loss = loss ? loss.add(term) : term;
  }
  return loss!;
}

/** Each loss key's activations of the guide image resized to [h, w] (no gradient), kept. */
export function guideFeatures(
  backbone: Backbone,
  guide: Tensor,
  layers: Record<string, number>,
  h: number,
  w: number,
): Map<string, Tensor> {
  return T.noGrad(() =>
    T.tidy(() => {
      const acts = activations(backbone, resize(guide.mul(2).sub(1), h, w), layers);
      return new Map(Object.keys(layers).map((k) => [k, T.keep(channelOf(acts, k).contiguous())]));
    }),
  );
}

/**
 * The layers with each whole layer replaced by its `count` channels most (strong) or least
 * (weak, among those the photo activates at all) active on the image, by mean activation;
 * each takes an equal share of the layer's weight. Layers given with a channel stay.
 */
export function pickChannels(
  backbone: Backbone,
  image: Tensor,
  layers: Record<string, number>,
  choice: ChannelChoice,
): Record<string, number> {
  if (choice === 'all') return layers;
  return T.noGrad(() =>
    T.tidy(() => {
      const acts = activations(backbone, image, layers);
      const out: Record<string, number> = {};
      for (const [key, w] of Object.entries(layers)) {
        const [name, ch] = splitKey(key);
        if (ch !== null) {
          out[key] = w;
          continue;
        }
        const means = acts
          .get(name)!
          .mean({ dim: [0, 2, 3] })
          .toFlatArray() as number[];
        const order = means
          .map((m, i) => [m, i] as const)
          .filter(([m]) => choice.pick === 'strong' || m > 0)
          .sort((a, b) => (choice.pick === 'strong' ? b[0] - a[0] : a[0] - b[0]))
          .slice(0, choice.count);
        for (const [, i] of order) out[`${name}:${i}`] = w / order.length;
      }
      return out;
    }),
  );
}

/**
 * The gradient normalised per band of a Laplacian pyramid (levels >= 1): each band (the
 * detail lost by halving, and the last, coarsest image) divided by its root mean square, then
 * summed back. Low frequencies then move as much as fine texture, so patterns grow larger
 * and smoother than under one global scale (the TensorFlow DeepDream tutorial's lap_normalize).
 */
export function lapNormalize(grad: Tensor, levels: number): Tensor {
  return T.tidy(() => {
    const bands: Tensor[] = [];
    let cur = grad;
    // Halving through a 5x5 binomial blur (the tutorial's kernel), so the bands do not alias.
    const c = grad.size(1);
    const tap = [1, 4, 6, 4, 1];
    const blur = T.tensor(Array.from({ length: c }, () => tap.flatMap((a) => tap.map((b) => (a * b) / 256))).flat(), {
      shape: [c, 1, 5, 5],
    });
    for (let i = 1; i < levels; i++) {
      const [h, w] = [cur.size(2), cur.size(3)];
      if (h < 5 || w < 5) break;
      const low = T.conv2d(cur, blur, null, 2, 2, 1, c);
      bands.push(cur.sub(resize(low, h, w)));
      cur = low;
    }
    bands.push(cur);
    const unit = (b: Tensor) => b.div(Math.max(b.square().mean().sqrt().item(), 1e-10));
    let out = unit(bands.pop()!);
    while (bands.length) {
      const band = bands.pop()!;
      out = resize(out, band.size(2), band.size(3)).add(unit(band));
    }
    return out;
  });
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
  guide: Map<string, Tensor> | null = null,
): { loss: number; grad: Tensor } {
  const [, , h, w] = image.shape;
  const grad = T.zerosLike(image);
  let loss = 0;
  for (const [y, th] of tileStarts(h, tile)) {
    for (const [x, tw] of tileStarts(w, tile)) {
      T.tidy(() => {
        const part = image.narrow(2, y, th).narrow(3, x, tw).detach().requiresGrad_(true);
        const l = dreamLoss(backbone, part, layers, guide);
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
  cfg: Pick<DreamConfig, 'layers' | 'stepSize' | 'jitter' | 'tile' | 'maxLoss'> & { lapLevels?: number },
  rng: Rng,
  guide: Map<string, Tensor> | null = null,
): number {
  return T.tidy(() => {
    const dy = cfg.jitter ? rng.int(2 * cfg.jitter + 1) - cfg.jitter : 0;
    const dx = cfg.jitter ? rng.int(2 * cfg.jitter + 1) - cfg.jitter : 0;
    const rolled = dy || dx ? image.roll([dy, dx], [2, 3]) : image;
    const { loss, grad } = lossAndGradient(backbone, rolled, cfg.layers, cfg.tile, guide);
    // As in the book: past --max-loss the octave ends without taking this step.
    if (cfg.maxLoss !== null && loss > cfg.maxLoss) return loss;
    const unrolled = dy || dx ? grad.roll([-dy, -dx], [2, 3]) : grad;
    const back = cfg.lapLevels ? lapNormalize(unrolled, cfg.lapLevels) : unrolled;
    // The book's normalisation: divide by the mean absolute gradient.
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
  const breather = new Breather();
  // The book's code works in Inception's [-1, 1]; so does the step size.
  const original = T.keep(T.tidy(() => rgb.mul(2).sub(1)));
  let shrunk = T.keep(T.tidy(() => resize(original, ...shapes[0])));
  let img = T.keep(shrunk.clone());
  // Channels are picked once, on the smallest octave (cheap, and the same choice throughout).
  const layers = pickChannels(backbone, shrunk, cfg.layers, cfg.channels);
  // --max-loss is the book's bound on whole layers' excitation. A guided loss measures
  // likeness, and one channel's mean square runs far above a layer's: neither uses it.
  const perChannel = Object.keys(layers).some((k) => splitKey(k)[1] !== null);
  const stepCfg = { ...cfg, layers, maxLoss: cfg.guide || perChannel ? null : cfg.maxLoss };
  let guide: Map<string, Tensor> | null = null;
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
      if (cfg.guide) {
        // The guide's features at this octave's scale, its longer side at most 512 pixels.
        for (const t of guide?.values() ?? []) t.dispose();
        const [gh, gw] = [cfg.guide.size(2), cfg.guide.size(3)];
        const k = Math.max(Math.min(512, Math.max(oh, ow)) / Math.max(gh, gw), least / Math.min(gh, gw));
        guide = guideFeatures(
          backbone,
          cfg.guide,
          layers,
          Math.max(1, Math.round(gh * k)),
          Math.max(1, Math.round(gw * k)),
        );
      }
      // Only the layers given this octave (all of them unless --layers says layer@octaves).
      const octaveCfg = { ...stepCfg, layers: layersInOctave(layers, cfg.layerOctaves ?? {}, o + 1) };
      const steps = Object.keys(octaveCfg.layers).length ? cfg.steps : 0;
      for (let s = 0; s < steps; s++) {
        await breather.breathe();
        if (hooks.shouldStop?.() || hooks.signal?.aborted) break;
        fitThreadsBetweenSteps(hooks.onNote);
        const t0 = performance.now();
        const loss = dreamStep(backbone, img, octaveCfg, rng, guide);
        hooks.onStep?.({ octave: o, step: s, loss, ms_per_step: performance.now() - t0, height: oh, width: ow });
        if (stepCfg.maxLoss !== null && loss > stepCfg.maxLoss) break;
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
    for (const t of [original, shrunk, img, ...(guide?.values() ?? [])]) t.dispose();
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
  const frameCfg = lastOctave(cfg, opts.stepsPerFrame ?? Math.max(1, Math.round(cfg.steps / 4)));
  let made = 0;
  try {
    await onFrame(last, made++);
    for (let f = 1; f < frames; f++) {
      if (hooks.shouldStop?.() || hooks.signal?.aborted) break;
      const prev = last;
      using zoomed = T.tidy(() => {
        const ch = Math.round(h / zoom);
        const cw = Math.round(w / zoom);
        return resize(prev.narrow(2, Math.floor((h - ch) / 2), ch).narrow(3, Math.floor((w - cw) / 2), cw), h, w);
      });
      const hooksNow = {
        onStep: hooks.onStep,
        shouldStop: hooks.shouldStop,
        signal: hooks.signal,
        onNote: hooks.onNote,
      };
      last = T.keep(await dream(backbone, zoomed, { ...frameCfg, seed: cfg.seed + f }, hooksNow));
      prev.dispose();
      await onFrame(last, made++);
    }
  } finally {
    last.dispose();
  }
  return made;
}

/**
 * Where a frame changed from the one before by more than noise: 0 where the scene stood
 * still, rising to 1 where it moved. The signed change is averaged over a 9x9 neighbourhood
 * per channel (zero-mean sensor and compression noise averages out; motion does not), its
 * largest channel taken, then ramped from 0 at `still` to 1 at twice that.
 */
export function changeMask(frame: Tensor, prev: Tensor, still = 0.02): Tensor {
  return T.tidy(() => {
    const d = T.avgPool2d(frame.sub(prev), 9, 1, 4, false, false).abs();
    return d.max(1, true)[0].div(still).sub(1).clamp(0, 1);
  });
}

/**
 * Dreams the frames of a video one by one. The first is dreamed in full; with `warm` (the
 * default) each later frame starts from the dream of the frame before, taking the new frame
 * where the scene changed by more than noise (`changeMask`: there, the new frame plus what
 * the dream added before), and takes one octave of `stepsPerFrame` steps (default a quarter
 * of --steps): the patterns persist instead of flickering, and a still scene's sensor noise
 * does not pass into the dream. Without it every frame is dreamed afresh. Holds one frame
 * pair between calls.
 */
export class FrameDreamer {
  private prev: { input: Tensor; output: Tensor } | null = null;
  private index = 0;
  constructor(
    private readonly backbone: Backbone,
    private readonly cfg: DreamConfig,
    private readonly opts: { warm?: boolean; stepsPerFrame?: number } = {},
  ) {}

  /** The dream of the next frame ([1, 3, H, W] in [0, 1]); a new tensor the caller owns. */
  async next(frame: Tensor, hooks: DreamHooks = {}): Promise<Tensor> {
    const warm = (this.opts.warm ?? true) && this.prev !== null;
    const seed = this.cfg.seed + this.index++;
    let out: Tensor;
    if (warm) {
      const { input, output } = this.prev!;
      using start = T.tidy(() => {
        const moved = changeMask(frame, input);
        return output.add(frame.sub(input).mul(moved)).clamp(0, 1);
      });
      const steps = this.opts.stepsPerFrame ?? Math.max(1, Math.round(this.cfg.steps / 4));
      out = await dream(this.backbone, start, { ...lastOctave(this.cfg, steps), seed }, hooks);
    } else {
      out = await dream(this.backbone, frame, { ...this.cfg, seed }, hooks);
    }
    this.dispose();
    this.prev = { input: T.keep(frame.clone()), output: T.keep(out.clone()) };
    return out;
  }

  dispose(): void {
    if (!this.prev) return;
    this.prev.input.dispose();
    this.prev.output.dispose();
    this.prev = null;
  }
}
