// One side of a paired benchmark (bench/paired.ts): builds a parity workload, warms it up,
// says "ready", then runs one step per line read and prints its milliseconds.
// Usage: node dist/bench/paired-worker.js <workload> '<json config>'
import { createInterface } from 'node:readline';
import * as T from '../src/torch/index.js';
import { PARITY_WORKLOADS } from './parity.js';

const [key, cfgJson] = process.argv.slice(2);
const cfg = JSON.parse(cfgJson) as Record<string, number>;
T.setNumThreads(cfg.threads);
const w = PARITY_WORKLOADS[key].loom(cfg);
w.step();
console.log('ready');
for await (const _ of createInterface({ input: process.stdin })) {
  const t = performance.now();
  w.step();
  console.log(performance.now() - t);
}
w.dispose();
