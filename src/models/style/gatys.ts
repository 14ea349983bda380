// Neural style transfer as the book does it (Gatys et al.): the loss of ./objective.ts
// minimised over the image with L-BFGS, scale by scale from small to the size asked for;
// plus Adam, several weighted styles, style scale, colour preservation and masks.
import * as T from '../../torch/index.js';
import { Tensor } from '../../torch/index.js';
import { resize } from '../../io/images.js';
import { colourMatch } from './colour-match.js';
import { Adam, LBFGS } from '../../optim/index.js';
import { minInputSide, type Backbone } from '../../vision/weights.js';
import { STYLE_MAX_SIDE, checkStyleConfig, type StyleConfig } from './options.js';
import { matchColours } from './losses.js';
import { StyleObjective, type StyleTerms } from './objective.js';
import { precisionNote, stepPrecision, type StepPrecision } from '../../train/index.js';

export interface StyleImage {
  /** RGB in [0, 1], [1, 3, H, W]. */
  image: Tensor;
  weight: number;
  /**
   * Where in the photo this style goes: [1, 1, H, W] in [0, 1], the photo's shape at any
   * resolution; none: everywhere.
   */
  mask?: Tensor | null;
}

export interface StyleIteration {
  scale: number;
  iteration: number;
  loss: number;
  content_loss: number;
  style_loss: number;
  tv_loss: number;
  colour_loss: number;
  evals: number;
  ms_per_eval: number;
  height: number;
  width: number;
}

export interface StyleHooks {
  /** A sentence worth telling the user (what --precision auto chose). */
  onNote?(message: string): void;
  /** After each iteration, with the current image (RGB in [0, 1]; valid during the call). */
  onIteration?(it: StyleIteration, image: Tensor): void | Promise<void>;
  shouldStop?(): boolean;
}

/** Masks must be one channel and have the photo's shape (at any resolution), and cover something. */
export function checkMasks(styles: StyleImage[], h: number, w: number): void {
  styles.forEach((st, i) => {
    if (!st.mask) return;
    const [n, c, mh, mw] = st.mask.shape;
    if (n !== 1 || c !== 1) throw new Error(`style ${i + 1}'s mask must be [1, 1, H, W], got [${st.mask.shape}]`);
    if (Math.abs(mw / mh - w / h) > 0.02 * (w / h))
      throw new Error(
        `style ${i + 1}'s mask is ${mw}x${mh} but the photo is ${w}x${h}: a mask needs the photo's shape`,
      );
    if (T.tidy(() => st.mask!.max().item()) < 0.5) throw new Error(`style ${i + 1}'s mask covers nothing (all dark)`);
  });
}

/**
 * The photo recoloured to the first style's palette; with masks, each masked region to its
 * own style's (unmasked pixels keep the photo's colours).
 */
function matchedStart(content01: Tensor, styles255: { image: Tensor; mask: Tensor | null }[]): Tensor {
  if (!styles255.some((s) => s.mask)) return matchColours(content01, styles255[0].image.div(255));
  let out = T.zeros(content01.shape);
  let cover = T.zeros([1, 1, ...content01.shape.slice(2)]);
  for (const s of styles255) {
    const m = s.mask ?? T.ones(cover.shape);
    out = out.add(matchColours(content01, s.image.div(255)).mul(m));
    cover = cover.add(m);
  }
  // Overlapping masks average their styles' colours; uncovered pixels keep the photo's.
  return out.add(content01.mul(cover.neg().add(1).clamp(0))).div(cover.clamp(1));
}

/** The style image at `styleScale` x the output height, never under the network's smallest side. */
function scaledStyle(style: Tensor, height: number, styleScale: number, least: number): Tensor {
  const [, , h, w] = style.shape;
  const sh = Math.max(least, Math.round(height * styleScale));
  return resize(style, sh, Math.max(least, Math.round((w * sh) / h)));
}

