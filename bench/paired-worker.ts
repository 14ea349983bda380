// One side of a paired benchmark (bench/paired.ts): builds a parity workload, warms it up,
// says "ready", then runs one step per line read and prints its milliseconds.
// Usage: node dist/bench/paired-worker.js <workload> '<json config>'
// With LOOM_BENCH_PRECISION=bf16 each step runs under CPU autocast, as the PyTorch worker's does
// (workloads marked autocastInside enter it themselves).
import { createInterface } from 'node:readline';
import * as T from '../src/torch/index.js';
import { PARITY_WORKLOADS } from './parity.js';

const [key, cfgJson] = process.argv.slice(2);
const cfg = JSON.parse(cfgJson) as Record<string, number>;
T.setNumThreads(cfg.threads);
const precision = process.env.LOOM_BENCH_PRECISION === 'bf16' ? 'bf16' : 'fp32';
const w = PARITY_WORKLOADS[key].loom(cfg, precision);
const step =
  precision === 'bf16' && !PARITY_WORKLOADS[key].autocastInside
    ? () => T.autocast('bfloat16', () => w.step())
    : () => w.step();
step();
console.log('ready');
for await (const _ of createInterface({ input: process.stdin })) {
  const t = performance.now();
  step();
  console.log(performance.now() - t);
}
w.dispose();
