// Mixed precision on the CPU: libtorch's autocast, entered and left as torch.autocast does.
import { readFileSync } from 'node:fs';
import { native } from './native.js';
import { dtypeCode } from './dtype.js';

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
