// The strong-Wolfe line search of torch.optim.LBFGS: bracket a step length along a descent
// direction, then zoom into the bracket by cubic interpolation (Nocedal & Wright, Numerical
// Optimization, algorithms 3.5 and 3.6).
import { Tensor, keep, tidy } from '../torch/index.js';

/** The minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to bounds. */
export function cubicMinimum(
  x1: number,
  f1: number,
  g1: number,
  x2: number,
  f2: number,
  g2: number,
  bounds?: [number, number],
): number {
  const [lo, hi] = bounds ?? (x1 <= x2 ? [x1, x2] : [x2, x1]);
  const d1 = g1 + g2 - (3 * (f1 - f2)) / (x1 - x2);
  const disc = d1 * d1 - g1 * g2;
  if (disc < 0) return (lo + hi) / 2;
  const d2 = Math.sqrt(disc);
  const m =
    x1 <= x2
      ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
      : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
  return Math.min(Math.max(m, lo), hi);
}

export const dot = (a: Tensor, b: Tensor): number => tidy(() => a.dot(b).item());
export const absMax = (a: Tensor): number => tidy(() => a.abs().max().item());

/** A step length t tried: the loss there, its flat gradient, and the slope along the direction. */
interface Point {
  t: number;
  f: number;
  g: Tensor;
  gtd: number;
}

export interface LineSearch {
  /** The loss and flat gradient (kept; the search frees it) at step length t along `direction`. */
  evaluate(t: number): [number, Tensor];
  shouldStop(): boolean;
  direction: Tensor;
  /** A bracket narrower than this (in parameter change) ends the search. */
  toleranceChange: number;
}

/**
 * A step length satisfying the strong Wolfe conditions, from `t0`, where the loss is `f` with
 * flat gradient `g` and slope `gtd` at length 0. When shouldStop() turns true between
 * evaluations, the step length of the lowest loss evaluated so far (0: where it started).
 * The gradient returned is a new tensor the caller owns.
 */
export function strongWolfe(
  search: LineSearch,
  t0: number,
  f: number,
  g: Tensor,
  gtd: number,
  c1 = 1e-4,
  c2 = 0.9,
  maxLs = 25,
): { loss: number; grad: Tensor; t: number; evals: number } {
  const { direction: d, shouldStop } = search;
  const owned: Tensor[] = [];
  const dNorm = absMax(d);
  const start: Point = { t: 0, f, g, gtd };
  // The lowest loss evaluated, for a stop in the middle of the search.
  let best = start;
  let evals = 0;
  const evaluate = (t: number): Point => {
    const [fe, ge] = search.evaluate(t);
    owned.push(ge);
    evals++;
    const p = { t, f: fe, g: ge, gtd: dot(ge, d) };
    if (fe < best.f) best = p;
    return p;
  };
  const finish = (p: Point) => {
    const grad = keep(tidy(() => p.g.clone()));
    for (const o of owned) o.dispose();
    return { loss: p.f, grad, t: p.t, evals };
  };
  // Not the sufficient decrease that the first Wolfe condition asks for.
  const tooHigh = (p: Point) => p.f > f + c1 * p.t * gtd;
  const flatEnough = (p: Point) => Math.abs(p.gtd) <= -c2 * gtd;

  if (shouldStop()) return finish(best);
  let cur = evaluate(t0);
  let prev = start;
  let done = false;
  let lsIter = 0;
  let bracket: Point[] = [];
  // Bracketing: grow the step until the loss rises or the slope turns.
  while (lsIter < maxLs) {
    if (tooHigh(cur) || (lsIter > 1 && cur.f >= prev.f)) {
      bracket = [prev, cur];
      break;
    }
    if (flatEnough(cur)) {
      bracket = [cur];
      done = true;
      break;
    }
    if (cur.gtd >= 0) {
      bracket = [prev, cur];
      break;
    }
    const t = cubicMinimum(prev.t, prev.f, prev.gtd, cur.t, cur.f, cur.gtd, [
      cur.t + 0.01 * (cur.t - prev.t),
      cur.t * 10,
    ]);
    prev = cur;
    if (shouldStop()) return finish(best);
    cur = evaluate(t);
    lsIter++;
  }
  if (lsIter === maxLs) bracket = [start, cur];

  // Zoom: shrink the bracket until a point meets both conditions.
  let insufficientProgress = false;
  let [low, high] = bracket[0].f <= bracket[bracket.length - 1].f ? [0, 1] : [1, 0];
  while (!done && lsIter < maxLs) {
    const [a, b] = bracket;
    if (Math.abs(b.t - a.t) * dNorm < search.toleranceChange) break;
    let t = cubicMinimum(a.t, a.f, a.gtd, b.t, b.f, b.gtd);
    const bMax = Math.max(a.t, b.t);
    const bMin = Math.min(a.t, b.t);
    const eps = 0.1 * (bMax - bMin);
    if (Math.min(bMax - t, t - bMin) < eps) {
      if (insufficientProgress || t >= bMax || t <= bMin) {
        t = Math.abs(t - bMax) < Math.abs(t - bMin) ? bMax - eps : bMin + eps;
        insufficientProgress = false;
      } else {
        insufficientProgress = true;
      }
    } else {
      insufficientProgress = false;
    }
    if (shouldStop()) return finish(best);
    const p = evaluate(t);
    lsIter++;
    if (tooHigh(p) || p.f >= bracket[low].f) {
      bracket[high] = p;
      [low, high] = bracket[0].f <= bracket[1].f ? [0, 1] : [1, 0];
    } else {
      if (flatEnough(p)) done = true;
      else if (p.gtd * (bracket[high].t - bracket[low].t) >= 0) bracket[high] = bracket[low];
      bracket[low] = p;
    }
  }
  return finish(bracket[low]);
}
