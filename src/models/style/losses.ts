// The book's style-transfer losses. Images are RGB in pixel units (0..255), as the book's
// total-variation weight assumes; activations are [1, C, H, W].
import * as T from '../../torch/index.js';
import { Tensor } from '../../torch/index.js';

/** Σ (generated − content)² over one layer's activations. */
export function contentLoss(content: Tensor, generated: Tensor): Tensor {
  return generated.sub(content).pow(2).sum();
}

/** Gram matrix F·Fᵀ of the activations flattened per channel: [C, C], not normalised. */
export function gram(x: Tensor): Tensor {
  const [n, c, h, w] = x.shape;
  if (n !== 1) throw new Error(`gram takes one image's activations, got a batch of ${n}`);
  const f = x.reshape([c, h * w]);
  return T.mm(f, f.t());
}

/** Batch Gram matrices normalised by C·H·W, so one style weight suits any layer and size. */
export function batchGram(x: Tensor): Tensor {
  const [n, c, h, w] = x.shape;
  const f = x.reshape([n, c, h * w]);
  return T.bmm(f, f.transpose(1, 2)).div(c * h * w);
}

/**
 * The book's style loss: Σ (S − C)² / (4 · channels² · size²), with channels = 3 and size the
 * generated image's height × width, exactly as the book's code has them (not the layer's).
 */
export function styleLoss(styleGram: Tensor, generatedGram: Tensor, imageSize: number): Tensor {
  return generatedGram
    .sub(styleGram)
    .pow(2)
    .sum()
    .div(4 * 9 * imageSize * imageSize);
}

/** Σ ((a² + b²)^1.25) over neighbour differences a (down) and b (right), as in the book. */
export function totalVariationLoss(x: Tensor): Tensor {
  const [, , h, w] = x.shape;
  const base = x.narrow(2, 0, h - 1).narrow(3, 0, w - 1);
  const a = base.sub(x.narrow(2, 1, h - 1).narrow(3, 0, w - 1)).pow(2);
  const b = base.sub(x.narrow(2, 0, h - 1).narrow(3, 1, w - 1)).pow(2);
  return a.add(b).pow(1.25).sum();
}

/** Mean |difference| between vertical and between horizontal neighbours, in pixel units (×255 of [0, 1]). */
export function meanAbsVariation(x01: Tensor): Tensor {
  const [, , h, w] = x01.shape;
  const px = x01.mul(255);
  const dy = px
    .narrow(2, 1, h - 1)
    .sub(px.narrow(2, 0, h - 1))
    .abs()
    .mean();
  const dx = px
    .narrow(3, 1, w - 1)
    .sub(px.narrow(3, 0, w - 1))
    .abs()
    .mean();
  return dy.add(dx);
}

// RGB ↔ YIQ (NTSC): luminance Y and two chroma channels.
const RGB_TO_YIQ = [0.299, 0.587, 0.114, 0.595716, -0.274453, -0.321263, 0.211456, -0.522591, 0.311135];
const YIQ_TO_RGB = [1, 0.9563, 0.621, 1, -0.2721, -0.6474, 1, -1.107, 1.7046];

function mix3(x: Tensor, m: number[]): Tensor {
  return T.conv2d(x, T.tensor(m, { shape: [3, 3, 1, 1] }));
}

/** The generated image's luminance with the content's chroma (colour preservation). */
export function keepColors(generated: Tensor, content: Tensor): Tensor {
  return T.tidy(() => {
    const g = mix3(generated, RGB_TO_YIQ);
    const c = mix3(content, RGB_TO_YIQ);
    return mix3(T.cat([g.narrow(1, 0, 1), c.narrow(1, 1, 2)], 1), YIQ_TO_RGB);
  });
}

/**
 * Mean [C, 1] and covariance [C, C] of `values` [C, N], one column per pixel; with `weights`
 * [1, N] (a mask), each pixel counted by its weight.
 */
export function meanCovariance(values: Tensor, weights?: Tensor): { mean: Tensor; cov: Tensor } {
  if (!weights) {
    const mean = values.mean({ dim: 1, keepdim: true });
    const d = values.sub(mean);
    return { mean, cov: T.mm(d, d.t()).div(values.shape[1]) };
  }
  const total = weights.sum();
  const mean = values.mul(weights).sum({ dim: 1, keepdim: true }).div(total);
  const d = values.sub(mean);
  return { mean, cov: T.mm(d.mul(weights), d.t()).div(total) };
}

/** The Gram matrix of the activations where `mask` [1, 1, H, W] is on, times `scale`. */
export function maskedGram(x: Tensor, mask: Tensor, scale: number): Tensor {
  return gram(x.mul(mask)).mul(scale);
}

/**
 * The symmetric square root of a symmetric positive semi-definite matrix, and the inverse of
 * that root (eigenvalues under 1e-10 taken as 1e-10 there).
 */
