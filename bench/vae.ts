// VAE benchmark, Loom beside PyTorch in one run: training images per second of the book's Keras
// VAE (28x28x1, latent 2, RMSprop) at batch 16 and 128. Usage: npm run bench -- vae [--quick]
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import { RMSprop } from '../src/optim/index.js';
import { VAE, elboTerms } from '../src/models/vae/index.js';
import { ompWaitPolicySetByLoom } from '../src/torch/native.js';
import { printTable, python, repoRoot, type Workload } from './util.js';

export async function vaeBench(quick: boolean): Promise<void> {
  const threads = os.availableParallelism();
  const cfg = { batches: [16, 128], images: quick ? 512 : 3072, threads };
  const env = { ...process.env };
  if (ompWaitPolicySetByLoom) delete env.OMP_WAIT_POLICY;
  const rounds = quick ? 1 : 2;
  const best: Record<string, { loom: number; torch: number; torchPassive: number }> = {};
  const runTorch = (e: NodeJS.ProcessEnv) =>
    JSON.parse(
      execFileSync(python(), [path.join(repoRoot, 'bench', 'torch_vae_bench.py'), JSON.stringify(cfg)], {
        encoding: 'utf8',
        env: e,
      }),
    );
  for (let r = 0; r < rounds; r++) {
    const pt = runTorch(env);
    const pp = runTorch({ ...process.env, OMP_WAIT_POLICY: 'PASSIVE' });
    T.setNumThreads(threads);
    for (const b of cfg.batches) {
      const l = loomImagesPerSec(b, cfg.images);
      const cur = best[b] ?? { loom: 0, torch: 0, torchPassive: 0 };
      best[b] = {
        loom: Math.max(cur.loom, l),
        torch: Math.max(cur.torch, pt[String(b)]),
        torchPassive: Math.max(cur.torchPassive, pp[String(b)]),
      };
    }
  }
  printTable(
    ['vae benchmark (keras recipe)', 'Loom', 'PyTorch', 'PyTorch, passive', 'time ratio Loom/PyTorch'],
    cfg.batches.map((b) => [
      `train, images/s, batch ${b}`,
      best[b].loom.toFixed(0),
      best[b].torch.toFixed(0),
      best[b].torchPassive.toFixed(0),
      (best[b].torch / best[b].loom).toFixed(2),
    ]),
  );
  console.log(
    JSON.stringify({
      date: new Date().toISOString(),
      machine: `${os.cpus()[0].model}, ${threads} cores`,
      threads,
      rounds,
      results: best,
    }),
  );
}

/** One training step of the keras recipe's VAE (latent 2) at the given batch; torch_vae_bench.py's step. */
export function vaeStepWorkload(batch: number): Workload {
  T.manualSeed(0);
  const m = new VAE({ channels: 1, height: 28, width: 28, latent: 2 });
  const opt = new RMSprop(m.parameters(), { lr: 1e-3 });
  const x = T.keep(T.rand([batch, 1, 28, 28]));
  return {
    step: () =>
      T.tidy(() => {
        const { rec, kl } = elboTerms(m, x);
        const loss = rec.add(kl).mean();
        opt.zeroGrad();
        loss.backward();
        opt.step();
      }),
    dispose: () => {
      x.dispose();
      m.dispose();
      opt.dispose();
    },
  };
}

function loomImagesPerSec(batch: number, images: number): number {
  const w = vaeStepWorkload(batch);
  for (let i = 0; i < 3; i++) w.step();
  const n = Math.max(3, Math.floor(images / batch));
  const t = performance.now();
  for (let i = 0; i < n; i++) w.step();
  const ips = (n * batch * 1000) / (performance.now() - t);
  w.dispose();
  return ips;
}
