// Mixed precision, Loom beside PyTorch in one run: the transformer's training step in float32
// and under bf16 autocast, at a compute-bound shape (4 blocks, embedding 256, context 128,
// batch 32) and at the text defaults. Quality at equal steps: ./precision-quality.ts.
// Usage: npm run bench -- precision [--quick] [--threads N]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import { TEXT_MODELS } from '../src/models/text/index.js';
import { ompWaitPolicySetByLoom } from '../src/torch/native.js';
import { gptStepWorkload } from './gpt.js';
import { printTable, python, repoRoot, workloadMs } from './util.js';

interface Shape {
  name: string;
  embed: number;
  heads: number;
  layers: number;
  block: number;
  batch: number;
}

const SHAPES: Shape[] = [
  { name: '4 blocks, embed 256, context 128, batch 32', embed: 256, heads: 4, layers: 4, block: 128, batch: 32 },
  { name: 'the text defaults', ...TEXT_MODELS.gpt },
];

export async function precisionBench(opts: { quick: boolean; threads: number }): Promise<void> {
  const flags = readFileSync('/proc/cpuinfo', 'utf8').match(/\b(avx512_bf16|amx_bf16|amx_tile|avx512f)\b/g) ?? [];
  console.log(
    `${os.cpus()[0].model}; bf16 flags: ${[...new Set(flags)].join(' ') || 'none'}; ${opts.threads} thread(s); libtorch ${T.cudaAvailable() ? '(CUDA) ' : ''}${(await import('../src/torch/native.js')).native.info().torchVersion}; load ${os.loadavg()[0].toFixed(1)}`,
  );
  if (!T.bf16Supported())
    console.log('this CPU has no bf16 units: bf16 here is emulated, and --precision auto stays fp32');
  const env = { ...process.env };
  if (ompWaitPolicySetByLoom) delete env.OMP_WAIT_POLICY;
  const steps = opts.quick ? 3 : 8;
  const rounds = opts.quick ? 1 : 2;
  T.setNumThreads(opts.threads);
  const results = [];
  for (const s of SHAPES) {
    const cfg = { vocab: 65, ...s, steps, threads: opts.threads };
    const loom32: number[] = [];
    const loom16: number[] = [];
    const torch32: number[] = [];
    const torch16: number[] = [];
    // Alternating rounds, so that a change in the machine's load falls on every side.
    for (let r = 0; r < rounds; r++) {
      loom32.push(workloadMs(gptStepWorkload(cfg), steps));
      loom16.push(workloadMs(gptStepWorkload(cfg, true), steps));
      const p = JSON.parse(
        execFileSync(python(), [path.join(repoRoot, 'bench', 'torch_precision_bench.py'), JSON.stringify(cfg)], {
          encoding: 'utf8',
          env,
        }),
      ) as { fp32_ms: number; bf16_ms: number };
      torch32.push(p.fp32_ms);
      torch16.push(p.bf16_ms);
    }
    const [l32, l16, t32, t16] = [loom32, loom16, torch32, torch16].map((xs) => Math.min(...xs));
    printTable(
      [`transformer step: ${s.name}`, 'fp32 ms', 'bf16 ms', 'bf16 speed-up'],
      [
        ['Loom', l32.toFixed(1), l16.toFixed(1), `${(l32 / l16).toFixed(2)}x`],
        ['PyTorch (autocast)', t32.toFixed(1), t16.toFixed(1), `${(t32 / t16).toFixed(2)}x`],
        ['Loom / PyTorch time', (l32 / t32).toFixed(2), (l16 / t16).toFixed(2), ''],
      ],
    );
    results.push({ shape: s.name, loom: { fp32_ms: l32, bf16_ms: l16 }, pytorch: { fp32_ms: t32, bf16_ms: t16 } });
  }
  console.log(JSON.stringify({ date: new Date().toISOString(), threads: opts.threads, results }));
}