/** Stylises `content` (RGB [0, 1]); returns the result at `height` × the content's aspect. */
export async function transferStyle(
  backbone: Backbone,
  content: Tensor,
  styles: StyleImage[],
  cfg: StyleConfig,
  hooks: StyleHooks = {},
): Promise<Tensor> {
  const resolved = checkStyleConfig(cfg, styles, backbone);
  const layers = { content: resolved.content, style: resolved.style, shares: resolved.styleShares };
  const [, , ch, cw] = content.shape;
  checkMasks(styles, ch, cw);
  const width = Math.round((cw * cfg.height) / ch);
  if (width > STYLE_MAX_SIDE)
    throw new Error(
      `--height ${cfg.height} makes the output ${width} pixels wide (the photo's shape); the most is ${STYLE_MAX_SIDE}`,
    );
  // The largest product: a 3x3 convolution at the backbone's second block, a half of the side, as im2col multiplies it.
  const precision = stepPrecision(cfg.precision, [Math.ceil(cfg.height / 2) * Math.ceil(width / 2), 64 * 9, 128]);
  if (cfg.precision === 'auto') hooks.onNote?.(precisionNote(precision));
  T.manualSeed(cfg.seed);
  let x: Tensor | null = null;
  let stopped = false;
  for (let s = 0; s < cfg.scales && !stopped; s++) {
    const h = Math.round(cfg.height / 2 ** (cfg.scales - 1 - s));
    const w = Math.max(1, Math.round((cw * h) / ch));
    const content255 = T.keep(T.tidy(() => resize(content, h, w).mul(255)));
    const styles255 = styles.map((st) => ({
      image: T.keep(T.tidy(() => scaledStyle(st.image, h, cfg.styleScale, minInputSide(backbone.net.arch)).mul(255))),
      weight: st.weight,
      mask: st.mask ? T.keep(T.tidy(() => resize(st.mask!, h, w).clamp(0, 1))) : null,
    }));
    const objective = new StyleObjective(
      backbone,
      layers,
      content255,
      styles255,
      resolved.weights,
      resolved.smoothing,
      resolved.relative,
      resolved.styleLoss,
      resolved.directions,
    );
    const start: Tensor = T.tidy(() => {
      if (x) return resize(x, h, w);
      if (resolved.init === 'matched') return matchedStart(content255.div(255), styles255).mul(255);
      if (resolved.init === 'style') return resize(styles[0].image, h, w).mul(255);
      if (resolved.init === 'noise') return T.rand([1, 3, h, w]).mul(255);
      return content255.clone();
    });
    x?.dispose();
    x = T.keep(start.detach().requiresGrad_(true));
    try {
      stopped = await optimise(objective, x, cfg, resolved.iterations, s, content255, hooks, precision);
    } finally {
      objective.dispose();
      content255.dispose();
      styles255.forEach((st) => [st.image, st.mask].forEach((t) => t?.dispose()));
    }
  }
  const result = T.tidy(() => {
    // Stopped at a smaller scale: the image so far, brought up to the size asked for.
    const fullH = Math.round(cfg.height);
    const full =
      x!.shape[2] === fullH ? x!.detach() : resize(x!.detach(), fullH, Math.max(1, Math.round((cw * fullH) / ch)));
    return shownImage(full, content, cfg);
  });
  x!.dispose();
  return result;
}

/** The image as the user sees it: pixels 0..255 to [0, 1], recoloured as --color-match asks. */
function shownImage(x255: Tensor, content01: Tensor, cfg: StyleConfig): Tensor {
  const img = x255.div(255).clamp(0, 1);
  const how = cfg.colorMatch ?? (cfg.preserveColors ? 'luminance' : null);
  return how ? colourMatch(img, content01, how) : img;
}

/** The terms' values, for the iteration's report. */
function termValues(t: StyleTerms): { content: number; style: number; tv: number; colour: number } {
  return { content: t.content.item(), style: t.style.item(), tv: t.tv.item(), colour: t.colour.item() };
}

async function optimise(
  objective: StyleObjective,
  x: Tensor,
  cfg: StyleConfig,
  iterations: number,
  scale: number,
  content255: Tensor,
  hooks: StyleHooks,
  precision: StepPrecision,
): Promise<boolean> {
  let last = { content: 0, style: 0, tv: 0, colour: 0 };
  let evals = 0;
  const closure = (): number =>
    T.tidy(() => {
      x.grad = null;
      const t = precision.run(() => objective.terms(x));
      t.total.backward();
      evals++;
      last = termValues(t);
      return t.total.item();
    });
  const newLbfgs = () =>
    new LBFGS([x], {
      lr: 1,
      maxIter: cfg.maxEvals,
      maxEval: cfg.maxEvals,
      historySize: 10,
      lineSearch: 'strong_wolfe',
      // Stops between loss evaluations, not after a whole iteration of up to maxEvals.
      shouldStop: hooks.shouldStop ? () => hooks.shouldStop!() : undefined,
    });
  let lbfgs = cfg.optimizer === 'lbfgs' ? newLbfgs() : null;
  // L-BFGS restarts with new directions: its curvature history belongs to the old objective.
  const redrawEvery = cfg.redrawDirections ? (lbfgs ? 1 : cfg.maxEvals) : 0;
  const adam = cfg.optimizer === 'adam' ? new Adam([x], { lr: cfg.lr }) : null;
  const total = cfg.optimizer === 'lbfgs' ? iterations : iterations * cfg.maxEvals;
  try {
    for (let i = 0; i < total; i++) {
      if (hooks.shouldStop?.()) return true;
      const before = evals;
      const t0 = performance.now();
      let loss: number;
      if (redrawEvery && i > 0 && i % redrawEvery === 0) {
        objective.redrawDirections();
        if (lbfgs) {
          lbfgs.dispose?.();
          lbfgs = newLbfgs();
        }
      }
      if (lbfgs) {
        lbfgs.step(closure);
        // Stopped inside the step: x holds the lowest loss it evaluated; no more work.
        if (hooks.shouldStop?.()) return true;
        // The loss at the new image (step() returns the loss where it started).
        loss = T.noGrad(() =>
          T.tidy(() => {
            const t = precision.run(() => objective.terms(x));
            last = termValues(t);
            return t.total.item();
          }),
        );
      } else {
        loss = closure();
        adam!.step();
      }
      const ms = performance.now() - t0;
      const it: StyleIteration = {
        scale,
        iteration: i,
        loss,
        content_loss: last.content,
        style_loss: last.style,
        tv_loss: last.tv,
        colour_loss: last.colour,
        evals: evals - before,
        ms_per_eval: ms / Math.max(1, evals - before),
        height: x.shape[2],
        width: x.shape[3],
      };
      if (hooks.onIteration) {
        const view = T.tidy(() => shownImage(x.detach(), content255.div(255), cfg));
        try {
          await hooks.onIteration(it, view);
        } finally {
          view.dispose();
        }
      }
    }
    return false;
  } finally {
    lbfgs?.dispose?.();
    adam?.dispose?.();
  }
}
