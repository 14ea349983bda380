// Losses, with PyTorch's reductions ('mean' by default).
import * as T from '../torch/index.js';
import type { Tensor } from '../torch/index.js';

export type Reduction = 'none' | 'mean' | 'sum';
const code = (r: Reduction = 'mean') => ({ none: 0, mean: 1, sum: 2 })[r];

/** Cross-entropy of logits (N, C, ...) against class indices (N, ...). */
export const crossEntropy = (
  logits: Tensor,
  target: Tensor,
  opts: { reduction?: Reduction; labelSmoothing?: number } = {},
) => T.crossEntropyLoss(logits, target, null, code(opts.reduction), -100, opts.labelSmoothing ?? 0);

export const binaryCrossEntropy = (probs: Tensor, target: Tensor, reduction?: Reduction) =>
  T.binaryCrossEntropy(probs, target, null, code(reduction));

export const binaryCrossEntropyWithLogits = (logits: Tensor, target: Tensor, reduction?: Reduction) =>
  T.binaryCrossEntropyWithLogits(logits, target, null, null, code(reduction));

export const mse = (input: Tensor, target: Tensor, reduction?: Reduction) => T.mseLoss(input, target, code(reduction));

/**
 * KL(N(mean, exp(logVar)) || N(0, I)), summed over the latent dimensions, per sample:
 * -0.5 * sum(1 + logVar - mean^2 - exp(logVar)). Reduced over the batch as asked.
 */
export function gaussianKL(mean: Tensor, logVar: Tensor, reduction: Reduction = 'mean'): Tensor {
  const perSample = logVar.add(1).sub(mean.square()).sub(logVar.exp()).sum({ dim: -1 }).mul(-0.5);
  return reduction === 'none' ? perSample : reduction === 'sum' ? perSample.sum() : perSample.mean();
}
