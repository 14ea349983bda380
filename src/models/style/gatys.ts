// Neural style transfer as the book does it (Gatys et al.): content, style (Gram) and
// total-variation losses on a pretrained backbone, minimised over the image with L-BFGS;
// plus Adam, several weighted styles, style scale, colour preservation and multi-scale.
import * as T from '../../torch/index.js';
import { Tensor } from '../../torch/index.js';
import { resize } from '../../io/images.js';
import { colourMatch } from './colour-match.js';
import { Adam, LBFGS } from '../../optim/index.js';
import { minInputSide, preprocess, type Backbone } from '../../vision/weights.js';
import {
  STYLE_MAX_SIDE,
  checkStyleConfig,
  type StyleConfig,
  type StyleLossKind,
  type StyleWeights,
} from './options.js';
import {
  contentLoss,
  gram,
  maskedGram,
  matchColours,
  meanCovariance,
  SlicedTarget,
  smoothActivations,
  styleLoss,
  totalVariationLoss,
} from './losses.js';

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
  /** After each iteration, with the current image (RGB in [0, 1]; valid during the call). */
  onIteration?(it: StyleIteration, image: Tensor): void | Promise<void>;
  shouldStop?(): boolean;
}

/**
 * One style's weight (normalised to sum 1), its mask at the image's size, and per style layer
 * its target: Gram matrices (with the layer's number of positions), or sliced targets.
 */
interface StyleTarget {
  weight: number;
  mask: Tensor | null;
  grams: Tensor[];
  positions: number[];
  sliced: SlicedTarget[];
}

/** Loss terms of one generated image (pixels 0..255) against fixed targets. */
export class StyleObjective {
  private readonly contentTarget: Tensor;
  private readonly styleTargets: StyleTarget[] = [];
  private readonly maskPositions = new Map<string, Tensor>();
  /** Per style layer and masked style: the mask at the layer's size and Σ mask². */
  private readonly layerMasks = new Map<string, { mask: Tensor; area: number }>();
  /**
   * The colour term's targets: the first style's RGB mean and covariance over the whole image;
   * with masks, each style's, compared with the image's statistics under its mask.
   */
  private readonly colourTargets: { mean: Tensor; cov: Tensor; weight: number; mask: Tensor | null }[] = [];
  /** What the content and each style term are divided by: 1, or their targets' sizes (relative). */
  private readonly contentScale: number;
  private readonly gramScales: number[][];

  constructor(
    readonly backbone: Backbone,
    /** `shares`: each style layer's share of the style term (1 each when absent). */
    readonly layers: { content: string; style: string[]; shares?: number[] },
    content255: Tensor,
    private readonly styles255: { image: Tensor; weight: number; mask?: Tensor | null }[],
    readonly weights: StyleWeights,
    readonly smoothing = false,
    readonly relative = smoothing,
    readonly styleLoss: StyleLossKind = 'gram',
    /** Sliced losses' random directions per channel. */
    readonly directions = 1,
  ) {
    const total = styles255.reduce((a, s) => a + s.weight, 0);
    this.contentTarget = T.keep(
      T.noGrad(() => T.tidy(() => this.features(content255, [layers.content]).get(layers.content)!.detach().clone())),
    );
    for (const s of styles255) {
      const target: StyleTarget = {
        weight: s.weight / total,
        mask: s.mask ?? null,
        grams: [],
        positions: [],
        sliced: [],
      };
      this.styleTargets.push(target);
      this.makeStyleTarget(target, s.image);
    }
    // Relative losses: each over its target's size, so each layer counts alike.
    this.contentScale = relative ? T.noGrad(() => T.tidy(() => this.contentTarget.pow(2).sum().item() as number)) : 1;
    this.gramScales = this.styleTargets.map((t) =>
      t.grams.map((g) => (relative ? T.noGrad(() => T.tidy(() => g.pow(2).sum().item() as number)) : 1)),
    );
    const masked = styles255.some((s) => s.mask);
    for (const s of masked ? styles255 : styles255.slice(0, 1)) {
      const [mean, cov] = T.keep(
        T.noGrad(() =>
          T.tidy(() => {
            const c = meanCovariance(s.image.reshape([3, -1]).div(255));
            return [c.mean, c.cov];
          }),
        ),
      );
      const mask = s.mask ? T.keep(T.tidy(() => s.mask!.reshape([1, -1]))) : null;
      this.colourTargets.push({ mean, cov, weight: masked ? s.weight / total : 1, mask });
    }
  }

