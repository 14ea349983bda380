// GAN benchmark, Loom beside PyTorch in one run: one training step of the book's Keras
// recipe's networks (32x32x3, latent 32) at batch 20. Usage: npm run bench -- gan [--quick]
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import { GAN_DEFAULTS, GAN_RECIPES, GanTrainer } from '../src/models/gan/index.js';
import { ompWaitPolicySetByLoom } from '../src/torch/native.js';
import { printTable, python, repoRoot, workloadMs, type Workload } from './util.js';

/**
 * One training step of the keras recipe's networks (32x32x3); torch_gan_bench.py's step. In
 * bf16 each update's forward passes run under autocast, as `--precision bf16` runs them.
 */
export function ganStepWorkload(c: { latent: number; batch: number }, precision: 'fp32' | 'bf16' = 'fp32'): Workload {
  T.manualSeed(0);
  const t = new GanTrainer(
    { ...GAN_DEFAULTS, recipe: 'keras', batch: c.batch },
    { latent: c.latent, channels: 3, height: 32, width: 32, dropout: 0.4, gFilters: 256, dFilters: 128 },
    precision === 'bf16' ? (fn) => T.autocast('bfloat16', fn) : undefined,
  );
  const real = T.keep(T.rand([c.batch, 3, 32, 32]).mul(2).sub(1));
  return {
    step: () => void t.step(real),
    dispose: () => {
      real.dispose();
      t.dispose();
    },
  };
}

/** One training step of the demo's GAN: the dcgan recipe on MNIST's shape, conditioned on 10 classes. */
export function dcganStepWorkload(): Workload {
  T.manualSeed(0);
  const r = GAN_RECIPES.dcgan;
  const classNames = Array.from({ length: 10 }, (_, i) => String(i));
  const t = new GanTrainer(
    { ...GAN_DEFAULTS, recipe: 'dcgan' },
    {
      latent: GAN_DEFAULTS.latent,
      channels: 1,
      height: 28,
      width: 28,
      dropout: 0,
      gFilters: r.gFilters,
      dFilters: r.dFilters,
      classNames,
    },
  );
  const real = T.keep(T.rand([r.batch, 1, 28, 28]).mul(2).sub(1));
  const labels = T.keep(T.randint(0, 10, [r.batch], 'int64'));
  return {
    step: () => void t.step(real, labels),
    dispose: () => {
      real.dispose();
      labels.dispose();
      t.dispose();
    },
  };
}

export async function ganBench(quick: boolean): Promise<void> {
  const threads = os.availableParallelism();
  const cfg = { latent: 32, batch: 20, steps: quick ? 2 : 5, threads };
  const env = { ...process.env };
  if (ompWaitPolicySetByLoom) delete env.OMP_WAIT_POLICY;
  const run = (e: NodeJS.ProcessEnv) =>
    JSON.parse(
      execFileSync(python(), [path.join(repoRoot, 'bench', 'torch_gan_bench.py'), JSON.stringify(cfg)], {
        encoding: 'utf8',
        env: e,
      }),
    ).ms_per_step as number;
  const torchDefault = run(env);
  const torchPassive = run({ ...process.env, OMP_WAIT_POLICY: 'PASSIVE' });
  T.setNumThreads(threads);
  const loom = workloadMs(ganStepWorkload(cfg), cfg.steps, 1);
  printTable(
    ['gan benchmark (keras recipe, batch 20)', 'Loom', 'PyTorch', 'PyTorch, passive', 'time ratio Loom/PyTorch'],
    [
      [
        'train step, ms',
        loom.toFixed(0),
        torchDefault.toFixed(0),
        torchPassive.toFixed(0),
        (loom / torchDefault).toFixed(2),
      ],
    ],
  );
  console.log(
    JSON.stringify({
      date: new Date().toISOString(),
      machine: `${os.cpus()[0].model}, ${threads} cores`,
      threads,
      loom,
      pytorch: torchDefault,
      pytorchPassive: torchPassive,
    }),
  );
}
