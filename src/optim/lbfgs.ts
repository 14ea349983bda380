// L-BFGS with an optional strong-Wolfe line search, with the semantics of torch.optim.LBFGS
// (its defaults, stopping rules and state), so Gatys style transfer behaves as in PyTorch.
// The two-loop recursion and the line search follow Nocedal & Wright, Numerical
// Optimization, algorithms 7.4, 3.5 and 3.6.
import * as T from '../torch/index.js';
import { Tensor, keep, noGrad, tidy } from '../torch/index.js';
import type { OptimizerState } from './optimizer.js';

export interface LBFGSOptions {
  lr?: number;
  /** Iterations per step() call. */
  maxIter?: number;
  /** Function evaluations per step() call (default maxIter * 1.25). */
  maxEval?: number;
  toleranceGrad?: number;
  toleranceChange?: number;
  historySize?: number;
  lineSearch?: 'strong_wolfe' | null;
  /**
   * Polled before each loss evaluation (the line search's too): once true, step() returns at
   * once with the parameters at the lowest loss it has evaluated, so a long step can be stopped.
   */
  shouldStop?: () => boolean;
}

/** Evaluates the loss at the current parameters, with gradients in their .grad. */
export type Closure = () => number;

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

const dot = (a: Tensor, b: Tensor) => tidy(() => a.dot(b).item());
const absMax = (a: Tensor) => tidy(() => a.abs().max().item());

export class LBFGS {
  lr: number;
  readonly maxIter: number;
  readonly maxEval: number;
  readonly toleranceGrad: number;
  readonly toleranceChange: number;
  readonly historySize: number;
  readonly lineSearch: 'strong_wolfe' | null;
  readonly shouldStop: () => boolean;

  // State carried across step() calls, as torch.optim.LBFGS keeps it.
  funcEvals = 0;
  nIter = 0;
  private d: Tensor | null = null;
  private t = 0;
  private oldDirs: Tensor[] = [];
  private oldSteps: Tensor[] = [];
  private ro: number[] = [];
  private hDiag = 1;
  private prevFlatGrad: Tensor | null = null;
  private prevLoss = 0;

  constructor(
    readonly params: Tensor[],
    opts: LBFGSOptions = {},
  ) {
    if (params.length === 0) throw new Error('an optimizer needs at least one parameter');
    this.lr = opts.lr ?? 1;
    this.maxIter = opts.maxIter ?? 20;
    this.maxEval = opts.maxEval ?? Math.floor(this.maxIter * 1.25);
    this.toleranceGrad = opts.toleranceGrad ?? 1e-7;
    this.toleranceChange = opts.toleranceChange ?? 1e-9;
    this.historySize = opts.historySize ?? 100;
    this.lineSearch = opts.lineSearch ?? null;
    this.shouldStop = opts.shouldStop ?? (() => false);
  }

  private flatGrad(): Tensor {
    return T.cat(this.params.map((p) => p.grad ?? T.zerosLike(p)).map((g) => g.reshape([-1])));
  }

  /** params += t * d, in place. */
  private addDirection(t: number, d: Tensor): void {
    noGrad(() =>
      tidy(() => {
        let offset = 0;
        for (const p of this.params) {
          const n = p.numel;
          p.add_(d.narrow(0, offset, n).view(p.shape), t);
          offset += n;
        }
      }),
    );
  }

  private setParams(values: Tensor[]): void {
    noGrad(() => this.params.forEach((p, i) => p.copy_(values[i])));
  }

  /** Loss and flat gradient at params + t*d; the parameters are put back afterwards. */
  private evaluateAt(closure: Closure, x: Tensor[], t: number, d: Tensor): [number, Tensor] {
    this.addDirection(t, d);
    const loss = closure();
    const g = keep(tidy(() => this.flatGrad()));
    this.setParams(x);
    return [loss, g];
  }

  private setSlot(name: 'd' | 'prevFlatGrad', t: Tensor | null): void {
    const old = this[name];
    if (old && old !== t) old.dispose();
    this[name] = t === null ? null : keep(t);
  }

