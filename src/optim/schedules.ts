// Learning-rate schedules as pure functions of the step, so a resumed run recomputes the
// same rate from the step alone (no schedule state to save).

export type Schedule = (step: number) => number;

export const constant =
  (lr: number): Schedule =>
  () =>
    lr;

/** lr * gamma^floor(step / every) (PyTorch's StepLR). */
export const stepDecay =
  (lr: number, every: number, gamma = 0.1): Schedule =>
  (s) =>
    lr * gamma ** Math.floor(s / every);

/** lr * gamma^step (ExponentialLR). */
export const exponential =
  (lr: number, gamma: number): Schedule =>
  (s) =>
    lr * gamma ** s;

/** From lr down to minLr along half a cosine over `total` steps (CosineAnnealingLR). */
export const cosine =
  (lr: number, total: number, minLr = 0): Schedule =>
  (s) =>
    minLr + (lr - minLr) * 0.5 * (1 + Math.cos((Math.PI * Math.min(s, total)) / total));

/** Linear warm-up from 0 over `steps`, then the given schedule. */
export const warmup =
  (steps: number, then: Schedule): Schedule =>
  (s) =>
    s < steps ? then(s) * ((s + 1) / steps) : then(s);

/** From lr down to minLr along half a cosine, at a fraction p (0..1) of the way. */
export const cosineAt = (lr: number, p: number, minLr = 0): number =>
  minLr + (lr - minLr) * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, Math.max(0, p))));

/**
 * The rate held at lr until the last `tail` share of the run, then linearly to 0 at its end
 * (the decay phase of warmup-stable-decay): full speed while the model is far from
 * converged, and the noise of the final steps averaged out. p runs from 0 to 1.
 */
export const annealAt = (lr: number, p: number, tail = 0.2): number =>
  p <= 1 - tail ? lr : lr * Math.max(0, Math.min(1, (1 - p) / tail));

/** The rate of a schedule that ends at 0 where the run ends, a fraction p (0..1) of the way. */
export const endingAt = (kind: 'cosine' | 'anneal', lr: number, p: number): number =>
  kind === 'cosine' ? cosineAt(lr, p) : annealAt(lr, p);