export function sqrtSymmetric(m: Tensor): { root: Tensor; inverse: Tensor } {
  const [vals, vecs] = T.linalgEigh(m);
  const s = vals.clamp(0).sqrt();
  return {
    root: T.mm(vecs.mul(s.reshape([1, -1])), vecs.t()),
    inverse: T.mm(vecs.mul(s.clamp(1e-5).reciprocal().reshape([1, -1])), vecs.t()),
  };
}

/**
 * `image` recoloured to `palette`'s colour mean and covariance (RGB, [0, 1]), by the optimal
 * transport map between the two Gaussians: each colour moves as little as the match allows, so
 * the image keeps its shapes while taking on the other's palette.
 */
export function matchColours(image: Tensor, palette: Tensor): Tensor {
  return T.tidy(() => {
    const pixels = image.reshape([3, -1]).to('float64');
    const a = meanCovariance(pixels);
    const b = meanCovariance(palette.reshape([3, -1]).to('float64'));
    const eps = T.eye(3).to('float64').mul(1e-5);
    const rb = sqrtSymmetric(b.cov.add(eps));
    const mid = sqrtSymmetric(T.mm(T.mm(rb.root, a.cov.add(eps)), rb.root));
    const map = T.mm(T.mm(rb.root, mid.inverse), rb.root);
    const out = T.mm(map, pixels.sub(a.mean)).add(b.mean);
    return out.to('float32').reshape(image.shape).clamp(0, 1);
  });
}

/** Activation smoothing (Wang et al. 2021): a softmax over all of one image's activations in a layer. */
export function smoothActivations(x: Tensor): Tensor {
  return T.softmax(x.reshape([x.shape[0], -1]), 1).reshape(x.shape);
}

/** `k` random directions in `c` dimensions, as the rows of a [k, c] matrix of unit length. */
export function randomDirections(k: number, c: number): Tensor {
  const d = T.randn([k, c]);
  return d.div(d.pow(2).sum({ dim: 1, keepdim: true }).sqrt());
}

/**
 * Each image's activations in `x` [B, C, H, W] projected on the rows of `directions` [K, C],
 * each projection's H·W values sorted: the quantiles of K one-dimensional marginals, [B, K, H·W].
 */
export function sortedProjections(x: Tensor, directions: Tensor): Tensor {
  const [b, c, h, w] = x.shape;
  return T.sort(T.matmul(directions, x.reshape([b, c, h * w])), 2)[0];
}

/** Sorted values [K, N] resampled to M quantiles each (the middle of each of M equal shares). */
export function resampleQuantiles(sorted: Tensor, m: number): Tensor {
  const [k, n] = sorted.shape;
  if (n === m) return sorted;
  const at = Array.from({ length: m }, (_, i) => Math.min(n - 1, Math.floor(((i + 0.5) * n) / m)));
  return T.indexSelect(sorted, 1, T.tensor(at, { dtype: 'int64' })).reshape([k, m]);
}

/**
 * One painting's activations at one layer as a sliced Wasserstein target (Heitz et al., CVPR
 * 2021): `k` random unit directions, the painting's sorted projections on them (the quantiles
 * of k one-dimensional marginals) and their mean square. It matches whole distributions of
 * features, not only their second moments.
 */
export class SlicedTarget {
  readonly directions: Tensor;
  private readonly quantiles: Tensor;
  /** The quantiles' mean square, which relative losses divide by. */
  readonly meanSquare: number;
  /** The quantiles resampled to an image's number of positions, per number (made on first use). */
  private readonly resampled = new Map<number, Tensor>();

  /**
   * `activations` [1, C, H, W]; `directions` [K, C] of unit rows, or a number per channel
   * (round(C × n), at least 1, drawn from torch's generator; 1 when absent).
   */
  constructor(activations: Tensor, directions: Tensor | number = 1) {
    [this.directions, this.quantiles] = T.keep(
      T.noGrad(() =>
        T.tidy(() => {
          const c = activations.shape[1];
          const d =
            typeof directions === 'number'
              ? randomDirections(Math.max(1, Math.round(c * directions)), c)
              : directions.clone();
          return [d, sortedProjections(activations, d).select(0, 0)];
        }),
      ),
    );
    this.meanSquare = T.noGrad(() => T.tidy(() => this.quantiles.pow(2).mean().item() as number));
  }

  /**
   * The mean squared difference between the sorted projections of each image's activations in
   * `x` [B, C, H, W] (or a region's, [1, C, 1, N]) and the painting's quantiles at as many positions.
   */
  loss(x: Tensor): Tensor {
    const [, , h, w] = x.shape;
    return sortedProjections(x, this.directions)
      .sub(this.quantilesAt(h * w))
      .pow(2)
      .mean();
  }

  private quantilesAt(n: number): Tensor {
    let q = this.resampled.get(n);
    if (!q) {
      const target = this.quantiles;
      q = T.keep(T.noGrad(() => T.tidy(() => resampleQuantiles(target, n).clone())));
      this.resampled.set(n, q);
    }
    return q;
  }

  dispose(): void {
    for (const t of [this.directions, this.quantiles, ...this.resampled.values()]) t.dispose();
  }
}
