// Module: explicit registration of submodules, parameters and buffers, with dotted names
// that match PyTorch's state_dict keys, so real weights load by name.
import { Tensor, keep, noGrad, tidy } from '../torch/index.js';
import { native } from '../torch/native.js';

export interface LoadReport {
  missing: string[];
  unexpected: string[];
}

/**
 * A network part with its parameters, buffers and children. `forward` takes I and gives O
 * (TorchSharp's Module<T, TResult>); containers without a computation of their own leave it out.
 */
export abstract class Module<I extends unknown[] = any[], O = unknown> implements Disposable {
  training = true;
  private readonly params = new Map<string, Tensor | null>();
  private readonly buffers = new Map<string, Tensor | null>();
  private readonly children = new Map<string, Module>();

  /** Registers a trainable tensor under `name`; it leaves every scope and requires grad. */
  protected registerParameter(name: string, t: Tensor | null): Tensor {
    if (t !== null) {
      keep(t);
      if (!t.requiresGrad) t.requiresGrad_(true);
    }
    this.params.set(name, t);
    return t as Tensor;
  }
  /** Registers persistent state that is not trained (running statistics). */
  protected registerBuffer(name: string, t: Tensor | null): Tensor {
    if (t !== null) keep(t);
    this.buffers.set(name, t);
    return t as Tensor;
  }
  /** Registers a child under `name` (its parameters become `name.…`); returns it, typed. */
  registerModule<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  /** The module's computation. */
  forward(...input: I): O {
    void input;
    throw new Error(`${this.constructor.name} has no forward(); call its parts`);
  }

  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [n, m] of this.children) yield* m.namedModules(prefix ? `${prefix}.${n}` : n);
  }
  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    for (const [p, m] of this.namedModules(prefix)) {
      for (const [n, t] of m.params) if (t !== null) yield [p ? `${p}.${n}` : n, t];
    }
  }
  *namedBuffers(prefix = ''): Generator<[string, Tensor]> {
    for (const [p, m] of this.namedModules(prefix)) {
      for (const [n, t] of m.buffers) if (t !== null) yield [p ? `${p}.${n}` : n, t];
    }
  }
  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, t]) => t);
  }
  /** Number of trainable scalars. */
  parameterCount(): number {
    return this.parameters().reduce((n, p) => n + p.numel, 0);
  }

  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  /** Stops (or restarts) gradient flow into every parameter. */
  freeze(frozen = true): this {
    for (const p of this.parameters()) p.requiresGrad_(!frozen);
    return this;
  }

  /** Parameters and buffers by dotted name. The tensors are the live ones, not copies. */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /**
   * Copies values in by name, in place, so optimizers keep their references. strict (the
   * default) refuses missing or unexpected keys; otherwise they are reported.
   */
  loadStateDict(sd: Map<string, Tensor> | Record<string, Tensor>, opts: { strict?: boolean } = {}): LoadReport {
    const src = sd instanceof Map ? sd : new Map(Object.entries(sd));
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !src.has(k));
    const unexpected = [...src.keys()].filter((k) => !own.has(k));
    if ((opts.strict ?? true) && (missing.length || unexpected.length)) {
      const parts = [];
      if (missing.length) parts.push(`missing ${missing.join(', ')}`);
      if (unexpected.length) parts.push(`unexpected ${unexpected.join(', ')}`);
      throw new Error(`state dict does not match the module: ${parts.join('; ')}`);
    }
    noGrad(() =>
      tidy(() => {
        for (const [k, dst] of own) {
          const v = src.get(k);
          if (v === undefined) continue;
          if (String(v.shape) !== String(dst.shape)) {
            throw new Error(`state dict entry ${k} has shape [${v.shape}] but the module expects [${dst.shape}]`);
          }
          dst.copy_(v);
        }
      }),
    );
    return { missing, unexpected };
  }

  /** Moves every parameter and buffer to a device in place (optimizers keep working). */
  to(device: string): this {
    tidy(() => {
      for (const t of this.stateDict().values()) {
        if (t.device !== device) native.setData(t.h, t.to(device).h);
      }
    });
    return this;
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /** Frees every parameter and buffer. */
  dispose(): void {
    for (const t of this.stateDict().values()) t.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Layers in order; the output of one is the input of the next. */
export class Sequential extends Module<[Tensor], Tensor> {
  readonly layers: Module<[Tensor], Tensor>[];
  constructor(...layers: Module<[Tensor], Tensor>[]) {
    super();
    this.layers = layers.map((l, i) => this.registerModule(String(i), l));
  }
  override forward(x: Tensor): Tensor {
    let y = x;
    for (const l of this.layers) y = l.forward(y);
    return y;
  }
}

/** Submodules under names of the caller's choosing, like torch.nn.ModuleDict. */
export class ModuleDict<M extends Module = Module> extends Module {
  readonly items = new Map<string, M>();
  set(name: string, m: M): M {
    this.items.set(name, m);
    return this.registerModule(name, m);
  }
}

/** A list of submodules, registered as "0", "1", ... like torch.nn.ModuleList. */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[] = [];
  constructor(items: M[] = []) {
    super();
    for (const m of items) this.push(m);
  }
  push(m: M): void {
    this.registerModule(String(this.items.length), m);
    this.items.push(m);
  }
  get length(): number {
    return this.items.length;
  }
  at(i: number): M {
    return this.items[i];
  }
}
