// Dreams that run over many frames: a zoom into the dream, and a video dreamed frame by
// frame, each later frame starting from the dream of the one before.
import * as T from '../../torch/index.js';
import { Tensor } from '../../torch/index.js';
import { resize } from '../../io/images.js';
import type { Backbone } from '../../vision/weights.js';
import { wholeNumber } from '../checks.js';
import type { DreamConfig } from './options.js';
import { layersInOctave } from './layers.js';
import { dream, type DreamHooks } from './dream.js';

/**
 * One octave at full size with the layers of `cfg`'s last octave, of `steps` steps (a quarter
 * of --steps unless given): a zoom's or a video's later frames.
 */
function lastOctave(cfg: DreamConfig, given?: number): DreamConfig {
  const steps = given ?? Math.max(1, Math.round(cfg.steps / 4));
  const layers = layersInOctave(cfg.layers, cfg.layerOctaves ?? {}, cfg.octaves);
  return { ...cfg, octaves: 1, layerOctaves: {}, layers, steps };
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
  const frameCfg = lastOctave(cfg, opts.stepsPerFrame);
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
      out = await dream(this.backbone, start, { ...lastOctave(this.cfg, this.opts.stepsPerFrame), seed }, hooks);
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
