// What DeepDream climbs: the activations of chosen layers (or single channels) of a
// pretrained backbone, their mean square (the book's loss) or their likeness to a guide
// image's; and the choice of the channels to excite.
import * as T from '../../torch/index.js';
import { Tensor } from '../../torch/index.js';
import { resize } from '../../io/images.js';
import { preprocess, type Backbone } from '../../vision/weights.js';
import { splitKey, type ChannelChoice } from './layers.js';

/** Activations of the loss's layers for an image in [-1, 1], by layer name. */
function activations(backbone: Backbone, image: Tensor, layers: Record<string, number>): Map<string, Tensor> {
  const x =
    backbone.info.preprocess === 'inception' ? image : preprocess(image.add(1).div(2), backbone.info.preprocess);
  return backbone.net.endpoints(x, [...new Set(Object.keys(layers).map((k) => splitKey(k)[0]))]);
}

/** One channel of a layer's activations, or all of them; a channel past the layer's is refused. */
function channelOf(acts: Map<string, Tensor>, key: string): Tensor {
  const [name, ch] = splitKey(key);
  const a = acts.get(name)!;
  if (ch === null) return a;
  if (ch >= a.size(1)) throw new Error(`${name} has channels 0 to ${a.size(1) - 1}; there is no channel ${ch}`);
  return a.narrow(1, ch, 1);
}

/**
 * The book's loss: Σ weight · Σ(activation² without a 2-pixel border) / activation size, over
 * whole layers or single channels. With `guide` (each key's activations of the guide image),
 * each position's activation vector is pulled toward the guide's vector it is most alike
 * (largest dot product), as the original DeepDream notebook's guided dreams: Σ weight ·
 * Σ_positions x · g_best / activation size.
 */
export function dreamLoss(
  backbone: Backbone,
  image: Tensor,
  layers: Record<string, number>,
  guide: Map<string, Tensor> | null = null,
): Tensor {
  const acts = activations(backbone, image, layers);
  let loss: Tensor | null = null;
  for (const [key, w] of Object.entries(layers)) {
    const a = channelOf(acts, key);
    const [, c, h, wd] = a.shape;
    let term: Tensor;
    if (guide) {
      const x = a.reshape([c, h * wd]);
      const y = guide.get(key)!.reshape([c, -1]);
      const best = T.noGrad(() => x.t().matmul(y).argmax(1));
      term = x
        .mul(y.indexSelect(1, best))
        .sum()
        .mul(w / a.numel);
    } else {
      const inner = h > 4 && wd > 4 ? a.narrow(2, 2, h - 4).narrow(3, 2, wd - 4) : a;
      term = inner
        .pow(2)
        .sum()
        .mul(w / a.numel);
    }
    loss = loss ? loss.add(term) : term;
  }
  return loss!;
}

/** Each loss key's activations of the guide image resized to [h, w] (no gradient), kept. */
export function guideFeatures(
  backbone: Backbone,
  guide: Tensor,
  layers: Record<string, number>,
  h: number,
  w: number,
): Map<string, Tensor> {
  return T.noGrad(() =>
    T.tidy(() => {
      const acts = activations(backbone, resize(guide.mul(2).sub(1), h, w), layers);
      return new Map(Object.keys(layers).map((k) => [k, T.keep(channelOf(acts, k).contiguous())]));
    }),
  );
}

/**
 * The layers with each whole layer replaced by its `count` channels most (strong) or least
 * (weak, among those the photo activates at all) active on the image, by mean activation;
 * each takes an equal share of the layer's weight. Layers given with a channel stay.
 */
export function pickChannels(
  backbone: Backbone,
  image: Tensor,
  layers: Record<string, number>,
  choice: ChannelChoice,
): Record<string, number> {
  if (choice === 'all') return layers;
  return T.noGrad(() =>
    T.tidy(() => {
      const acts = activations(backbone, image, layers);
      const out: Record<string, number> = {};
      for (const [key, w] of Object.entries(layers)) {
        const [name, ch] = splitKey(key);
        if (ch !== null) {
          out[key] = w;
          continue;
        }
        const means = acts
          .get(name)!
          .mean({ dim: [0, 2, 3] })
          .toFlatArray() as number[];
        const order = means
          .map((m, i) => [m, i] as const)
          .filter(([m]) => choice.pick === 'strong' || m > 0)
          .sort((a, b) => (choice.pick === 'strong' ? b[0] - a[0] : a[0] - b[0]))
          .slice(0, choice.count);
        for (const [, i] of order) out[`${name}:${i}`] = w / order.length;
      }
      return out;
    }),
  );
}