  /** Runs up to maxIter iterations; returns the loss at the starting point, as PyTorch does. */
  step(closure: Closure): number {
    const origLoss = closure();
    let loss = origLoss;
    let currentEvals = 1;
    this.funcEvals++;
    let flatGrad = keep(tidy(() => this.flatGrad()));
    const disposeLater: Tensor[] = [];
    try {
      if (absMax(flatGrad) <= this.toleranceGrad) return origLoss;
      let nIter = 0;
      while (nIter < this.maxIter) {
        if (this.shouldStop()) break;
        nIter++;
        this.nIter++;
        this.updateDirection(flatGrad);
        const d = this.d!;
        this.setSlot(
          'prevFlatGrad',
          tidy(() => flatGrad.clone()),
        );
        this.prevLoss = loss;
        this.t = this.nIter === 1 ? Math.min(1, 1 / tidy(() => flatGrad.abs().sum().item())) * this.lr : this.lr;
        const gtd = dot(flatGrad, d);
        if (gtd > -this.toleranceChange) break;

        let lsEvals = 0;
        let optCond = false;
        if (this.lineSearch === 'strong_wolfe') {
          const x = this.params.map((p) => keep(tidy(() => p.detach().clone())));
          try {
            const r = this.strongWolfe(closure, x, this.t, d, loss, flatGrad, gtd);
            loss = r.loss;
            disposeLater.push(flatGrad);
            flatGrad = r.grad;
            this.t = r.t;
            lsEvals = r.evals;
          } finally {
            for (const t of x) t.dispose();
          }
          this.addDirection(this.t, d);
          optCond = absMax(flatGrad) <= this.toleranceGrad;
        } else {
          this.addDirection(this.t, d);
          if (nIter !== this.maxIter && !this.shouldStop()) {
            loss = closure();
            disposeLater.push(flatGrad);
            flatGrad = keep(tidy(() => this.flatGrad()));
            optCond = absMax(flatGrad) <= this.toleranceGrad;
            lsEvals = 1;
          }
        }
        currentEvals += lsEvals;
        this.funcEvals += lsEvals;
        if (this.shouldStop()) break;

        if (nIter === this.maxIter) break;
        if (currentEvals >= this.maxEval) break;
        if (optCond) break;
        if (tidy(() => d.mul(this.t).abs().max().item()) <= this.toleranceChange) break;
        if (Math.abs(loss - this.prevLoss) < this.toleranceChange) break;
      }
      return origLoss;
    } finally {
      flatGrad.dispose();
      for (const t of disposeLater) t.dispose();
    }
  }

  /** The two-loop recursion: d = -H g from the stored curvature pairs. */
  private updateDirection(g: Tensor): void {
    if (this.nIter === 1) {
      this.setSlot(
        'd',
        tidy(() => g.neg()),
      );
      for (const t of [...this.oldDirs, ...this.oldSteps]) t.dispose();
      this.oldDirs = [];
      this.oldSteps = [];
      this.ro = [];
      this.hDiag = 1;
      return;
    }
    const y = keep(tidy(() => g.sub(this.prevFlatGrad!)));
    const s = keep(tidy(() => this.d!.mul(this.t)));
    const ys = dot(y, s);
    if (ys > 1e-10) {
      if (this.oldDirs.length === this.historySize) {
        this.oldDirs.shift()!.dispose();
        this.oldSteps.shift()!.dispose();
        this.ro.shift();
      }
      this.oldDirs.push(y);
      this.oldSteps.push(s);
      this.ro.push(1 / ys);
      this.hDiag = ys / dot(y, y);
    } else {
      y.dispose();
      s.dispose();
    }
    const d = tidy(() => {
      const n = this.oldDirs.length;
      const al = new Array<number>(n);
      const q = g.neg();
      for (let i = n - 1; i >= 0; i--) {
        al[i] = dot(this.oldSteps[i], q) * this.ro[i];
        q.add_(this.oldDirs[i], -al[i]);
      }
      const r = q.mul(this.hDiag);
      for (let i = 0; i < n; i++) {
        const be = dot(this.oldDirs[i], r) * this.ro[i];
        r.add_(this.oldSteps[i], al[i] - be);
      }
      return r;
    });
    this.setSlot('d', d);
  }

