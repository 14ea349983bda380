// The perceptual loss the fast style network trains on: content features of the photo, Gram
// matrices (or sliced Wasserstein distances) of the painting, and total variation, all through
// a pretrained backbone.
import * as T from '../../torch/index.js';
import { Tensor } from '../../torch/index.js';
import { preprocess, type Backbone } from '../../vision/weights.js';
import { styleDefaults, type StyleLossKind } from './gatys.js';
import { batchGram, meanAbsVariation, randomDirections, resampleQuantiles, sortedProjections } from './losses.js';

export class FastStyleLoss {
  readonly layers: { content: string; style: string[] };
  private readonly grams: Tensor[];
  /** Sliced: per style layer, fixed unit directions [C, C], the painting's sorted projections and their mean square. */
  private readonly directions: Tensor[] = [];
  private readonly quantiles: Tensor[] = [];
  private readonly scales: number[] = [];
  /** The painting's quantiles resampled to a crop's positions, per layer and size. */
  private readonly resampled = new Map<string, Tensor>();
  constructor(
    readonly backbone: Backbone,
    style01: Tensor,
    readonly weights: { content: number; style: number; tv: number },
    readonly kind: StyleLossKind = 'gram',
  ) {
    this.layers = FastStyleLoss.layersOf(backbone.net.arch);
    const style = this.layers.style;
    this.grams = T.keep(
      T.noGrad(() =>
        T.tidy(() => {
          const f = this.features(style01, style);
          return style.map((l) => batchGram(f.get(l)!));
        }),
      ),
    );
    if (kind === 'sliced') {
      T.noGrad(() =>
        T.tidy(() => {
          const f = this.features(style01, style);
          for (const l of style) {
            const a = f.get(l)!;
            const unit = T.keep(randomDirections(a.shape[1], a.shape[1]));
            const q = T.keep(sortedProjections(a, unit));
            this.directions.push(unit);
            this.quantiles.push(q);
            this.scales.push(q.pow(2).mean().item());
          }
        }),
      );
    }
  }

  /**
   * Sliced Wasserstein style loss of a batch's activations [B, C, H, W] at style layer `i`: each
   * image's sorted projections against the painting's quantiles at as many positions, relative
   * to their mean square.
   */
  private sliced(a: Tensor, i: number): Tensor {
    const [b, c, h, w] = a.shape;
    const key = `${i}/${h * w}`;
    let q = this.resampled.get(key);
    if (!q) {
      const target = this.quantiles[i];
      q = T.keep(T.noGrad(() => T.tidy(() => resampleQuantiles(target, h * w).clone())));
      this.resampled.set(key, q);
    }
    const sorted = T.sort(T.matmul(this.directions[i], a.reshape([b, c, h * w])), 2)[0];
    return sorted.sub(q).pow(2).mean().div(this.scales[i]);
  }
  /** The layers compared: content early (Johnson et al.'s relu2_2; a deep layer at crop sizes
   * is a few pixels wide and lets the network paint over the photo), style as Gatys (for the
   * built-in InceptionV3, the early blocks the fast nets were tuned with). */
  static layersOf(arch: 'inception' | 'vgg19'): { content: string; style: string[] } {
    return arch === 'vgg19'
      ? { content: 'block2_conv2', style: styleDefaults(arch).style }
      : { content: 'Conv2d_4a_3x3', style: ['Conv2d_1a_3x3', 'Conv2d_2b_3x3', 'Conv2d_4a_3x3', 'mixed0', 'mixed1'] };
  }

  /** Whether an h x w image reaches every compared layer (a small one shrinks to nothing). */
  static fits(backbone: Backbone, h: number, w: number): boolean {
    const { content, style } = FastStyleLoss.layersOf(backbone.net.arch);
    try {
      T.noGrad(() => T.tidy(() => backbone.net.endpoints(T.zeros([1, 3, h, w]), [content, ...style])));
      return true;
    } catch {
      return false;
    }
  }

  private features(x01: Tensor, names: string[]): Map<string, Tensor> {
    return this.backbone.net.endpoints(preprocess(x01, this.backbone.info.preprocess), names);
  }
  terms(input: Tensor, output: Tensor): { total: Tensor; content: Tensor; style: Tensor; tv: Tensor } {
    const target = T.noGrad(() => this.features(input, [this.layers.content]).get(this.layers.content)!.detach());
    const f = this.features(output, [this.layers.content, ...this.layers.style]);
    const content = T.mseLoss(f.get(this.layers.content)!, target);
    let style = T.zeros([]);
    this.layers.style.forEach((l, i) => {
      if (this.kind === 'sliced') {
        style = style.add(this.sliced(f.get(l)!, i));
        return;
      }
      const g = batchGram(f.get(l)!);
      style = style.add(T.mseLoss(g, this.grams[i].expand(g.shape)));
    });
    const tv = meanAbsVariation(output);
    const total = content.mul(this.weights.content).add(style.mul(this.weights.style)).add(tv.mul(this.weights.tv));
    return { total, content, style, tv };
  }
  dispose(): void {
    for (const t of [...this.grams, ...this.directions, ...this.quantiles, ...this.resampled.values()]) t.dispose();
  }
}
