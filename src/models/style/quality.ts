// Judges of a style transfer that the optimisation does not see: colour (the Gaussian
// 2-Wasserstein distance between CIE Lab statistics), texture (Gram matrices in MobileNetV2, a
// network the transfer never used) and content (structural similarity of blurred luminance).
// Each colour and texture figure is relative: the result's distance to the painting over the
// photo's, so 1 means "no closer than the photo was" and 0 "the painting's own statistics".
import * as T from '../../torch/index.js';
import { Tensor } from '../../torch/index.js';
import { resize } from '../../io/images.js';
import type { KerasGraph } from '../../vision/keras-graph.js';
import { gram, meanCovariance, sqrtSymmetric } from './losses.js';

/** sRGB in [0, 1], [1, 3, H, W] → CIE Lab (D65), [3, H·W]. */
export function rgbToLab(x01: Tensor): Tensor {
  return T.tidy(() => {
    const c = x01.clamp(0, 1).reshape([3, -1]).to('float64');
    // sRGB's transfer curve, undone.
    const lin = T.where(c.le(0.04045), c.div(12.92), c.add(0.055).div(1.055).pow(2.4));
    const m = T.tensor([0.4124, 0.3576, 0.1805, 0.2126, 0.7152, 0.0722, 0.0193, 0.1192, 0.9505], {
      shape: [3, 3],
    }).to('float64');
    const white = T.tensor([0.95047, 1, 1.08883], { shape: [3, 1] }).to('float64');
    const xyz = T.mm(m, lin).div(white);
    const e = 216 / 24389;
    const k = 24389 / 27;
    const f = T.where(xyz.gt(e), xyz.pow(1 / 3), xyz.mul(k).add(16).div(116));
    const [fx, fy, fz] = [0, 1, 2].map((i) => f.narrow(0, i, 1));
    return T.cat([fy.mul(116).sub(16), fx.sub(fy).mul(500), fy.sub(fz).mul(200)], 0);
  });
}

/** 2-Wasserstein distance between two Gaussians (their means [3, 1] and covariances). */
function gaussianW2(a: { mean: Tensor; cov: Tensor }, b: { mean: Tensor; cov: Tensor }): number {
  const root = sqrtSymmetric(a.cov).root;
  const cross = sqrtSymmetric(T.mm(T.mm(root, b.cov), root)).root;
  const squared = a.mean.sub(b.mean).pow(2).sum().add(T.trace(a.cov)).add(T.trace(b.cov)).sub(T.trace(cross).mul(2));
  return Math.sqrt(Math.max(0, squared.item() as number));
}

/** Lab 2-Wasserstein distance of `result` to `painting`, over `photo`'s. */
export function colourDistance(result: Tensor, photo: Tensor, painting: Tensor): number {
  return T.tidy(() => {
    const [r, c, p] = [result, photo, painting].map((x) => meanCovariance(rgbToLab(x)));
    return gaussianW2(r, p) / gaussianW2(c, p);
  });
}

/** MobileNetV2 layers at strides 2, 4, 8 and 16: edges to object parts. */
export const TEXTURE_LAYERS = ['expanded_conv_project_BN', 'block_2_add', 'block_5_add', 'block_12_add'];

function judgeGrams(judge: KerasGraph, x01: Tensor): Tensor[] {
  return T.noGrad(() =>
    T.tidy(() => {
      const f = judge.endpoints(x01, TEXTURE_LAYERS);
      return TEXTURE_LAYERS.map((l) => {
        const a = f.get(l)!;
        return gram(a).div(a.shape[2] * a.shape[3]);
      });
    }),
  );
}

