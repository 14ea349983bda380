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

/**
 * The hinge loss of a discriminator whose scores are high for real images (Lim and Ye 2017,
 * Miyato et al. 2018): mean(relu(1 - real)) + mean(relu(1 + fake)).
 */
export function hingeDiscriminatorLoss(realScores: Tensor, fakeScores: Tensor): Tensor {
  return realScores.neg().add(1).relu().mean().add(fakeScores.add(1).relu().mean());
}

/** The generator's side of the hinge loss: -mean(scores of its images). */
export function hingeGeneratorLoss(fakeScores: Tensor): Tensor {
  return fakeScores.mean().neg();
}

/**
 * The R1 penalty (Mescheder et al. 2018): gamma / 2 times the mean over the batch of the squared
 * norm of the scores' gradient with respect to the real images, which must require grad. Its
 * graph is kept, so that it trains the discriminator.
 */
export function r1Penalty(realScores: Tensor, realImages: Tensor, gamma: number): Tensor {
  const [g] = T.grad(realScores.sum(), [realImages], { createGraph: true });
  return g!
    .square()
    .flatten(1)
    .sum({ dim: 1 })
    .mean()
    .mul(gamma / 2);
}
