// `loom info`: what Loom runs on: which libtorch (system, pytorch or a LIBTORCH folder), its
// version, path and CUDA, threads, BLAS, the CPU's bf16 units, devices, data-parallel support.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { native, addonPath, addonBuild } from '../torch/native.js';

export interface LoomInfo {
  loom: string;
  node: string;
  addon: string;
  libtorch: {
    version: string;
    /** 'system' (Debian's libtorch-dev), 'pytorch' (an installed PyTorch's), 'LIBTORCH' (a folder), or 'unknown'. */
    source: string;
    /** The folder the addon was built against (holding include/ and lib/). */
    root: string | null;
    library: string | null;
    cxx11Abi: boolean;
    /** Whether this libtorch was built with CUDA (its libtorch_cuda is loaded), GPUs or not. */
    cuda: boolean;
  };
  threads: number;
  blas: string | null;
  openmp: boolean;
  mkldnn: boolean;
  /** The CPU's bf16 arithmetic units, from /proc/cpuinfo's flags (amx_bf16, avx512_bf16). */
  cpu: { bf16: boolean; bf16Flags: string[] };
  devices: string[];
  /** How data-parallel ranks average gradients: none (built without Gloo), after or during backward. */
  dataParallel: 'none' | 'averaged after backward' | 'all-reduced during backward';
}

/** The CPU flags of bf16 arithmetic units (AMX, AVX-512 BF16) that `cpuinfo` lists. */
export function cpuBf16Flags(cpuinfo: string): string[] {
  const flags = new Set(
    cpuinfo
      .split('\n')
      .filter((l) => /^flags\s*:/.test(l))
      .flatMap((l) =>
        l
          .slice(l.indexOf(':') + 1)
          .trim()
          .split(/\s+/),
      ),
  );
  return ['amx_bf16', 'avx512_bf16'].filter((f) => flags.has(f));
}

function readCpuinfo(): string {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
}

/** The shared libraries this process mapped, to tell which libtorch and BLAS are really in use. */
export function mappedLibraries(): string[] {
  try {
    const maps = readFileSync('/proc/self/maps', 'utf8');
    return [
      ...new Set(
        maps
          .split('\n')
          .map((l) => l.split(/\s+/)[5])
          .filter((p) => p && p.includes('.so')),
      ),
    ];
  } catch {
    return [];
  }
}

export function info(): LoomInfo {
  const n = native.info();
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const libs = mappedLibraries();
  const torchLib = libs.find((l) => /libtorch_cpu\.so/.test(l)) ?? null;
  // PyTorch's wheels link MKL into libtorch itself: then the build's own BLAS_INFO says which.
  const blasBuilt = /BLAS_INFO=(\w+)/.exec(n.config)?.[1];
  const blasLib =
    libs.find((l) => /openblas|libblas|mkl_rt|libblis/.test(l)) ??
    (blasBuilt && blasBuilt !== 'generic' ? `${blasBuilt} (inside libtorch)` : null);
  const devices = ['cpu', ...Array.from({ length: n.cudaDevices }, (_, i) => `cuda:${i}`)];
  const built = addonBuild.libtorch;
  const bf16Flags = cpuBf16Flags(readCpuinfo());
  return {
    loom: pkg.version,
    node: process.version,
    addon: addonPath,
    libtorch: {
      version: n.torchVersion,
      source: built?.source ?? 'unknown',
      root: built?.root ?? null,
      library: torchLib,
      cxx11Abi: n.cxx11Abi,
      cuda: libs.some((l) => /libtorch_cuda\.so/.test(l)),
    },
    threads: n.threads,
    blas: blasLib,
    openmp: n.openmp,
    mkldnn: n.mkldnn,
    cpu: { bf16: bf16Flags.length > 0, bf16Flags },
    devices,
    dataParallel: !native.distInit
      ? 'none'
      : native.distReducer
        ? 'all-reduced during backward'
        : 'averaged after backward',
  };
}

export function formatInfo(i: LoomInfo): string {
  return [
    `loom      ${i.loom} (node ${i.node}, addon ${i.addon})`,
    `libtorch  ${i.libtorch.version} (${i.libtorch.source}${i.libtorch.cuda ? ', CUDA' : ', no CUDA'})  ${i.libtorch.library ?? '(library path unknown)'}`,
    `threads   ${i.threads}${i.openmp ? ' (OpenMP)' : ''}`,
    `blas      ${i.blas ?? 'none mapped (reference BLAS or statically linked)'}`,
    `oneDNN    ${i.mkldnn ? 'yes' : 'no'}`,
    `bf16 CPU  ${i.cpu.bf16 ? `yes (${i.cpu.bf16Flags.join(', ')})` : 'no (neither amx_bf16 nor avx512_bf16)'}`,
    `devices   ${i.devices.join(', ')}`,
    `parallel  ${i.dataParallel === 'none' ? 'no (built without Gloo)' : `Gloo, gradients ${i.dataParallel}${i.dataParallel.startsWith('all') ? " (c10d's Reducer)" : ''}`}`,
  ].join('\n');
}
