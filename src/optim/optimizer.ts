// Optimizer base: parameters, per-parameter state tensors, a state dict for exact resume.
import { Tensor, keep, noGrad, tidy } from '../torch/index.js';

export interface ClipOptions {
  /** Keras' clipvalue: clamp every gradient element to [-v, v] before the update. */
  clipValue?: number;
  /** Keras' clipnorm: rescale each parameter's gradient to at most this L2 norm. */
  clipNorm?: number;
}

/** A backward pass that leaves each parameter's gradient averaged over a group's ranks. */
export interface GradientSync {
  backward(loss: Tensor, params: Tensor[]): void;
}

export interface OptimizerState {
  /** Hyper-parameters and counters, plain JSON. */
  hyper: Record<string, number | boolean>;
  /** State tensors by "<param index>.<name>". */
  tensors: Map<string, Tensor>;
}

export abstract class Optimizer implements Disposable {
  /** Number of steps taken. */
  stepCount = 0;
  /** Takes the backward pass where the gradients must be the ranks' mean (data-parallel). */
  gradientSync: GradientSync | null = null;
  protected readonly state: Map<string, Tensor>[];

  constructor(
    readonly params: Tensor[],
    public lr: number,
    readonly clip: ClipOptions = {},
  ) {
    if (params.length === 0) throw new Error('an optimizer needs at least one parameter');
    if (!(lr >= 0)) throw new Error(`the learning rate must be a non-negative number, got ${lr}`);
    this.state = params.map(() => new Map());
  }

  /** One update from the parameters' current .grad; parameters without a gradient are skipped. */
  step(): void {
    noGrad(() =>
      tidy(() => {
        this.stepCount++;
        this.params.forEach((p, i) => {
          let g = p.grad;
          if (g === null) return;
          if (this.clip.clipValue !== undefined) g = g.clamp(-this.clip.clipValue, this.clip.clipValue);
          if (this.clip.clipNorm !== undefined) {
            const n = g.norm(2).item();
            if (n > this.clip.clipNorm) g = g.mul(this.clip.clipNorm / (n + 1e-7));
          }
          this.update(p, g, this.state[i]);
        });
      }),
    );
  }

  /** Applies one update to p in place from gradient g; state tensors must be kept (see slot()). */
  protected abstract update(p: Tensor, g: Tensor, state: Map<string, Tensor>): void;

  /** A state tensor, created on first use by init() and kept out of scopes. */
  protected slot(state: Map<string, Tensor>, name: string, init: () => Tensor): Tensor {
    let t = state.get(name);
    if (t === undefined) {
      t = keep(init());
      state.set(name, t);
    }
    return t;
  }

  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  /**
   * One training update from a loss: clears the gradients, backpropagates, clips (the global
   * L2 norm, and/or each element) and steps, as tch-rs's backward_step_clip. 0 turns a clip off.
   */
  backwardStep(loss: Tensor, clip: { clipNorm?: number; clipValue?: number } = {}): void {
    this.zeroGrad();
    if (this.gradientSync) this.gradientSync.backward(loss, this.params);
    else loss.backward();
    if (clip.clipNorm) clipGradNorm(this.params, clip.clipNorm);
    if (clip.clipValue) clipGradValue(this.params, clip.clipValue);
    this.step();
  }

  /**
   * The fields holding this optimizer's settings (numbers or booleans), in the order the
   * state dict writes them: saved and restored by name.
   */
  protected abstract readonly hyperNames: readonly string[];

  private get fields(): Record<string, number | boolean> {
    return this as unknown as Record<string, number | boolean>;
  }

  stateDict(): OptimizerState {
    const tensors = new Map<string, Tensor>();
    this.state.forEach((s, i) => s.forEach((t, k) => tensors.set(`${i}.${k}`, t)));
    const hyper = Object.fromEntries(this.hyperNames.map((n) => [n, this.fields[n]]));
    return { hyper: { ...hyper, lr: this.lr, stepCount: this.stepCount }, tensors };
  }

  /** Restores a state dict; tensors are copied, so the caller still owns what it passed. */
  loadStateDict(sd: OptimizerState): void {
    this.lr = Number(sd.hyper.lr);
    this.stepCount = Number(sd.hyper.stepCount);
    for (const n of this.hyperNames)
      this.fields[n] = typeof this.fields[n] === 'boolean' ? Boolean(sd.hyper[n]) : Number(sd.hyper[n]);
    for (const s of this.state) {
      for (const t of s.values()) t.dispose();
      s.clear();
    }
    for (const [key, t] of sd.tensors) {
      const dot = key.indexOf('.');
      const i = Number(key.slice(0, dot));
      if (!(i >= 0 && i < this.state.length))
        throw new Error(`optimizer state refers to parameter ${i}, but there are ${this.state.length}`);
      this.state[i].set(key.slice(dot + 1), keep(t.clone()));
    }
  }

  dispose(): void {
    for (const s of this.state) for (const t of s.values()) t.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Rescales all gradients together so their global L2 norm is at most maxNorm; returns the norm before. */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  return noGrad(() =>
    tidy(() => {
      const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== null);
      if (grads.length === 0) return 0;
      const total = Math.sqrt(grads.reduce((s, g) => s + g.square().sum().item(), 0));
      const scale = maxNorm / (total + 1e-6);
      if (scale < 1) for (const g of grads) g.mul_(scale);
      return total;
    }),
  );
}

/** Clamps every gradient element to [-v, v] in place. */
export function clipGradValue(params: Tensor[], v: number): void {
  noGrad(() =>
    tidy(() => {
      for (const p of params) p.grad?.clamp_(-v, v);
    }),
  );
}
