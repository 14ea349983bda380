// Loom's tensor library: libtorch from TypeScript. Import from here, so that every
// Tensor method (generated and hand-written) is attached.
import { availableParallelism } from 'node:os';
import { native, call, op, type Handle } from './native.js';
import { FreeCores, freeCoresHere } from './free-cores.js';
import { Tensor, wrap } from './tensor.js';
import { dtypeCode, type DType } from './dtype.js';
import * as ops from './ops.generated.js';
import './methods.js';

export * from './ops.generated.js';
export { Tensor, tensor, type TensorData, type TensorOptions, type NestedArray } from './tensor.js';
export { tidy, keep, disposeScope, DisposeScope } from './scope.js';
export { backward, grad, noGrad, enableGrad, isGradEnabled } from './autograd.js';
export {
  autocast,
  withoutAutocast,
  isAutocastEnabled,
  bf16Supported,
  resolvePrecision,
  type PrecisionSetting,
  type PrecisionChoice,
} from './autocast.js';
export { type DType, isFloating } from './dtype.js';
export type { ReduceOptions } from './methods.js';

export interface CreateOptions {
  dtype?: DType;
  device?: string;
}

// PyTorch-style creation with an options object instead of keyword arguments.
export const zeros = (shape: number[], o: CreateOptions = {}) =>
  ops.zeros(shape, o.dtype ?? null, null, o.device ?? null);
export const ones = (shape: number[], o: CreateOptions = {}) =>
  ops.ones(shape, o.dtype ?? null, null, o.device ?? null);
// float32 unless asked: libtorch would infer int64 from an integral fill value, and JS
// cannot tell 1 from 1.0.
export const full = (shape: number[], value: number, o: CreateOptions = {}) =>
  ops.full(shape, value, o.dtype ?? 'float32', null, o.device ?? null);
export const rand = (shape: number[], o: CreateOptions = {}) =>
  ops.rand(shape, o.dtype ?? null, null, o.device ?? null);
export const randn = (shape: number[], o: CreateOptions = {}) =>
  ops.randn(shape, o.dtype ?? null, null, o.device ?? null);
export const arange = (start: number, end: number, step = 1, o: CreateOptions = {}) =>
  ops.arange(start, end, step, o.dtype ?? null, null, o.device ?? null);
export const empty = (shape: number[], o: CreateOptions = {}) =>
  ops.empty(shape, o.dtype ?? null, null, o.device ?? null);

/**
 * Calls any aten:: operator by name ("aten::lerp.Scalar" or "lerp.Scalar"), passing
 * arguments in schema order; Tensors (and arrays of them) are passed through, dtype
 * names are not converted (use dtypeCode). Returned tensors are wrapped.
 */
export function callOp(name: string, ...args: unknown[]): any {
  const full = name.includes('::') ? name : `aten::${name}`;
  const dot = full.indexOf('.', full.indexOf('::'));
  const h = dot >= 0 ? op(full.slice(0, dot), full.slice(dot + 1)) : op(full, '');
  const conv = (a: unknown): unknown => (a instanceof Tensor ? a.h : Array.isArray(a) ? a.map(conv) : a);
  return unwrapResult(call(h, ...args.map(conv)));
}
function unwrapResult(r: unknown): unknown {
  if (Array.isArray(r)) return r.map(unwrapResult);
  if (r !== null && typeof r === 'object') return wrap(r as Handle);
  return r;
}
export { dtypeCode };

/** Whether this libtorch has the operator ("aten::name" or "name"), in any overload. */
export function hasOp(name: string): boolean {
  try {
    schema(name);
    return true;
  } catch {
    return false;
  }
}

/** The schema of an operator, as libtorch declares it. */
export const schema = (name: string, overload = '') =>
  native.schema(name.includes('::') ? name : `aten::${name}`, overload);

/** Seeds every generator (CPU and, where present, CUDA): the same seed gives the same numbers. */
export function manualSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`a seed must be a non-negative integer, got ${seed}`);
  native.manualSeed(seed);
}

/** The CPU generator's state, as a uint8 tensor, for exact resume. */
export const getRngState = (): Tensor => wrap(native.getRngState());
export function setRngState(state: Tensor): void {
  native.setRngState(state.h);
}

/**
 * Runs fn on a fork of the CPU generator: whatever fn draws, the generator is put back
 * after, so evaluation and pictures between training steps leave training's random stream
 * (and so exact resume) untouched.
 */
export async function withRngFork<T>(fn: () => T | Promise<T>): Promise<T> {
  const state = getRngState();
  try {
    return await fn();
  } finally {
    setRngState(state);
    state.dispose();
  }
}

