// Mixed precision on the CPU: libtorch's autocast, entered and left as torch.autocast does.
import { readFileSync } from 'node:fs';
import { native } from './native.js';
import { dtypeCode } from './dtype.js';
import { full } from './ops.generated.js';
import { noGrad } from './autograd.js';

/**
 * Runs fn under CPU autocast: matrix products, convolutions and linear layers compute in
 * dtype, while losses, softmax and reductions stay float32 (libtorch's own op lists, the
 * same as PyTorch's). Float32 parameters keep float32 gradients. The previous state comes
 * back after, and leaving the outermost region drops the cast weights it cached.
 */
export function autocast<T>(dtype: 'bfloat16', fn: () => T): T {
  const [wasEnabled, prevDtype] = native.autocastEnter(dtypeCode(dtype));
  try {
    return fn();
  } finally {
    native.autocastExit(wasEnabled, prevDtype);
  }
}

/**
 * Runs fn with CPU autocast off inside an autocast region (torch.autocast(enabled=False)):
 * for the few layers whose inputs bf16 would round too coarsely.
 */
export function withoutAutocast<T>(fn: () => T): T {
  const [on, dtype] = native.autocastState();
  if (!on) return fn();
  // One level deeper, then off at that level, so the weights' cast cache survives.
  native.autocastEnter(dtype);
  native.autocastExit(false, dtype);
  try {
    return fn();
  } finally {
    native.autocastEnter(dtype);
    native.autocastExit(true, dtype);
  }
}

/** Whether CPU autocast is on here, and its dtype code. */
export function isAutocastEnabled(): boolean {
  return native.autocastState()[0];
}

let bf16Units: boolean | null = null;
/**
 * Whether this CPU has bfloat16 matrix units (AVX-512 BF16 or AMX), where bf16 products
 * run faster than float32; elsewhere libtorch emulates them, slower. Linux's CPU flags.
 */
export function bf16Supported(): boolean {
  if (bf16Units === null) {
    try {
      const flags = readFileSync('/proc/cpuinfo', 'utf8');
      bf16Units = /\b(avx512_bf16|amx_bf16)\b/.test(flags);
    } catch {
      bf16Units = false;
    }
  }
  return bf16Units;
}

/** What --precision asks for, and what a run computes in. */
export type PrecisionSetting = 'fp32' | 'bf16' | 'auto';
export interface PrecisionChoice {
  precision: 'fp32' | 'bf16';
  /** For auto: the probe's milliseconds per product in each, or why it was not run. */
  probe?: { fp32Ms: number; bf16Ms: number } | string;
}

/** The fastest of a few timed runs of fn, in milliseconds, after one to warm up. */
function fastest(fn: () => void, runs: number): number {
  fn();
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/**
 * Settles --precision: bf16 where asked (refused in one sentence on a CPU without bf16
 * units); for auto, bf16 only where the CPU has them and a matrix product of the run's
 * shape [m, k] x [k, n] runs faster in bf16 than in float32 (a probe of a few products).
 */
export function resolvePrecision(
  setting: PrecisionSetting,
  shape: [number, number, number],
  hasUnits = bf16Supported(),
): PrecisionChoice {
  if (setting === 'fp32') return { precision: 'fp32' };
  if (!hasUnits) {
    if (setting === 'bf16')
      throw new Error(
        '--precision bf16 needs a CPU with bfloat16 units (AVX-512 BF16 or AMX), which this one lacks; use --precision fp32 or auto',
      );
    return { precision: 'fp32', probe: 'no bf16 units on this CPU' };
  }
  if (setting === 'bf16') return { precision: 'bf16' };
  const [m, k, n] = shape;
  const time = (dtype: 'float32' | 'bfloat16') => {
    // Constant operands: the probe draws nothing from the generator, so seeds keep their streams.
    const a = full([m, k], 0.5, dtype);
    const b = full([k, n], 0.25, dtype);
    try {
      return noGrad(() => fastest(() => a.matmul(b).dispose(), 3));
    } finally {
      a.dispose();
      b.dispose();
    }
  };
  const fp32Ms = time('float32');
  const bf16Ms = time('bfloat16');
  return { precision: bf16Ms < fp32Ms ? 'bf16' : 'fp32', probe: { fp32Ms, bf16Ms } };
}
