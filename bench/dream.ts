// Dream benchmark, Loom beside PyTorch in one run: one DeepDream gradient step (the book's four
// layers) on InceptionV3 at 400x600; and the peak memory of a tiled step on a 4000x3000 image.
// Usage: npm run bench -- dream [--quick]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import { Rng } from '../src/util/random.js';
import { DREAM_DEFAULTS, dreamStep } from '../src/models/dream/index.js';
import { ompWaitPolicySetByLoom } from '../src/torch/native.js';
import { InceptionV3 } from '../src/vision/inception.js';
import type { Backbone } from '../src/vision/weights.js';
import { printTable, python, repoRoot, workloadMs, type Workload } from './util.js';

function randomInception(): Backbone {
  T.manualSeed(0);
  const net = new InceptionV3({ poolIncludesPadding: false }).freeze();
  return {
    net,
    info: { arch: 'inception', head: 'none', pool: 'keras', preprocess: 'inception', source: 'random', width: 1 },
    file: '',
  };
}

/** Peak resident memory (VmHWM) in MB of this process. */
function peakMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Runs in a child process so its peak memory is its own: one tiled step on 4000x3000. */
export function dreamMemory(): void {
  const b = randomInception();
  const img = T.keep(T.rand([1, 3, 3000, 4000]).mul(2).sub(1));
  const before = peakMb();
  const t = performance.now();
  dreamStep(b, img, { ...DREAM_DEFAULTS, tile: 512, maxLoss: null }, new Rng(0));
  console.log(JSON.stringify({ ms: performance.now() - t, peak_mb: peakMb(), before_mb: before }));
}

/** One DeepDream gradient step at the given size, untiled or in tiles; torch_dream_bench.py's step. */
export function dreamStepWorkload(c: { height: number; width: number }, tile = 0): Workload {
  const b = randomInception();
  const img = T.keep(T.rand([1, 3, c.height, c.width]).mul(2).sub(1));
  const rng = new Rng(0);
  return {
    step: () => void dreamStep(b, img, { ...DREAM_DEFAULTS, jitter: 0, tile, maxLoss: null }, rng),
    dispose: () => {
      img.dispose();
      b.net.dispose();
    },
  };
}

export async function dreamBench(quick: boolean): Promise<void> {
  const threads = os.availableParallelism();
  const cfg = { height: 400, width: 600, steps: quick ? 2 : 5, warmup: 1, threads };
  const env = { ...process.env };
  if (ompWaitPolicySetByLoom) delete env.OMP_WAIT_POLICY;
  const run = (e: NodeJS.ProcessEnv) =>
    JSON.parse(
      execFileSync(python(), [path.join(repoRoot, 'bench', 'torch_dream_bench.py'), JSON.stringify(cfg)], {
        encoding: 'utf8',
        env: e,
      }),
    ).ms_per_step as number;
  const torchDefault = run(env);
  const torchPassive = run({ ...process.env, OMP_WAIT_POLICY: 'PASSIVE' });
  T.setNumThreads(threads);
  const loom = workloadMs(dreamStepWorkload(cfg, 0), cfg.steps, 1);
  const loomTiled = workloadMs(dreamStepWorkload(cfg, 512), cfg.steps, 1);
  const mem = JSON.parse(
    execFileSync(process.execPath, [path.join(repoRoot, 'dist', 'bench', 'run.js'), 'dream-memory'], {
      encoding: 'utf8',
    }),
  );
  printTable(
    [
      'dream benchmark (InceptionV3, 400x600, mixed2..5)',
      'Loom',
      'PyTorch',
      'PyTorch, passive',
      'time ratio Loom/PyTorch',
    ],
    [
      [
        'gradient step, ms',
        loom.toFixed(0),
        torchDefault.toFixed(0),
        torchPassive.toFixed(0),
        (loom / torchDefault).toFixed(2),
      ],
      ['gradient step in 512-px tiles, ms', loomTiled.toFixed(0), '', '', ''],
      [
        '4000x3000 step in 512-px tiles: s / peak MB',
        `${(mem.ms / 1000).toFixed(1)} / ${mem.peak_mb.toFixed(0)}`,
        '',
        '',
        '',
      ],
    ],
  );
  console.log(
    JSON.stringify({
      date: new Date().toISOString(),
      machine: `${os.cpus()[0].model}, ${threads} cores`,
      threads,
      loom,
      loomTiled,
      pytorch: torchDefault,
      pytorchPassive: torchPassive,
      big: mem,
    }),
  );
}