/** Sets libtorch's intra-op thread count, and stops fitting it to the free cores. */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`the thread count must be a positive integer, got ${n}`);
  native.setNumThreads(n);
  freeCores = null;
  fitting = false;
}

/**
 * From now on, fits the thread count to the cores other processes leave free (--threads
 * auto): faster on a shared machine, but the numbers then depend on what else runs.
 */
export function fitThreadsToFreeCores(): void {
  native.setNumThreads(availableParallelism());
  freeCores = freeCoresHere(availableParallelism());
  fitting = true;
}

/** The thread setting to record in a run: a count, or 'auto' when fitted to the free cores. */
export function threadSetting(): number | 'auto' {
  return fitting ? 'auto' : native.getNumThreads();
}
export const getNumThreads = (): number => native.getNumThreads();

/**
 * Runs fn on n intra-op threads, then gives back the count there was: for work whose numbers
 * must not depend on the thread setting (a cached network that later runs score against).
 */
export function withThreads<T>(n: number, fn: () => T): T {
  const before = native.getNumThreads();
  native.setNumThreads(n);
  try {
    return fn();
  } finally {
    native.setNumThreads(before);
  }
}

/**
 * Runs fn with OpenBLAS limited to n threads (then restores the count). Tiny matrix-vector
 * products, as in character-by-character generation, run faster on one BLAS thread.
 * Does nothing when the BLAS in use is not OpenBLAS.
 */
export function withBlasThreads<T>(n: number, fn: () => T): T {
  const torchThreads = native.getNumThreads();
  const prev = native.setBlasThreads(n);
  try {
    return fn();
  } finally {
    if (prev > 0) native.setBlasThreads(prev);
    // OpenBLAS's OpenMP build sets OpenMP's thread count, which is libtorch's too: give
    // libtorch back the count it had (a user's setNumThreads(1) must survive generation).
    if (native.getNumThreads() !== torchThreads) native.setNumThreads(torchThreads);
  }
}

/**
 * Live tensor handles (`count`, `bytes`), and `undisposed`: handles made and never disposed,
 * whether or not the GC has since released them. Leak checks compare `undisposed`, which
 * moves only at explicit points, never with garbage-collection timing. `gcBytes`: the bytes
 * of those no scope will free, the only ones V8 is told of (its collections follow them).
 */
export const liveTensors = (): { count: number; bytes: number; undisposed: number; gcBytes: number } =>
  native.liveTensors();
/**
 * Tensors of 64 KiB or more get pages of their own (the C heap fragmented under them);
 * freed ones are cached for reuse, up to twice the most ever in use at once (at
 * least 256 MiB). Their bytes in use and cached, and the C heap's size and use.
 */
export const cpuMemory = (): ReturnType<typeof native.cpuMemory> => native.cpuMemory();
/** Returns the cached large blocks to the system. */
export const emptyCache = (): void => native.emptyCache();
/**
 * Starts counting SIGINT and SIGTERM natively, so a synchronous loop sees Ctrl-C at its
 * next poll (Node's own listeners wait for the event loop); a second signal exits at once.
 * Call after adding any `process.on('SIGINT')` listener, so the native handler chains to it.
 */
export function watchInterrupts(): () => number {
  native.watchInterrupts();
  return () => native.interrupts();
}

export const cudaAvailable = (): boolean => native.info().cuda;

// libtorch picks 1 thread on this kind of machine; Loom uses every core unless the user
// chose through OMP_NUM_THREADS or LOOM_THREADS (a count, or auto). The count stays fixed,
// so that a run's numbers repeat whatever else the machine runs, unless fitting is asked for.
let freeCores: FreeCores | null = null;
let fitting = false;
{
  const chosen = Number(process.env.LOOM_THREADS);
  if (process.env.LOOM_THREADS === 'auto') fitThreadsToFreeCores();
  else if (Number.isInteger(chosen) && chosen > 0) native.setNumThreads(chosen);
  else if (!process.env.OMP_NUM_THREADS) native.setNumThreads(availableParallelism());
}

/**
 * For long loops, between steps, with --threads auto: when other processes have kept cores
 * busy for two windows of 3 s (or freed them), sets the thread count to the cores left, and
 * returns the change. Does nothing otherwise.
 */
export function fitThreads(now = performance.now()): { threads: number; othersBusy: number } | null {
  if (!freeCores) return null;
  const threads = freeCores.check(native.getNumThreads(), now);
  if (threads === null) return null;
  native.setNumThreads(threads);
  return { threads, othersBusy: freeCores.othersBusy };
}
