// L-BFGS with an optional strong-Wolfe line search (./line-search.ts), with the semantics of
// torch.optim.LBFGS (its defaults, stopping rules and state), so Gatys style transfer behaves
// as in PyTorch. The two-loop recursion follows Nocedal & Wright, Numerical Optimization,
// algorithm 7.4.
import * as T from '../torch/index.js';
import { Tensor, keep, noGrad, tidy } from '../torch/index.js';
import type { OptimizerState } from './optimizer.js';
import { absMax, cubicMinimum, dot, strongWolfe } from './line-search.js';

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

export { cubicMinimum };

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
            const search = {
              evaluate: (t: number) => this.evaluateAt(closure, x, t, d),
              shouldStop: this.shouldStop,
              direction: d,
              toleranceChange: this.toleranceChange,
            };
            const r = strongWolfe(search, this.t, loss, flatGrad, gtd);
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
