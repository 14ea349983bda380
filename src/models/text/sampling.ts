// Choosing the next character from the model's logits: temperature, greedy, top-k, top-p.
import type { Rng } from '../../util/random.js';

export interface SamplingOptions {
  /** p_i ∝ exp(log p_i / T); 0 means greedy (argmax). */
  temperature: number;
  /** Keep only the k most likely characters (0 or undefined: all). */
  topK?: number;
  /** Keep the smallest set of most likely characters whose probability reaches p (nucleus). */
  topP?: number;
}

/**
 * The reweighted distribution over characters, as float64 probabilities: softmax of
 * logits / T (the same as renormalising exp(log p_i / T)), then top-k and top-p.
 */
export function reweight(logits: ArrayLike<number>, opts: SamplingOptions): Float64Array {
  const n = logits.length;
  const p = new Float64Array(n);
  if (opts.temperature === 0) {
    let best = 0;
    for (let i = 1; i < n; i++) if (logits[i] > logits[best]) best = i;
    p[best] = 1;
    return p;
  }
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[i]);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += p[i] = Math.exp((logits[i] - max) / opts.temperature);
  for (let i = 0; i < n; i++) p[i] /= sum;
  const k = opts.topK && opts.topK > 0 ? Math.min(opts.topK, n) : n;
  const pTop = opts.topP !== undefined && opts.topP < 1 ? opts.topP : 1;
  if (k < n || pTop < 1) {
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => p[b] - p[a] || a - b);
    let kept = 0;
    let mass = 0;
    for (let r = 0; r < n; r++) {
      const i = order[r];
      if (r < k && mass < pTop) {
        mass += p[i];
        kept += p[i];
      } else {
        p[i] = 0;
      }
    }
    for (let i = 0; i < n; i++) p[i] /= kept;
  }
  return p;
}

/** Draws an index from probabilities with the given generator. */
export function draw(p: Float64Array, rng: Rng): number {
  const u = rng.next();
  let acc = 0;
  let last = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] <= 0) continue;
    acc += p[i];
    last = i;
    if (u < acc) return i;
  }
  return last; // rounding left u just above the total
}

export function validateSampling(o: SamplingOptions): void {
  if (!(o.temperature >= 0) || !Number.isFinite(o.temperature))
    throw new Error(`temperature must be a number >= 0, got ${o.temperature}`);
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 0))
    throw new Error(`--top-k must be a whole number >= 0, got ${o.topK}`);
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) throw new Error(`--top-p must be in (0, 1], got ${o.topP}`);
}
