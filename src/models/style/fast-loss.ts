// The perceptual loss the fast style network trains on: content features of the photo, Gram
// matrices (or sliced Wasserstein distances) of the painting, and total variation, all through
// a pretrained backbone.
import * as T from '../../torch/index.js';
import { Tensor } from '../../torch/index.js';
import { preprocess, type Backbone } from '../../vision/weights.js';
import { styleDefaults, type StyleLossKind } from './options.js';
import { batchGram, meanAbsVariation, SlicedTarget } from './losses.js';

export class FastStyleLoss {
  readonly layers: { content: string; style: string[] };
  /** Per style layer: the painting's Gram matrix, or its sliced target. */
  private readonly grams: Tensor[] = [];
  private readonly sliced: SlicedTarget[] = [];
  constructor(
    readonly backbone: Backbone,
    style01: Tensor,
    readonly weights: { content: number; style: number; tv: number },
    readonly kind: StyleLossKind = 'gram',
  ) {
    this.layers = FastStyleLoss.layersOf(backbone.net.arch);
    const style = this.layers.style;
    T.noGrad(() =>
      T.tidy(() => {
        const f = this.features(style01, style);
        for (const l of style) {
          if (kind === 'sliced') this.sliced.push(new SlicedTarget(f.get(l)!));
          else this.grams.push(T.keep(batchGram(f.get(l)!)));
        }
      }),
    );
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
        // Relative to the target's mean square, as the Gatys transfer's.
        style = style.add(this.sliced[i].loss(f.get(l)!).div(this.sliced[i].meanSquare));
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
    for (const t of [...this.grams, ...this.sliced]) t.dispose();
  }
}
