// How well a VAE models held-out images: the test -ELBO and its terms, and the tighter
// importance-weighted estimate of -log p(x), in nats per image.
import * as T from '../../torch/index.js';
import { Tensor, noGrad, tidy } from '../../torch/index.js';
import { VAE, elboTerms } from './model.js';

/** Test-set -ELBO (one z per image) and its two terms, in nats per image. */
export function testElbo(model: VAE, images: Tensor, batch = 500): { elbo: number; rec: number; kl: number } {
  const was = model.training;
  model.eval();
  let rec = 0;
  let kl = 0;
  const n = images.size(0);
  noGrad(() => {
    for (let i = 0; i < n; i += batch) {
      tidy(() => {
        const t = elboTerms(model, images.narrow(0, i, Math.min(batch, n - i)));
        rec += t.rec.sum().item();
        kl += t.kl.sum().item();
      });
    }
  });
  model.train(was);
  return { elbo: (rec + kl) / n, rec: rec / n, kl: kl / n };
}

/**
 * Importance-weighted estimate of -log p(x), in nats per image:
 * -log (1/k) Σ p(x|z_i) p(z_i) / q(z_i|x), z_i ~ q(z|x). k = 1 is the ELBO; it tightens with k.
 */
export function importanceWeightedNll(model: VAE, images: Tensor, k = 100, batch = 100): number {
  const was = model.training;
  model.eval();
  const n = images.size(0);
  let total = 0;
  const LOG2PI = Math.log(2 * Math.PI);
  noGrad(() => {
    for (let i = 0; i < n; i += batch) {
      tidy(() => {
        const x = images.narrow(0, i, Math.min(batch, n - i));
        const b = x.size(0);
        const [mean, logVar] = model.encode(x);
        const d = mean.size(1);
        // k samples per image: [k, b, d]
        const eps = T.randn([k, b, d]);
        const std = logVar.mul(0.5).exp();
        const z = mean.unsqueeze(0).add(eps.mul(std.unsqueeze(0)));
        const logQ = eps.square().add(LOG2PI).add(logVar.unsqueeze(0)).sum({ dim: 2 }).mul(-0.5);
        const logP = z.square().add(LOG2PI).sum({ dim: 2 }).mul(-0.5);
        const logits = model.decodeLogits(z.reshape([k * b, d]));
        const xs = x
          .unsqueeze(0)
          .expand([k, ...x.shape])
          .reshape([k * b, ...x.shape.slice(1)]);
        const logPx = T.binaryCrossEntropyWithLogits(logits, xs, null, null, 0)
          .flatten(1)
          .sum({ dim: 1 })
          .neg()
          .reshape([k, b]);
        const w = logPx.add(logP).sub(logQ);
        total += w.logsumexp([0]).sub(Math.log(k)).sum().item();
      });
    }
  });
  model.train(was);
  return -total / n;
}
