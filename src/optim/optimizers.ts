// SGD, Adam, AdamW and RMSprop with PyTorch's update rules and defaults.
import * as T from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { Optimizer, type ClipOptions } from './optimizer.js';

const zerosLike = (p: Tensor) => () => T.zerosLike(p);

export interface SGDOptions extends ClipOptions {
  lr?: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

export class SGD extends Optimizer {
  protected readonly hyperNames = ['momentum', 'dampening', 'nesterov', 'weightDecay'];
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
  constructor(params: Tensor[], opts: SGDOptions = {}) {
    super(params, opts.lr ?? 0.01, opts);
    this.momentum = opts.momentum ?? 0;
    this.dampening = opts.dampening ?? 0;
    this.nesterov = opts.nesterov ?? false;
    this.weightDecay = opts.weightDecay ?? 0;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0))
      throw new Error('Nesterov momentum needs momentum > 0 and no dampening');
  }
  protected update(p: Tensor, g: Tensor, state: Map<string, Tensor>): void {
    let d = this.weightDecay ? g.add(p, this.weightDecay) : g;
    if (this.momentum) {
      const first = !state.has('momentum_buffer');
      const buf = this.slot(state, 'momentum_buffer', () => d.clone());
      if (!first) buf.mul_(this.momentum).add_(d, 1 - this.dampening);
      d = this.nesterov ? d.add(buf, this.momentum) : buf;
    }
    p.add_(d, -this.lr);
  }
}

export interface AdamOptions extends ClipOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Parameters exempt from the weight decay (biases and norms' gains, as GPT-2 trains). */
  noDecay?: Tensor[];
}

export class Adam extends Optimizer {
  protected readonly hyperNames = ['beta1', 'beta2', 'eps', 'weightDecay'];
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** AdamW's decoupled weight decay instead of Adam's L2 term. */
  protected decoupled = false;
  private readonly noDecay: Set<Tensor>;
  constructor(params: Tensor[], opts: AdamOptions = {}) {
    super(params, opts.lr ?? 1e-3, opts);
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    this.noDecay = new Set(opts.noDecay ?? []);
  }
  protected update(p: Tensor, g: Tensor, state: Map<string, Tensor>): void {
    const decay = this.noDecay.has(p) ? 0 : this.weightDecay;
    if (decay && this.decoupled) p.mul_(1 - this.lr * decay);
    const d = decay && !this.decoupled ? g.add(p, decay) : g;
    const m = this.slot(state, 'exp_avg', zerosLike(p));
    const v = this.slot(state, 'exp_avg_sq', zerosLike(p));
    const stepT = this.slot(state, 'step', () => T.zeros([]));
    stepT.add_(1);
    const step = stepT.item();
    m.lerp_(d, 1 - this.beta1);
    v.mul_(this.beta2).addcmul_(d, d, 1 - this.beta2);
    const bc1 = 1 - this.beta1 ** step;
    const bc2 = 1 - this.beta2 ** step;
    const denom = v.sqrt().div(Math.sqrt(bc2)).add_(this.eps);
    p.addcdiv_(m, denom, -this.lr / bc1);
  }
}

export class AdamW extends Adam {
  constructor(params: Tensor[], opts: AdamOptions = {}) {
    super(params, { weightDecay: 1e-2, ...opts });
    this.decoupled = true;
  }
}

export interface RMSpropOptions extends ClipOptions {
  lr?: number;
  alpha?: number;
  eps?: number;
  momentum?: number;
  centered?: boolean;
  weightDecay?: number;
}

export class RMSprop extends Optimizer {
  protected readonly hyperNames = ['alpha', 'eps', 'momentum', 'centered', 'weightDecay'];
  alpha: number;
  eps: number;
  momentum: number;
  centered: boolean;
  weightDecay: number;
  constructor(params: Tensor[], opts: RMSpropOptions = {}) {
    super(params, opts.lr ?? 0.01, opts);
    this.alpha = opts.alpha ?? 0.99;
    this.eps = opts.eps ?? 1e-8;
    this.momentum = opts.momentum ?? 0;
    this.centered = opts.centered ?? false;
    this.weightDecay = opts.weightDecay ?? 0;
  }
  protected update(p: Tensor, g: Tensor, state: Map<string, Tensor>): void {
    const d = this.weightDecay ? g.add(p, this.weightDecay) : g;
    const sq = this.slot(state, 'square_avg', zerosLike(p));
    sq.mul_(this.alpha).addcmul_(d, d, 1 - this.alpha);
    let avg: Tensor;
    if (this.centered) {
      const ga = this.slot(state, 'grad_avg', zerosLike(p));
      ga.lerp_(d, 1 - this.alpha);
      avg = sq.addcmul(ga, ga, -1).sqrt_().add_(this.eps);
    } else {
      avg = sq.sqrt().add_(this.eps);
    }
    if (this.momentum > 0) {
      const buf = this.slot(state, 'momentum_buffer', zerosLike(p));
      buf.mul_(this.momentum).addcdiv_(d, avg);
      p.add_(buf, -this.lr);
    } else {
      p.addcdiv_(d, avg, -this.lr);
    }
  }
}
