// Shared benchmark helpers.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The Python with PyTorch: $LOOM_PYTHON, else Debian's. */
export function python(): string {
  const p = process.env.LOOM_PYTHON ?? '/usr/bin/python3';
  if (!existsSync(p)) throw new Error(`no Python at ${p}; install python3-torch or set LOOM_PYTHON`);
  return p;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export function printTable(head: string[], rows: string[][]): void {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  console.log(line(head));
  console.log(w.map((n) => '-'.repeat(n)).join('  '));
  for (const r of rows) console.log(line(r));
}

/** One benchmark's unit of work, built once and stepped many times (bench/paired.ts). */
export interface Workload {
  step: () => void;
  dispose: () => void;
}

/** Median milliseconds of a workload's step, then disposes it. */
export function workloadMs(w: Workload, runs: number, warmup = 3): number {
  const ms = medianMs(w.step, runs, warmup);
  w.dispose();
  return ms;
}

/** Median milliseconds of `runs` calls of fn, after `warmup` calls. */
export function medianMs(fn: () => void, runs: number, warmup = 3): number {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  return median(times);
}
