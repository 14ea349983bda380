// A quality figure for generated images before a pretrained backbone exists: the Fréchet
// distance between features of real and generated images, the features coming from a small
// classifier trained on the data's labels. Comparable between checkpoints of one run; not
// comparable with published FID, which uses ImageNet Inception features.
import * as T from '../../torch/index.js';
import { Tensor, noGrad, tidy } from '../../torch/index.js';
import { Conv2d, Linear, Module, crossEntropy } from '../../nn/index.js';
import { Adam } from '../../optim/index.js';

export class FeatureNet extends Module {
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly conv3: Conv2d;
  readonly fc: Linear;
  constructor(channels: number, classes: number) {
    super();
    this.conv1 = this.registerModule('conv1', new Conv2d(channels, 32, 3, { stride: 2, padding: 1 }));
    this.conv2 = this.registerModule('conv2', new Conv2d(32, 64, 3, { stride: 2, padding: 1 }));
    this.conv3 = this.registerModule('conv3', new Conv2d(64, 64, 3, { stride: 2, padding: 1 }));
    this.fc = this.registerModule('fc', new Linear(64, classes));
  }
  /** 64 features per image (the pooled last convolution). */
  features(x: Tensor): Tensor {
    const y = this.conv3.forward(this.conv2.forward(this.conv1.forward(x).relu()).relu()).relu();
    return T.adaptiveAvgPool2d(y, [1, 1]).flatten(1);
  }
  override forward(x: Tensor): Tensor {
    return this.fc.forward(this.features(x));
  }
}

/** Trains the feature net on labelled images (any range); returns it and its training accuracy. */
export function trainFeatureNet(
  images: Tensor,
  labels: Tensor,
  classes: number,
  steps = 300,
  batch = 64,
): { net: FeatureNet; accuracy: number } {
  const net = new FeatureNet(images.size(1), classes);
  const opt = new Adam(net.parameters(), { lr: 2e-3 });
  const n = images.size(0);
  for (let s = 0; s < steps; s++) {
    tidy(() => {
      const idx = T.randint(0, n, [Math.min(batch, n)], 'int64');
      const loss = crossEntropy(net.forward(images.indexSelect(0, idx)), labels.indexSelect(0, idx));
      opt.zeroGrad();
      loss.backward();
      opt.step();
    });
  }
  opt.dispose();
  net.eval();
  const k = Math.min(1000, n);
  const accuracy = noGrad(() =>
    tidy(() =>
      net
        .forward(images.narrow(0, 0, k))
        .argmax(1)
        .eq(labels.narrow(0, 0, k))
        .float()
        .mean()
        .item(),
    ),
  );
  return { net, accuracy };
}

/** Features of many images, in batches, as float64. */
export function featuresOf(net: FeatureNet, images: Tensor, batch = 500): Tensor {
  return noGrad(() =>
    tidy(() => {
      const parts: Tensor[] = [];
      for (let i = 0; i < images.size(0); i += batch)
        parts.push(net.features(images.narrow(0, i, Math.min(batch, images.size(0) - i))));
      return T.cat(parts, 0).to('float64');
    }),
  );
}

/** The symmetric square root of a PSD matrix (through its eigen-decomposition). */
function sqrtPsd(m: Tensor): Tensor {
  const [w, v] = T.linalgEigh(m);
  return v.mul(w.clamp(0).sqrt().unsqueeze(0)).matmul(v.t());
}

/**
 * The Fréchet distance between Gaussians fitted to two feature sets [N, d] and [M, d]:
 * |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1^1/2 S2 S1^1/2)^1/2).
 */
export function frechetDistance(f1: Tensor, f2: Tensor): number {
  return tidy(() => {
    const stats = (f: Tensor) => {
      const mu = f.mean({ dim: 0 });
      const c = f.sub(mu);
      return [
        mu,
        c
          .t()
          .matmul(c)
          .div(f.size(0) - 1),
      ] as const;
    };
    const [m1, s1] = stats(f1.to('float64'));
    const [m2, s2] = stats(f2.to('float64'));
    const r = sqrtPsd(s1);
    const cross = T.linalgEigh(r.matmul(s2).matmul(r))[0].clamp(0).sqrt().sum();
    return m1.sub(m2).square().sum().add(s1.trace()).add(s2.trace()).sub(cross.mul(2)).item();
  });
}
