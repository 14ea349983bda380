// The book's convolutional VAE, for any image size and channel count: encoder to z_mean and
// z_log_var, z = mean + exp(log_var / 2) * eps (the book wrote exp(log_var), which is wrong),
// decoder to per-pixel Bernoulli logits.
import * as T from '../../torch/index.js';
import { Tensor } from '../../torch/index.js';
import { Conv2d, ConvTranspose2d, Linear, Module, gaussianKL } from '../../nn/index.js';

export interface VAEConfig {
  channels: number;
  height: number;
  width: number;
  latent: number;
}

export class VAE extends Module {
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly conv3: Conv2d;
  readonly conv4: Conv2d;
  readonly fc: Linear;
  readonly zMean: Linear;
  readonly zLogVar: Linear;
  readonly decFc: Linear;
  readonly deconv: ConvTranspose2d;
  readonly decOut: Conv2d;
  /** The shape before flattening: [64, ceil(H/2), ceil(W/2)]. */
  readonly inner: [number, number, number];

  constructor(readonly config: VAEConfig) {
    super();
    const { channels: c, height: h, width: w, latent } = config;
    const h2 = Math.ceil(h / 2);
    const w2 = Math.ceil(w / 2);
    this.inner = [64, h2, w2];
    const flat = 64 * h2 * w2;
    this.conv1 = this.registerModule('conv1', new Conv2d(c, 32, 3, { padding: 1 }));
    this.conv2 = this.registerModule('conv2', new Conv2d(32, 64, 3, { padding: 1, stride: 2 }));
    this.conv3 = this.registerModule('conv3', new Conv2d(64, 64, 3, { padding: 1 }));
    this.conv4 = this.registerModule('conv4', new Conv2d(64, 64, 3, { padding: 1 }));
    this.fc = this.registerModule('fc', new Linear(flat, 32));
    this.zMean = this.registerModule('z_mean', new Linear(32, latent));
    this.zLogVar = this.registerModule('z_log_var', new Linear(32, latent));
    this.decFc = this.registerModule('dec_fc', new Linear(latent, flat));
    // (h2 - 1) * 2 - 2 + 3 + op = h: output padding 1 for even sizes, 0 for odd.
    this.deconv = this.registerModule(
      'deconv',
      new ConvTranspose2d(64, 32, 3, { stride: 2, padding: 1, outputPadding: [1 - (h % 2), 1 - (w % 2)] }),
    );
    this.decOut = this.registerModule('dec_out', new Conv2d(32, c, 3, { padding: 1 }));
  }

  /** z_mean and z_log_var [N, latent] of images [N, C, H, W] in [0, 1]. */
  encode(x: Tensor): [Tensor, Tensor] {
    let y = this.conv1.forward(x).relu();
    y = this.conv2.forward(y).relu();
    y = this.conv3.forward(y).relu();
    y = this.conv4.forward(y).relu();
    y = this.fc.forward(y.flatten(1)).relu();
    // The latent layers stay float32 under bf16 autocast: a 2-D latent point rounded to bf16
    // moves by about the posterior's own spread, and the held-out -ELBO suffers for it.
    return T.withoutAutocast(() => {
      const h = y.to('float32');
      return [this.zMean.forward(h), this.zLogVar.forward(h)];
    });
  }

  /** z = mean + exp(log_var / 2) * eps, eps ~ N(0, I) (or the eps given). */
  sample(mean: Tensor, logVar: Tensor, eps: Tensor = T.randnLike(mean)): Tensor {
    return mean.add(logVar.mul(0.5).exp().mul(eps));
  }

  /** Per-pixel logits [N, C, H, W] of latent points [N, latent]. */
  decodeLogits(z: Tensor): Tensor {
    const y = T.withoutAutocast(() => this.decFc.forward(z.to('float32')))
      .relu()
      .reshape([-1, ...this.inner]);
    return this.decOut.forward(this.deconv.forward(y).relu());
  }

  /** Images in [0, 1]. */
  decode(z: Tensor): Tensor {
    return this.decodeLogits(z).sigmoid();
  }
}

export interface ElboTerms {
  /** Per image, nats: reconstruction (summed binary cross-entropy) and KL. */
  rec: Tensor;
  kl: Tensor;
}

/** The negative ELBO's two terms per image, with one sample of z (drawn, or from eps). */
export function elboTerms(model: VAE, x: Tensor, eps?: Tensor): ElboTerms {
  const [mean, logVar] = model.encode(x);
  const logits = model.decodeLogits(model.sample(mean, logVar, eps));
  const rec = T.binaryCrossEntropyWithLogits(logits, x, null, null, 0).flatten(1).sum({ dim: 1 });
  return { rec, kl: gaussianKL(mean, logVar, 'none') };
}
