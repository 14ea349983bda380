// Latent-space geometry: Gaussian quantiles for grids, linear and spherical interpolation.

/** erf(x), by its Maclaurin series near 0 and a continued fraction for erfc beyond (|err| < 1e-14). */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let sum = 0;
    let term = ax;
    for (let n = 0; n < 80; n++) {
      sum += term / (2 * n + 1);
      term *= (-ax * ax) / (n + 1);
      if (Math.abs(term) < 1e-17) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...))))
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

export const normalCdf = (x: number): number => 0.5 * (1 + erf(x / Math.SQRT2));

/** The standard normal quantile (inverse CDF), by bisection then Newton steps on normalCdf. */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`a quantile needs 0 < p < 1, got ${p}`);
  let lo = -40;
  let hi = 40;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  let x = (lo + hi) / 2;
  for (let i = 0; i < 3; i++) x -= (normalCdf(x) - p) / (Math.exp((-x * x) / 2) / Math.sqrt(2 * Math.PI));
  return x;
}

/** The book's grid coordinates: Gaussian quantiles of linspace(0.05, 0.95, n). */
export function gridCoordinates(n: number): number[] {
  if (!(Number.isInteger(n) && n >= 2)) throw new Error(`the grid size must be a whole number >= 2, got ${n}`);
  return Array.from({ length: n }, (_, i) => normalQuantile(0.05 + (0.9 * i) / (n - 1)));
}

/** Points between a and b: linear, or spherical (slerp, which keeps the norm typical of a Gaussian). */
export function interpolate(a: number[], b: number[], steps: number, spherical: boolean): number[][] {
  const dot = a.reduce((s, x, i) => s + x * b[i], 0);
  const na = Math.hypot(...a);
  const nb = Math.hypot(...b);
  const omega = Math.acos(Math.max(-1, Math.min(1, dot / (na * nb || 1))));
  return Array.from({ length: steps }, (_, k) => {
    const t = steps === 1 ? 0 : k / (steps - 1);
    if (!spherical || omega < 1e-6) return a.map((x, i) => (1 - t) * x + t * b[i]);
    const wa = Math.sin((1 - t) * omega) / Math.sin(omega);
    const wb = Math.sin(t * omega) / Math.sin(omega);
    return a.map((x, i) => wa * x + wb * b[i]);
  });
}
