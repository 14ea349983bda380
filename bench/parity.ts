// Every speed workload, Loom beside PyTorch, measured in turns (bench/paired.ts): one table
// per machine, headed by the CPU's vector extensions so tables from different machines are
// told apart. Usage: npm run bench -- parity [--rounds N] [--only a,b] [--variants] [--precision bf16]
// --variants adds Loom with each of Debian's OpenBLAS builds (pthread, OpenMP) and OpenMP
// waiting policies, to measure the thread-pool set-up rather than assume it. --precision bf16
// runs every side's steps under CPU autocast (Loom's T.autocast, PyTorch's torch.autocast).
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ompWaitPolicySetByLoom } from '../src/torch/native.js';
import { runPaired, StepWorker, type PairedResult } from './paired.js';
import { dreamStepWorkload } from './dream.js';
import { ganStepWorkload } from './gan.js';
import { gatysWorkload, styleApplyWorkload } from './style.js';
import { textStepWorkload } from './text.js';
import { gptStepWorkload } from './gpt.js';
import { TEXT_MODELS } from '../src/models/text/index.js';
import { vaeStepWorkload } from './vae.js';
import { printTable, python, repoRoot, type Workload } from './util.js';

interface ParityWorkload {
  title: string;
  /** The configuration both sides read (the PyTorch scripts' JSON; threads added). */
  cfg: Record<string, number>;
  loom: (cfg: Record<string, number>, precision: 'fp32' | 'bf16') => Workload;
  /** The PyTorch script module and its step function. */
  torch: [string, string];
  rounds: number;
  /**
   * Under bf16 the step enters autocast itself, around each update's forward passes, rather
   * than running whole inside one region (its PyTorch script sets AUTOCAST_INSIDE likewise).
   */
  autocastInside?: boolean;
}

export const PARITY_WORKLOADS: Record<string, ParityWorkload> = {
  text: {
    title: 'char LSTM training step (keras recipe, batch 128)',
    cfg: { vocab: 57, units: 128, maxlen: 60, batch: 128, steps: 1, gen_chars: 1 },
    loom: (c) => textStepWorkload({ vocab: c.vocab, units: c.units, maxlen: c.maxlen, batch: c.batch }),
    torch: ['torch_text_bench', 'train_step'],
    rounds: 40,
  },
  vae: {
    title: 'VAE training step (keras recipe, batch 128)',
    cfg: { batch: 128 },
    loom: (c) => vaeStepWorkload(c.batch),
    torch: ['torch_vae_bench', 'step'],
    rounds: 40,
  },
  gpt: {
    title: 'char transformer training step (the defaults)',
    cfg: {
      vocab: 65,
      embed: TEXT_MODELS.gpt.embed,
      heads: TEXT_MODELS.gpt.heads,
      layers: TEXT_MODELS.gpt.layers,
      block: TEXT_MODELS.gpt.block,
      batch: TEXT_MODELS.gpt.batch,
      steps: 1,
      gen_chars: 1,
    },
    loom: (c) =>
      gptStepWorkload({
        vocab: c.vocab,
        embed: c.embed,
        heads: c.heads,
        layers: c.layers,
        block: c.block,
        batch: c.batch,
      }),
    torch: ['torch_gpt_bench', 'train_step'],
    rounds: 20,
  },
  apply: {
    title: 'fast style apply, 512x512',
    cfg: { height: 64, width: 64, evals: 1, applies: 1 },
    loom: () => styleApplyWorkload(),
    torch: ['torch_style_bench', 'apply'],
    rounds: 20,
  },
  dream: {
    title: 'DeepDream step, InceptionV3 400x600',
    cfg: { height: 400, width: 600, steps: 1, warmup: 0 },
    loom: (c) => dreamStepWorkload({ height: c.height, width: c.width }),
    torch: ['torch_dream_bench', 'step'],
    rounds: 20,
  },
  gatys: {
    title: 'Gatys loss + gradient, VGG19 400x600',
    cfg: { height: 400, width: 600, evals: 1, applies: 1 },
    loom: (c) => gatysWorkload({ height: c.height, width: c.width }),
    torch: ['torch_style_bench', 'evaluate'],
    rounds: 8,
  },
  gan: {
    title: 'GAN training step (keras recipe, batch 20)',
    cfg: { latent: 32, batch: 20, steps: 1 },
    loom: (c, precision) => ganStepWorkload({ latent: c.latent, batch: c.batch }, precision),
    torch: ['torch_gan_bench', 'step'],
    rounds: 6,
    // As GanTrainer runs under --precision bf16. One region around the whole step would not
    // train the generator on libtorch 1.13: autocast caches the weights' bf16 copies cast in
    // the no-grad pass that makes the discriminator's fakes, and the generator update reuses
    // those copies, which lead back to no parameter.
    autocastInside: true,
  },
};

