// Loads the addon built by scripts/build-addon.mjs and gives its functions types.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** An opaque native tensor handle. */
export type Handle = { readonly __handle: unique symbol };
/** An opaque cached operator handle. */
export type OpHandle = { readonly __op: unique symbol };
/** A c10d process group. */
export type GroupHandle = { readonly __group: unique symbol };
export type ReducerHandle = { readonly __reducer: unique symbol };

export interface NativeInfo {
  torchVersion: string;
  cuda: boolean;
  cudaDevices: number;
  mkldnn: boolean;
  openmp: boolean;
  threads: number;
  parallelInfo: string;
  config: string;
  cxx11Abi: boolean;
}

interface Native {
  op(name: string, overload: string): OpHandle;
  call(op: OpHandle, ...args: unknown[]): any;
  schema(name: string, overload: string): string;
  allSchemas(): string[];
  fromBuffer(data: ArrayBufferView, shape: number[], dtype: number): Handle;
  toBuffer(h: Handle): ArrayBuffer;
  dispose(h: Handle): void;
  /** The handle has no scope to free it: its bytes count as V8 external memory until freed. */
  collectable(h: Handle): void;
  isAlive(h: Handle): boolean;
  shape(h: Handle): number[];
  dtype(h: Handle): number;
  device(h: Handle): string;
  item(h: Handle): number;
  requiresGrad(h: Handle): boolean;
  isLeaf(h: Handle): boolean;
  grad(h: Handle): Handle | null;
  setGrad(h: Handle, g: Handle | null): void;
  setData(h: Handle, src: Handle): void;
  backward(tensors: Handle[], grads: (Handle | null)[] | null, retainGraph: boolean, createGraph: boolean): void;
  autogradGrad(
    outputs: Handle[],
    inputs: Handle[],
    gradOutputs: (Handle | null)[] | null,
    retainGraph: boolean | null,
    createGraph: boolean,
    allowUnused: boolean,
  ): (Handle | null)[];
  setGradEnabled(enabled: boolean): boolean;
  isGradEnabled(): boolean;
  /** Turns CPU autocast on in dtype (a code); returns the state before, for autocastExit. */
  autocastEnter(dtype: number): [boolean, number];
  autocastExit(wasEnabled: boolean, dtype: number): void;
  autocastState(): [boolean, number];
  setAutocastCacheEnabled(enabled: boolean): boolean;
  manualSeed(seed: number): void;
  getRngState(): Handle;
  setRngState(state: Handle): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  liveTensors(): { count: number; bytes: number; undisposed: number; gcBytes: number };
  cpuMemory(): {
    largeInUse: number;
    largeCached: number;
    maps: number;
    reuses: number;
    heapSystem: number;
    heapInUse: number;
  };
  emptyCache(): void;
  /** Counts SIGINT/SIGTERM from now on where a synchronous loop can poll them; a second one exits at once. */
  watchInterrupts(): void;
  interrupts(): number;
  setBlasThreads(n: number): number;
  info(): NativeInfo;
  // c10d, present when the addon was built with Gloo (see scripts/build-addon.mjs).
  distInit?(rank: number, world: number, host: string, port: number, timeoutMs: number): GroupHandle;
  distAllReduce?(group: GroupHandle, t: Handle, op: 'sum' | 'max' | 'min'): void;
  distBroadcast?(group: GroupHandle, t: Handle, root: number): void;
  distBarrier?(group: GroupHandle): void;
  distClose?(group: GroupHandle): void;
  // c10d's Reducer, present when built against a libtorch 2.x that ships its headers.
  distReducer?(group: GroupHandle, params: Handle[], bucketBytes: number, firstBucketBytes: number): ReducerHandle;
  distReducerPrepare?(reducer: ReducerHandle, loss: Handle): void;
  distReducerClose?(reducer: ReducerHandle): void;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The addon's folder: build/, or LOOM_ADDON_DIR (relative to the package root), where
 * scripts/build-addon.mjs put an addon for another libtorch (docs/engines.md). */
export const addonDir = path.resolve(root, process.env.LOOM_ADDON_DIR || 'build');
export const addonPath = path.join(addonDir, 'loom.node');

/** What scripts/build-addon.mjs wrote beside the addon: its BLAS and its libtorch. */
export interface AddonBuild {
  /** Debian's OpenMP OpenBLAS, or the system's. */
  blas: string;
  /** Which libtorch: 'system' (Debian's), 'pytorch' (an installed PyTorch's) or 'LIBTORCH' (a folder). */
  libtorch?: { source: string; root: string; lib: string; version: string; cuda: boolean; python?: string };
}

export const addonBuild: AddonBuild = (() => {
  try {
    return JSON.parse(readFileSync(path.join(addonDir, 'addon.json'), 'utf8')) as AddonBuild;
  } catch {
    return { blas: 'system' };
  }
})();

/** The BLAS the addon was linked with (scripts/build-addon.mjs): Debian's OpenMP OpenBLAS, or the system's. */
export const addonBlas: string = addonBuild.blas;

// OpenMP's idle workers spin for a while after each parallel region; on a 2-core machine
// they steal the cores from OpenBLAS's own pthreads, and the char LSTM's training step ran
// 3x slower with 2 threads than with 1 (docs/benchmarks.md). With OpenBLAS on OpenMP there
// is one pool and the spin is what PyTorch has; with any other BLAS, sleeping workers fix
// it. libgomp reads this when the addon loads it, so it must be set before; a user's own
// OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
export const ompWaitPolicySetByLoom =
  !process.env.OMP_WAIT_POLICY && !process.env.GOMP_SPINCOUNT && addonBlas !== 'openblas-openmp';
if (ompWaitPolicySetByLoom) process.env.OMP_WAIT_POLICY = 'PASSIVE';

function load(): Native {
  try {
    return createRequire(import.meta.url)(addonPath) as Native;
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new Error(`Loom's native addon could not be loaded (${why}); run \`npm install\` to build it`, { cause: e });
  }
}

export const native: Native = load();
export const { call, op } = native;