  /**
   * A step length satisfying the strong Wolfe conditions (bracketing, then zoom). When
   * shouldStop() turns true between evaluations, the step length of the lowest loss evaluated
   * so far (0: where it started).
   */
  private strongWolfe(
    closure: Closure,
    x: Tensor[],
    t0: number,
    d: Tensor,
    f: number,
    g: Tensor,
    gtd: number,
    c1 = 1e-4,
    c2 = 0.9,
    maxLs = 25,
  ): { loss: number; grad: Tensor; t: number; evals: number } {
    const owned = new Set<Tensor>();
    const own = (t: Tensor) => (owned.add(t), t);
    let t = t0;
    const dNorm = absMax(d);
    // The lowest loss evaluated, for a stop in the middle of the search.
    let best = { t: 0, f, g };
    const evaluate = (at: number): [number, Tensor] => {
      const [fe, ge] = this.evaluateAt(closure, x, at, d);
      own(ge);
      if (fe < best.f) best = { t: at, f: fe, g: ge };
      return [fe, ge];
    };
    const stopped = () => {
      const grad = keep(tidy(() => best.g.clone()));
      for (const o of owned) o.dispose();
      return { loss: best.f, grad, t: best.t, evals };
    };
    let evals = 0;
    if (this.shouldStop()) return stopped();
    let [fNew, gNew] = evaluate(t);
    evals = 1;
    let gtdNew = dot(gNew, d);
    let tPrev = 0;
    let fPrev = f;
    let gPrev = g;
    let gtdPrev = gtd;
    let done = false;
    let lsIter = 0;
    let br: number[] = [];
    let brF: number[] = [];
    let brG: Tensor[] = [];
    let brGtd: number[] = [];
    while (lsIter < maxLs) {
      if (fNew > f + c1 * t * gtd || (lsIter > 1 && fNew >= fPrev)) {
        [br, brF, brG, brGtd] = [
          [tPrev, t],
          [fPrev, fNew],
          [gPrev, gNew],
          [gtdPrev, gtdNew],
        ];
        break;
      }
      if (Math.abs(gtdNew) <= -c2 * gtd) {
        [br, brF, brG, brGtd] = [[t], [fNew], [gNew], [gtdNew]];
        done = true;
        break;
      }
      if (gtdNew >= 0) {
        [br, brF, brG, brGtd] = [
          [tPrev, t],
          [fPrev, fNew],
          [gPrev, gNew],
          [gtdPrev, gtdNew],
        ];
        break;
      }
      const tmp = t;
      t = cubicMinimum(tPrev, fPrev, gtdPrev, t, fNew, gtdNew, [t + 0.01 * (t - tPrev), t * 10]);
      [tPrev, fPrev, gPrev, gtdPrev] = [tmp, fNew, gNew, gtdNew];
      if (this.shouldStop()) return stopped();
      [fNew, gNew] = evaluate(t);
      evals++;
      gtdNew = dot(gNew, d);
      lsIter++;
    }
    if (lsIter === maxLs)
      [br, brF, brG, brGtd] = [
        [0, t],
        [f, fNew],
        [g, gNew],
        [gtd, gtdNew],
      ];

    // Zoom: shrink the bracket until a point meets both conditions.
    let insufficientProgress = false;
    let [low, high] = brF[0] <= brF[brF.length - 1] ? [0, 1] : [1, 0];
    while (!done && lsIter < maxLs) {
      if (Math.abs(br[1] - br[0]) * dNorm < this.toleranceChange) break;
      t = cubicMinimum(br[0], brF[0], brGtd[0], br[1], brF[1], brGtd[1]);
      const bMax = Math.max(...br);
      const bMin = Math.min(...br);
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
      if (this.shouldStop()) return stopped();
      [fNew, gNew] = evaluate(t);
      evals++;
      gtdNew = dot(gNew, d);
      lsIter++;
      if (fNew > f + c1 * t * gtd || fNew >= brF[low]) {
        [br[high], brF[high], brG[high], brGtd[high]] = [t, fNew, gNew, gtdNew];
        [low, high] = brF[0] <= brF[1] ? [0, 1] : [1, 0];
      } else {
        if (Math.abs(gtdNew) <= -c2 * gtd) done = true;
        else if (gtdNew * (br[high] - br[low]) >= 0) {
          [br[high], brF[high], brG[high], brGtd[high]] = [br[low], brF[low], brG[low], brGtd[low]];
        }
        [br[low], brF[low], brG[low], brGtd[low]] = [t, fNew, gNew, gtdNew];
      }
    }
    const grad = keep(tidy(() => brG[low].clone()));
    for (const o of owned) o.dispose();
    return { loss: brF[low], grad, t: br[low], evals };
  }

  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  /** Everything step() carries over, for exact resume (the same layout as the other optimizers). */
  stateDict(): OptimizerState {
    const tensors = new Map<string, Tensor>();
    if (this.d) tensors.set('d', this.d);
    if (this.prevFlatGrad) tensors.set('prev_flat_grad', this.prevFlatGrad);
    this.oldDirs.forEach((t, i) => tensors.set(`old_dirs.${i}`, t));
    this.oldSteps.forEach((t, i) => tensors.set(`old_stps.${i}`, t));
    const hyper: Record<string, number | boolean> = {
      lr: this.lr,
      t: this.t,
      hDiag: this.hDiag,
      prevLoss: this.prevLoss,
      nIter: this.nIter,
      funcEvals: this.funcEvals,
      history: this.ro.length,
    };
    this.ro.forEach((r, i) => (hyper[`ro.${i}`] = r));
    return { hyper, tensors };
  }

  loadStateDict(sd: OptimizerState): void {
    this.dispose();
    const h = sd.hyper;
    const copy = (k: string) => {
      const t = sd.tensors.get(k);
      return t ? keep(tidy(() => t.clone())) : null;
    };
    [this.lr, this.t, this.hDiag, this.prevLoss, this.nIter, this.funcEvals] = [
      h.lr,
      h.t,
      h.hDiag,
      h.prevLoss,
      h.nIter,
      h.funcEvals,
    ].map(Number);
    const n = Number(h.history);
    this.ro = Array.from({ length: n }, (_, i) => Number(h[`ro.${i}`]));
    this.oldDirs = Array.from({ length: n }, (_, i) => copy(`old_dirs.${i}`)!);
    this.oldSteps = Array.from({ length: n }, (_, i) => copy(`old_stps.${i}`)!);
    this.d = copy('d');
    this.prevFlatGrad = copy('prev_flat_grad');
  }

  dispose(): void {
    for (const t of [this.d, this.prevFlatGrad, ...this.oldDirs, ...this.oldSteps]) t?.dispose();
    this.d = this.prevFlatGrad = null;
    this.oldDirs = [];
    this.oldSteps = [];
  }
}