  /** One style image's Gram matrices, or sliced targets on fresh random directions, per style layer. */
  private makeStyleTarget(target: StyleTarget, image255: Tensor): void {
    const sl = this.layers.style;
    T.noGrad(() =>
      T.tidy(() => {
        const f = this.features(image255, sl);
        for (const l of sl) {
          const a = f.get(l)!;
          target.positions.push(a.shape[2] * a.shape[3]);
          if (this.styleLoss === 'sliced') target.sliced.push(new SlicedTarget(a, this.directions));
          else target.grams.push(T.keep(gram(a)));
        }
      }),
    );
  }

  /**
   * New random directions for the sliced losses: each draw sees other marginals of the
   * features, so redrawing between optimiser runs matches more of the whole distribution.
   */
  redrawDirections(): void {
    if (this.styleLoss !== 'sliced') return;
    this.styleTargets.forEach((target, t) => {
      target.sliced.forEach((s) => s.dispose());
      target.sliced = [];
      target.positions = [];
      this.makeStyleTarget(target, this.styles255[t].image);
    });
  }

  /** The positions where style `t`'s mask at layer `l`'s size is at least half on (made on first use). */
  private positionsAt(t: number, l: string, mask: Tensor): Tensor {
    const key = `${t}/${l}`;
    let at = this.maskPositions.get(key);
    if (!at) {
      at = T.keep(T.noGrad(() => T.tidy(() => T.nonzero(mask.reshape([-1]).ge(0.5)).reshape([-1]))));
      this.maskPositions.set(key, at);
    }
    return at;
  }

  /** Style `t`'s mask at layer `l`'s size (made on first use), or null when it has none. */
  private maskAt(t: number, l: string, h: number, w: number): { mask: Tensor; area: number } | null {
    const full = this.styleTargets[t].mask;
    if (!full) return null;
    const key = `${t}/${l}`;
    let m = this.layerMasks.get(key);
    if (!m) {
      const mask = T.keep(T.noGrad(() => T.tidy(() => resize(full, h, w).clamp(0, 1))));
      m = { mask, area: T.noGrad(() => T.tidy(() => mask.pow(2).sum().item())) };
      this.layerMasks.set(key, m);
    }
    return m;
  }

  /** The layers' activations; style layers smoothed when asked. */
  private features(x255: Tensor, names: string[]): Map<string, Tensor> {
    const f = this.backbone.net.endpoints(preprocess(x255.div(255), this.backbone.info.preprocess), names);
    if (this.smoothing) for (const l of this.layers.style) if (f.has(l)) f.set(l, smoothActivations(f.get(l)!));
    return f;
  }

