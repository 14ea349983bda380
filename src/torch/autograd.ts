// Autograd entry points beyond the per-op graph that libtorch records by itself.
import { native } from './native.js';
import { Tensor, hs } from './tensor.js';

export interface BackwardOptions {
  retainGraph?: boolean;
  createGraph?: boolean;
}

/** Accumulates d(tensors)/d(leaves) into the leaves' .grad; gradients default to ones for scalars. */
export function backward(
  tensors: Tensor | Tensor[],
  grads?: Tensor | (Tensor | null)[] | null,
  opts: BackwardOptions = {},
): void {
  const ts = Array.isArray(tensors) ? tensors : [tensors];
  const gs = grads === undefined || grads === null ? null : Array.isArray(grads) ? grads : [grads];
  native.backward(
    hs(ts),
    gs && gs.map((g) => (g === null ? null : g.h)),
    opts.retainGraph ?? opts.createGraph ?? false,
    opts.createGraph ?? false,
  );
}

export interface GradOptions extends BackwardOptions {
  gradOutputs?: (Tensor | null)[];
  allowUnused?: boolean;
}

/** The gradients of outputs with respect to inputs, without touching .grad (torch.autograd.grad). */
export function grad(outputs: Tensor | Tensor[], inputs: Tensor[], opts: GradOptions = {}): (Tensor | null)[] {
  const os = Array.isArray(outputs) ? outputs : [outputs];
  const res = native.autogradGrad(
    hs(os),
    hs(inputs),
    opts.gradOutputs ? opts.gradOutputs.map((g) => (g === null ? null : g.h)) : null,
    opts.retainGraph ?? null,
    opts.createGraph ?? false,
    opts.allowUnused ?? false,
  );
  return res.map((h) => (h === null ? null : new Tensor(h)));
}

/** Runs fn with gradient recording off (torch.no_grad). */
export function noGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(false);
  // Under autocast, a weight cast without gradients must not be cached: a later pass with
  // gradients in the same region would reuse the copy and leave the weight without a
  // gradient (libtorch 1.13 caches it; 2.x does not).
  const caching = native.setAutocastCacheEnabled(false);
  try {
    return fn();
  } finally {
    native.setAutocastCacheEnabled(caching);
    native.setGradEnabled(prev);
  }
}

/** Runs fn with gradient recording on, even inside noGrad. */
export function enableGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(true);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

export const isGradEnabled = (): boolean => native.isGradEnabled();
