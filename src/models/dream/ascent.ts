// One step of gradient ascent on the image: the loss's gradient, tile by tile, under a
// random roll, normalised (globally, or per band of a Laplacian pyramid) and added.
import * as T from '../../torch/index.js';
import { Tensor } from '../../torch/index.js';
import { resize } from '../../io/images.js';
import { Rng } from '../../util/random.js';
import type { Backbone } from '../../vision/weights.js';
import type { DreamConfig } from './options.js';
import { dreamLoss } from './objective.js';

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
