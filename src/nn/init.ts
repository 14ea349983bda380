// Initialisers, in place under no-grad. PyTorch's defaults, and Keras' Glorot on request.
import { Tensor, noGrad } from '../torch/index.js';

/** fan_in and fan_out as torch.nn.init computes them (dim 1 is "in", dims 2.. the receptive field). */
export function fans(t: Tensor): [number, number] {
  const s = t.shape;
  if (s.length < 2) throw new Error('fan in and fan out need a tensor of at least 2 dimensions');
  const receptive = s.slice(2).reduce((a, b) => a * b, 1);
  return [s[1] * receptive, s[0] * receptive];
}

export function uniform_(t: Tensor, low: number, high: number): Tensor {
  return noGrad(() => t.uniform_(low, high));
}
export function normal_(t: Tensor, mean = 0, std = 1): Tensor {
  return noGrad(() => t.normal_(mean, std));
}
export function zeros_(t: Tensor): Tensor {
  return noGrad(() => t.zero_());
}
export function ones_(t: Tensor): Tensor {
  return noGrad(() => t.fill_(1));
}
/** PyTorch's default for Linear and Conv weights: kaiming_uniform_(a=sqrt(5)), i.e. U(±1/sqrt(fan_in)). */
export function pytorchDefault_(t: Tensor, fanIn = fans(t)[0]): Tensor {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return uniform_(t, -bound, bound);
}
/** Keras' default: Glorot (Xavier) uniform, U(±sqrt(6 / (fan_in + fan_out))). */
export function glorotUniform_(t: Tensor): Tensor {
  const [i, o] = fans(t);
  const bound = Math.sqrt(6 / (i + o));
  return uniform_(t, -bound, bound);
}
export function kaimingNormal_(t: Tensor, negativeSlope = 0): Tensor {
  const std = Math.sqrt(2 / (1 + negativeSlope ** 2)) / Math.sqrt(fans(t)[0]);
  return normal_(t, 0, std);
}

export type Initializer = 'pytorch' | 'glorot';
