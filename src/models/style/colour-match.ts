// Colour control for a stylised image: give it back the photo's colours, three ways.
import * as T from '../../torch/index.js';
import { Tensor } from '../../torch/index.js';
import { resize } from '../../io/images.js';
import { keepColors } from './losses.js';

/** luminance: the photo's chroma under the result's luminance (neural-style's original_colors);
 * meanstd: each RGB channel's mean and spread set to the photo's; histogram: each RGB
 * channel's values replaced, rank for rank, by the photo's (an exact histogram match). */
export const COLOUR_MATCHES = ['luminance', 'meanstd', 'histogram'] as const;
export type ColourMatch = (typeof COLOUR_MATCHES)[number];

/** `image` [1, 3, H, W] in [0, 1] given the colours of `photo` [1, 3, h, w] (any size). */
export function colourMatch(image: Tensor, photo: Tensor, how: ColourMatch): Tensor {
  return T.tidy(() => {
    if (how === 'luminance') {
      const [h, w] = [image.size(2), image.size(3)];
      return keepColors(image, resize(photo, h, w)).clamp(0, 1);
    }
    const x = image.reshape([3, -1]);
    const ref = photo.reshape([3, -1]);
    let out: Tensor;
    if (how === 'meanstd') {
      const [mx, sx] = [x.mean({ dim: 1, keepdim: true }), T.std(x, [1], 1, true)];
      const [mr, sr] = [ref.mean({ dim: 1, keepdim: true }), T.std(ref, [1], 1, true)];
      out = x.sub(mx).div(sx.clamp(1e-6)).mul(sr).add(mr);
    } else {
      // The pixel of rank k (of n) takes the photo's value at the same quantile.
      const [n, m] = [x.size(1), ref.size(1)];
      const order = x.sort(1)[1];
      const sorted = ref.sort(1)[0];
      const at = T.arange(0, n)
        .float()
        .mul((m - 1) / Math.max(1, n - 1))
        .round()
        .to('int64')
        .reshape([1, n])
        .expand([3, n]);
      out = T.zerosLike(x).scatter(1, order, sorted.gather(1, at));
    }
    return out.reshape(image.shape).clamp(0, 1);
  });
}
