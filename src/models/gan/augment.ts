// Differentiable augmentation (Zhao et al. 2020, DiffAugment's translation and cutout): the
// same random transforms applied to real and generated images before the discriminator, so it
// cannot memorise a small data set, and the generator's gradient passes through them. The
// offsets come from Loom's seeded RNG; the transforms given offsets are pure (tested against
// the authors' PyTorch code).
import * as T from '../../torch/index.js';
import { Tensor } from '../../torch/index.js';

/** 0..n-1 as int64. */
const positions = (n: number) => T.arange(0, n, 1, { dtype: 'int64' });

/** [N, n, n] matrices that move row k to row k - shift[n] (out[i] = in[i + shift]), zero outside. */
function shiftMatrices(n: number, shift: Tensor): Tensor {
  const source = positions(n)
    .reshape([1, n, 1])
    .add(shift.reshape([-1, 1, 1]));
  return positions(n).reshape([1, 1, n]).eq(source).float();
}

/**
 * Images [N, C, H, W] moved by whole pixels, zero-filled: out[n, c, i, j] = x[n, c, i + dy[n],
 * j + dx[n]] (dy, dx int64 [N]), as DiffAugment's rand_translation given its offsets.
 */
export function translate(x: Tensor, dy: Tensor, dx: Tensor): Tensor {
  const [, , h, w] = x.shape;
  const rows = shiftMatrices(h, dy).unsqueeze(1);
  const cols = shiftMatrices(w, dx).unsqueeze(1).transpose(2, 3);
  return T.matmul(T.matmul(rows, x), cols);
}

/** Per image [N, n]: 1 where lo[n] <= i < lo[n] + size. */
function window(n: number, lo: Tensor, size: number): Tensor {
  const d = positions(n)
    .reshape([1, n])
    .sub(lo.reshape([-1, 1]));
  return T.logicalAnd(d.gt(-1), d.lt(size)).float();
}

/** The cutout square's side for an image side and ratio, as DiffAugment rounds it. */
export const cutoutSide = (side: number, ratio: number) => Math.floor(side * ratio + 0.5);

/**
 * Images with a square of zeros: rows cy - s//2 .. cy - s//2 + s - 1 (s = cutoutSide(H)) and
 * likewise columns, clipped to the image; cy, cx int64 [N], as DiffAugment's rand_cutout given
 * its offsets.
 */
export function cutout(x: Tensor, cy: Tensor, cx: Tensor, ratio = 0.5): Tensor {
  const [, , h, w] = x.shape;
  const [sh, sw] = [cutoutSide(h, ratio), cutoutSide(w, ratio)];
  const hole = window(h, cy.sub(Math.floor(sh / 2)), sh)
    .unsqueeze(2)
    .mul(window(w, cx.sub(Math.floor(sw / 2)), sw).unsqueeze(1));
  return x.mul(hole.neg().add(1).unsqueeze(1));
}

export interface AugmentOptions {
  /** The largest shift as a share of the side (DiffAugment: 1/8). */
  translation: number;
  /** The cutout square's side as a share of the image's (DiffAugment: 1/2). */
  cutout: number;
}

export const DIFF_AUGMENT: AugmentOptions = { translation: 0.125, cutout: 0.5 };

/** Translation then cutout, with offsets drawn as DiffAugment draws them. */
export function diffAugment(x: Tensor, opts: AugmentOptions = DIFF_AUGMENT): Tensor {
  const [n, , h, w] = x.shape;
  const [th, tw] = [Math.floor(h * opts.translation + 0.5), Math.floor(w * opts.translation + 0.5)];
  let y = translate(x, T.randint(-th, th + 1, [n]), T.randint(-tw, tw + 1, [n]));
  const [sh, sw] = [cutoutSide(h, opts.cutout), cutoutSide(w, opts.cutout)];
  y = cutout(y, T.randint(0, h + (1 - (sh % 2)), [n]), T.randint(0, w + (1 - (sw % 2)), [n]), opts.cutout);
  return y;
}
