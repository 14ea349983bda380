// `loom info`: what Loom runs on: libtorch version and path, threads, BLAS, devices.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { native, addonPath } from '../torch/native.js';

export interface LoomInfo {
  loom: string;
  node: string;
  addon: string;
  libtorch: { version: string; library: string | null; cxx11Abi: boolean };
  threads: number;
  blas: string | null;
  openmp: boolean;
  mkldnn: boolean;
  devices: string[];
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
  const blasLib = libs.find((l) => /openblas|libblas|mkl_rt|libblis/.test(l)) ?? null;
  const devices = ['cpu', ...Array.from({ length: n.cudaDevices }, (_, i) => `cuda:${i}`)];
  return {
    loom: pkg.version,
    node: process.version,
    addon: addonPath,
    libtorch: { version: n.torchVersion, library: torchLib, cxx11Abi: n.cxx11Abi },
    threads: n.threads,
    blas: blasLib,
    openmp: n.openmp,
    mkldnn: n.mkldnn,
    devices,
  };
}

export function formatInfo(i: LoomInfo): string {
  return [
    `loom      ${i.loom} (node ${i.node}, addon ${i.addon})`,
    `libtorch  ${i.libtorch.version}  ${i.libtorch.library ?? '(library path unknown)'}`,
    `threads   ${i.threads}${i.openmp ? ' (OpenMP)' : ''}`,
    `blas      ${i.blas ?? 'none mapped (reference BLAS or statically linked)'}`,
    `oneDNN    ${i.mkldnn ? 'yes' : 'no'}`,
    `devices   ${i.devices.join(', ')}`,
  ].join('\n');
}
