// The loss that Gatys style transfer minimises over the image: content, style (Gram or
// sliced), total-variation and colour terms on a pretrained backbone's activations, against
// targets computed once from the photo and the style images.
import * as T from '../../torch/index.js';
import { Tensor } from '../../torch/index.js';
import { resize } from '../../io/images.js';
import { preprocess, type Backbone } from '../../vision/weights.js';
import type { StyleLossKind, StyleWeights } from './options.js';
import {
  contentLoss,
  gram,
  maskedGram,
  meanCovariance,
  SlicedTarget,
  smoothActivations,
  styleLoss,
  totalVariationLoss,
} from './losses.js';

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

/** The loss terms of one image, as tensors to backprop. */
export interface StyleTerms {
  total: Tensor;
  content: Tensor;
  style: Tensor;
  tv: Tensor;
  colour: Tensor;
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
  terms(x255: Tensor): StyleTerms {
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
