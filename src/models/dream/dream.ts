// DeepDream as the book does it: gradient ascent on the image (./ascent.ts) over octaves,
// from the smallest scale up, re-injecting the detail each upscale loses.
import * as T from '../../torch/index.js';
import { Tensor } from '../../torch/index.js';
import { resize } from '../../io/images.js';
import { Rng } from '../../util/random.js';
import { minInputSide, type Backbone } from '../../vision/weights.js';
import { checkDreamConfig, type DreamConfig } from './options.js';
import { layersInOctave, splitKey } from './layers.js';
import { Breather, fitThreadsBetweenSteps, precisionNote, stepPrecision, type RunControl } from '../../train/index.js';
import { guideFeatures, pickChannels } from './objective.js';
import { dreamStep } from './ascent.js';

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

/** Octave shapes from smallest to the original. */
export function octaveShapes(h: number, w: number, octaves: number, scale: number): [number, number][] {
  const shapes: [number, number][] = [];
  for (let i = octaves - 1; i >= 0; i--) {
    shapes.push([Math.max(1, Math.round(h / scale ** i)), Math.max(1, Math.round(w / scale ** i))]);
  }
  return shapes;
}

/** The image from the book's [-1, 1] back to RGB in [0, 1]. */
function toRgb(image: Tensor): Tensor {
  return image.add(1).div(2).clamp(0, 1);
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
  // The largest product: a 3x3 convolution of Inception's middle blocks at an eighth of the side (im2col).
  const precision = stepPrecision(cfg.precision, [Math.ceil(h / 8) * Math.ceil(w / 8), 288 * 9, 96]);
  if (cfg.precision === 'auto') hooks.onNote?.(precisionNote(precision));
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
        const loss = precision.run(() => dreamStep(backbone, img, octaveCfg, rng, guide));
        hooks.onStep?.({ octave: o, step: s, loss, ms_per_step: performance.now() - t0, height: oh, width: ow });
        if (stepCfg.maxLoss !== null && loss > stepCfg.maxLoss) break;
      }
      if (hooks.onOctave) {
        const view = T.tidy(() => toRgb(img));
        try {
          await hooks.onOctave(o, view);
        } finally {
          view.dispose();
        }
      }
    }
    return T.tidy(() => toRgb(img));
  } finally {
    for (const t of [original, shrunk, img, ...(guide?.values() ?? [])]) t.dispose();
  }
}
