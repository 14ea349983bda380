// The studio's smoothing slider (src/studio/page/smoothing.ts, a page module run here as the
// page loads it) against averages worked out by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';

const { smooth } = (await import(new URL('../src/studio/page/smoothing.js', import.meta.url).href)) as {
  smooth(y: number[], weight: number): (number | null)[];
};

const close = (got: (number | null)[], want: (number | null)[]) => {
  assert.equal(got.length, want.length);
  got.forEach((g, i) =>
    want[i] === null ? assert.equal(g, null) : assert.ok(Math.abs(g! - want[i]!) < 1e-12, `${i}: ${g} != ${want[i]}`),
  );
};

test('smooth: a debiased exponential moving average, as TensorBoard draws it', () => {
  // weight 0.5: averages 0.5, 1.25, 2.125 over debiasing 0.5, 0.75, 0.875.
  close(smooth([1, 2, 3], 0.5), [1, 5 / 3, 17 / 7]);
  // weight 0.9 on a step: 0.1·10 / 0.1 = 10, then 0.9·1 / (1 − 0.81).
  close(smooth([10, 0], 0.9), [10, 0.9 / 0.19]);
  // No smoothing leaves the values; a constant stays constant at any weight (the debiasing).
  close(smooth([3, 1, 4, 1, 5], 0), [3, 1, 4, 1, 5]);
  close(smooth([2, 2, 2], 0.99), [2, 2, 2]);
  // A missing value (NaN, as a diverged step) stays missing and leaves the average alone.
  close(smooth([1, NaN, 3], 0.5), [1, null, (0.25 + 1.5) / 0.75]);
  close(smooth([], 0.6), []);
});