/** The CPU's model and the vector extensions that decide which kernels run. */
export function cpuLine(): string {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(info)?.[1] ?? '').split(' '));
  const vector = ['avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_tile'].filter((f) => flags.has(f));
  return `${os.cpus()[0].model}, ${os.availableParallelism()} threads, ${vector.join(' ') || 'no AVX2'}`;
}

const BLAS_DIRS = {
  pthread: '/usr/lib/x86_64-linux-gnu/openblas-pthread',
  openmp: '/usr/lib/x86_64-linux-gnu/openblas-openmp',
};

/** Sides to compare: Loom as installed, PyTorch as it runs by default and with passive waiting. */
function sides(
  variants: boolean,
  precision: 'fp32' | 'bf16',
): { name: string; torch: boolean; env: NodeJS.ProcessEnv }[] {
  const base: NodeJS.ProcessEnv = { ...process.env, LOOM_BENCH_PRECISION: precision };
  if (ompWaitPolicySetByLoom) delete base.OMP_WAIT_POLICY; // Loom's child sets its own
  const out = [
    { name: 'Loom', torch: false, env: base },
    { name: 'PyTorch', torch: true, env: base },
    { name: 'PyTorch, passive', torch: true, env: { ...base, OMP_WAIT_POLICY: 'PASSIVE' } },
  ];
  if (variants) {
    for (const [blas, dir] of Object.entries(BLAS_DIRS)) {
      if (!existsSync(dir)) continue;
      const env = { ...base, LD_LIBRARY_PATH: dir };
      out.push({ name: `Loom, ${blas} BLAS, passive`, torch: false, env: { ...env, OMP_WAIT_POLICY: 'PASSIVE' } });
      // 300,000 is libgomp's spin count when OMP_WAIT_POLICY is unset (PyTorch's default).
      out.push({ name: `Loom, ${blas} BLAS, spin`, torch: false, env: { ...env, GOMP_SPINCOUNT: '300000' } });
    }
  }
  return out;
}

export async function parityBench(opts: {
  rounds: number | null;
  only: string[] | null;
  variants: boolean;
  precision: 'fp32' | 'bf16';
}) {
  const threads = os.availableParallelism();
  const cpu = cpuLine();
  console.log(`${new Date().toISOString().slice(0, 10)}, ${cpu}, ${opts.precision}`);
  const rows: string[][] = [];
  const all: Record<string, PairedResult[]> = {};
  for (const [key, w] of Object.entries(PARITY_WORKLOADS)) {
    if (opts.only && !opts.only.includes(key)) continue;
    const cfg = JSON.stringify({ ...w.cfg, threads });
    const workers: StepWorker[] = [];
    try {
      for (const s of sides(opts.variants, opts.precision)) {
        const [command, args] = s.torch
          ? [python(), [path.join(repoRoot, 'bench', 'torch_paired_worker.py'), ...w.torch, cfg]]
          : [process.execPath, [path.join(repoRoot, 'dist', 'bench', 'paired-worker.js'), key, cfg]];
        workers.push(await StepWorker.start(s.name, command, args, s.env));
      }
      // Ratios against PyTorch as it runs by default.
      const results = await runPaired(workers, opts.rounds ?? w.rounds, 1);
      all[key] = results;
      for (const r of results) {
        const row = [
          r.name === 'Loom' ? w.title : '',
          r.name,
          r.ms.toFixed(1),
          `${r.ratio.toFixed(2)} (${r.low.toFixed(2)}–${r.high.toFixed(2)})`,
        ];
        rows.push(row);
        console.log(row.join('  '));
      }
    } finally {
      for (const wk of workers) wk.close();
    }
  }
  printTable(['workload', 'side', 'median ms', 'time / PyTorch (IQR)'], rows);
  console.log(JSON.stringify({ date: new Date().toISOString(), cpu, precision: opts.precision, results: all }));
}