/** Mean over MobileNetV2 layers of ‖G(result) − G(painting)‖ / ‖G(photo) − G(painting)‖. */
export function textureDistance(judge: KerasGraph, result: Tensor, photo: Tensor, painting: Tensor): number {
  const [r, c, p] = [result, photo, painting].map((x) => judgeGrams(judge, x));
  let sum = 0;
  for (let i = 0; i < TEXTURE_LAYERS.length; i++) {
    sum += T.tidy(() => (r[i].sub(p[i]).norm().item() as number) / (c[i].sub(p[i]).norm().item() as number));
  }
  [...r, ...c, ...p].forEach((t) => t.dispose());
  return sum / TEXTURE_LAYERS.length;
}

function gaussianKernel(sigma: number): Tensor {
  const r = Math.ceil(3 * sigma);
  const g = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const s = g.reduce((a, b) => a + b, 0);
  const k = T.tensor(g.map((v) => v / s));
  return T.outer(k, k).reshape([1, 1, 2 * r + 1, 2 * r + 1]);
}

function blur(x: Tensor, sigma: number): Tensor {
  const k = gaussianKernel(sigma);
  const pad = (k.shape[2] - 1) / 2;
  return T.conv2d(T.reflectionPad2d(x, [pad, pad, pad, pad]), k);
}

/**
 * Structural similarity (Wang et al. 2004: 11-tap Gaussian window, σ 1.5) of the two images'
 * luminance after a Gaussian blur of σ = height/128 pixels: the photo's shapes and edges
 * without the fine texture that a style should replace. 1: same structure.
 */
export function contentSimilarity(result: Tensor, photo: Tensor): number {
  return T.noGrad(() =>
    T.tidy(() => {
      const [, , h, w] = result.shape;
      const luma = (x: Tensor) => T.conv2d(x, T.tensor([0.299, 0.587, 0.114], { shape: [1, 3, 1, 1] }));
      const sigma = Math.max(1, h / 128);
      const a = blur(luma(result.clamp(0, 1)), sigma);
      const b = blur(luma(resize(photo, h, w).clamp(0, 1)), sigma);
      const win = (x: Tensor) => T.conv2d(x, gaussianKernel(1.5));
      const [ma, mb] = [win(a), win(b)];
      const va = win(a.mul(a)).sub(ma.mul(ma));
      const vb = win(b.mul(b)).sub(mb.mul(mb));
      const cov = win(a.mul(b)).sub(ma.mul(mb));
      const c1 = 0.01 ** 2;
      const c2 = 0.03 ** 2;
      const ssim = ma
        .mul(mb)
        .mul(2)
        .add(c1)
        .mul(cov.mul(2).add(c2))
        .div(ma.pow(2).add(mb.pow(2)).add(c1).mul(va.add(vb).add(c2)));
      return ssim.mean().item() as number;
    }),
  );
}

export interface StyleScores {
  /** Lab 2-Wasserstein distance to the painting, relative to the photo's (lower: closer). */
  colour: number;
  /** MobileNetV2 Gram distance to the painting, relative to the photo's (lower: closer). */
  texture: number;
  /** Structural similarity of blurred luminance to the photo (higher: more of it kept). */
  content: number;
}

/**
 * The three judges for one result; images RGB in [0, 1], photo and painting at any size: the
 * photo is compared at the result's size, the painting at the result's height (the scale at
 * which the transfer sees it by default), so brush strokes are compared at one scale.
 */
export function scoreStyle(judge: KerasGraph, result: Tensor, photo: Tensor, painting: Tensor): StyleScores {
  const [, , h, w] = result.shape;
  const [photoAtSize, paintingAtHeight] = T.tidy(() => [
    resize(photo, h, w),
    resize(painting, h, Math.max(1, Math.round((painting.shape[3] * h) / painting.shape[2]))),
  ]);
  try {
    return {
      colour: colourDistance(result, photoAtSize, paintingAtHeight),
      texture: textureDistance(judge, result, photoAtSize, paintingAtHeight),
      content: contentSimilarity(result, photoAtSize),
    };
  } finally {
    photoAtSize.dispose();
    paintingAtHeight.dispose();
  }
}