  /**
   * The book's total, wc·content + (ws / layers)·Σ style + wtv·tv, plus wcol·colour (relative
   * RGB mean and covariance error against the first style). Returns tensors to backprop.
   */
  terms(x255: Tensor): { total: Tensor; content: Tensor; style: Tensor; tv: Tensor; colour: Tensor } {
    const { content: cl, style: sl } = this.layers;
    const f = this.features(x255, [cl, ...sl]);
    const content = contentLoss(this.contentTarget, f.get(cl)!).div(this.contentScale);
    const size = x255.shape[2] * x255.shape[3];
    let style = T.zeros([]);
    this.styleTargets.forEach((target, t) => {
      sl.forEach((l, i) => {
        const weight = target.weight * (this.layers.shares?.[i] ?? 1);
        if (weight === 0) return;
        const a = f.get(l)!;
        const m = this.maskAt(t, l, a.shape[2], a.shape[3]);
        if (this.styleLoss === 'sliced') {
          // A region's features are those where its mask is on; compared with as many quantiles.
          const at = m ? this.positionsAt(t, l, m.mask) : null;
          if (at && at.shape[0] === 0) return;
          const [, c, h, w] = a.shape;
          const region = at
            ? a
                .reshape([c, h * w])
                .indexSelect(1, at)
                .reshape([1, c, 1, at.shape[0]])
            : a;
          const sliced = target.sliced[i];
          const term = sliced.loss(region);
          style = style.add((this.relative ? term.div(sliced.meanSquare) : term).mul(weight));
          return;
        }
        if (m && m.area < 1e-6) return; // the mask is off everywhere at this layer's size
        // A region's Gram is scaled to as many positions as the style image's, to compare alike.
        const g = m ? maskedGram(a, m.mask, target.positions[i] / m.area) : gram(a);
        const term = this.relative
          ? g.sub(target.grams[i]).pow(2).sum().div(this.gramScales[t][i])
          : styleLoss(target.grams[i], g, size);
        style = style.add(term.mul(weight));
      });
    });
    style = style.div(sl.length);
    const pixels = x255.reshape([3, -1]).div(255);
    let colour = T.zeros([]);
    for (const t of this.colourTargets) {
      const c = meanCovariance(pixels, t.mask ?? undefined);
      const term = c.mean
        .sub(t.mean)
        .pow(2)
        .sum()
        .div(t.mean.pow(2).sum())
        .add(c.cov.sub(t.cov).pow(2).sum().div(t.cov.pow(2).sum()));
      colour = colour.add(term.mul(t.weight));
    }
    const tv = totalVariationLoss(x255);
    const total = content
      .mul(this.weights.content)
      .add(style.mul(this.weights.style))
      .add(tv.mul(this.weights.tv))
      .add(colour.mul(this.weights.colour));
    return { total, content, style, tv, colour };
  }

  dispose(): void {
    this.contentTarget.dispose();
    for (const c of this.colourTargets) [c.mean, c.cov, c.mask].forEach((t) => t?.dispose());
    for (const s of this.styleTargets) [...s.grams, ...s.sliced].forEach((g) => g.dispose());
    for (const m of this.layerMasks.values()) m.mask.dispose();
    for (const p of this.maskPositions.values()) p.dispose();
  }
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
      stopped = await optimise(objective, x, cfg, resolved.iterations, s, content255, hooks);
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
    const img = full.div(255).clamp(0, 1);
    const how = cfg.colorMatch ?? (cfg.preserveColors ? 'luminance' : null);
    return how ? colourMatch(img, content, how) : img;
  });
  x!.dispose();
  return result;
}

async function optimise(
  objective: StyleObjective,
  x: Tensor,
  cfg: StyleConfig,
  iterations: number,
  scale: number,
  content255: Tensor,
  hooks: StyleHooks,
): Promise<boolean> {
  let last = { content: 0, style: 0, tv: 0, colour: 0 };
  let evals = 0;
  const closure = (): number =>
    T.tidy(() => {
      x.grad = null;
      const t = objective.terms(x);
      t.total.backward();
      evals++;
      last = { content: t.content.item(), style: t.style.item(), tv: t.tv.item(), colour: t.colour.item() };
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
            const t = objective.terms(x);
            last = { content: t.content.item(), style: t.style.item(), tv: t.tv.item(), colour: t.colour.item() };
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
        const view = T.tidy(() => {
          const img = x.detach().div(255).clamp(0, 1);
          const how = cfg.colorMatch ?? (cfg.preserveColors ? 'luminance' : null);
          return how ? colourMatch(img, content255.div(255), how) : img;
        });
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
