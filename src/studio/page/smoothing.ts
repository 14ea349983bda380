// Smoothing as TensorBoard's slider does it: an exponential moving average, debiased so that
// the first points are not pulled towards zero. Pure, so a unit test runs it outside a browser.

/**
 * The moving average of `y` with `weight` (0: none, towards 1: smoother): each point is
 * weight × the last average + (1 − weight) × its value, divided by 1 − weight^n after n finite
 * values. A value that is not finite stays as it is (null) and leaves the average alone.
 */
export function smooth(y: number[], weight: number): (number | null)[] {
  const w = Math.min(Math.max(weight, 0), 0.999);
  let last = 0;
  let n = 0;
  return y.map((v) => {
    if (!Number.isFinite(v)) return null;
    last = last * w + (1 - w) * v;
    n++;
    return last / (1 - w ** n);
  });
}
