// The seed's DCGAN, sized from the data (28x28x1 as well as 32x32x3): a generator from
// Gaussian latent points to tanh images through a strided transposed convolution (kernel 4,
// divisible by the stride 2), and a discriminator of strided convolutions with LeakyReLU and
// dropout, giving one logit (the sigmoid is folded into the loss).
import { Tensor } from '../../torch/index.js';
import { Conv2d, ConvTranspose2d, Dropout, Linear, Module } from '../../nn/index.js';

/** Keras' LeakyReLU default, which the seed uses. */
const SLOPE = 0.3;

export interface GanConfig {
  latent: number;
  channels: number;
  height: number;
  width: number;
  dropout: number;
  /** Convolution widths: the seed's are 256 (generator) and 128 (discriminator). */
  gFilters: number;
  dFilters: number;
}

export class Generator extends Module {
  readonly fc: Linear;
  readonly conv1: Conv2d;
  readonly up: ConvTranspose2d;
  readonly conv2: Conv2d;
  readonly conv3: Conv2d;
  readonly out: Conv2d;
  constructor(readonly config: GanConfig) {
    super();
    const { latent, channels, height, width, gFilters: f } = config;
    if (height % 2 || width % 2) throw new Error(`GAN images need even sides, got ${height}x${width}`);
    this.fc = this.registerModule('fc', new Linear(latent, (f / 2) * (height / 2) * (width / 2)));
    this.conv1 = this.registerModule('conv1', new Conv2d(f / 2, f, 5, { padding: 2 }));
    this.up = this.registerModule('up', new ConvTranspose2d(f, f, 4, { stride: 2, padding: 1 }));
    this.conv2 = this.registerModule('conv2', new Conv2d(f, f, 5, { padding: 2 }));
    this.conv3 = this.registerModule('conv3', new Conv2d(f, f, 5, { padding: 2 }));
    this.out = this.registerModule('out', new Conv2d(f, channels, 7, { padding: 3 }));
  }
  /** Images in [-1, 1] from latent points [N, latent]. */
  override forward(z: Tensor): Tensor {
    const { height, width } = this.config;
    let x = this.fc
      .forward(z)
      .leakyRelu(SLOPE)
      .reshape([-1, this.config.gFilters / 2, height / 2, width / 2]);
    x = this.conv1.forward(x).leakyRelu(SLOPE);
    x = this.up.forward(x).leakyRelu(SLOPE);
    x = this.conv2.forward(x).leakyRelu(SLOPE);
    x = this.conv3.forward(x).leakyRelu(SLOPE);
    return this.out.forward(x).tanh();
  }
}

export class Discriminator extends Module {
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly conv3: Conv2d;
  readonly conv4: Conv2d;
  readonly drop: Dropout;
  readonly fc: Linear;
  constructor(readonly config: GanConfig) {
    super();
    const { channels, height, width, dropout, dFilters: f } = config;
    const down = (s: number) => Math.floor((s - 4) / 2) + 1;
    const side = (s: number) => down(down(down(s - 2)));
    const [h, w] = [side(height), side(width)];
    if (h < 1 || w < 1)
      throw new Error(`GAN images must be at least 24x24 for the seed's discriminator, got ${height}x${width}`);
    this.conv1 = this.registerModule('conv1', new Conv2d(channels, f, 3));
    this.conv2 = this.registerModule('conv2', new Conv2d(f, f, 4, { stride: 2 }));
    this.conv3 = this.registerModule('conv3', new Conv2d(f, f, 4, { stride: 2 }));
    this.conv4 = this.registerModule('conv4', new Conv2d(f, f, 4, { stride: 2 }));
    this.drop = this.registerModule('drop', new Dropout(dropout));
    this.fc = this.registerModule('fc', new Linear(f * h * w, 1));
  }
  /** One logit per image: high means "generated" in the seed's labelling (1 = fake, 0 = real). */
  override forward(x: Tensor): Tensor {
    let y = this.conv1.forward(x).leakyRelu(SLOPE);
    y = this.conv2.forward(y).leakyRelu(SLOPE);
    y = this.conv3.forward(y).leakyRelu(SLOPE);
    y = this.conv4.forward(y).leakyRelu(SLOPE);
    return this.fc.forward(this.drop.forward(y.flatten(1)));
  }
}
