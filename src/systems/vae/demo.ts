// The VAE's part of `loom demo`: the book's VAE on MNIST, its latent plane and samples.
import { copyFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import * as T from '../../torch/index.js';
import { writeOwned } from '../../io/images.js';
import { VAE_DEFAULTS, VAE_OPTIONS, latentGrid, loadVae, sampleGrid, trainVae } from '../../models/vae/index.js';
import { describeSettings } from '../../models/options.js';
import { noteOnStderr } from '../../cli/common.js';
import type { DemoContext, DemoEntry } from '../demo.js';

export async function vaeDemo(ctx: DemoContext, minutes: number): Promise<DemoEntry> {
  const { seed, say } = ctx;
  say(`vae: training the book's VAE (latent 2) on builtin:mnist for ${minutes.toFixed(1)} minutes`);
  const t0 = Date.now();
  const vaeRun = path.join(ctx.runs, 'vae');
  // In a 2-minute share batch 32 at 1.5e-3 beat the 10-minute defaults (batch 16, 1e-3) by
  // about 2.5 nats (docs/benchmarks.md); both with the anneal recipe's warm-up and final decay.
  const vaeCfg = { ...VAE_DEFAULTS, batch: 32, lr: 1.5e-3, minutes, seed, logEvery: 500 };
  const vr = await trainVae(vaeCfg, vaeRun, {}, { shouldStop: ctx.stop, onNote: noteOnStderr });
  const vae = loadVae(vaeRun);
  T.manualSeed(seed);
  await writeOwned(path.join(ctx.out, 'vae-grid.png'), latentGrid(vae.model, 15));
  await writeOwned(path.join(ctx.out, 'vae-samples.png'), sampleGrid(vae.model, 64));
  vae.model.dispose();
  const images = ['vae-grid.png', 'vae-samples.png'];
  if (existsSync(path.join(vaeRun, 'curves.png'))) {
    copyFileSync(path.join(vaeRun, 'curves.png'), path.join(ctx.out, 'vae-curves.png'));
    images.push('vae-curves.png');
  }
  return {
    system: 'vae',
    title: 'Variational autoencoder on MNIST: the 2-D latent plane',
    settings: `the book's convolutional VAE with RMSprop: ${describeSettings(VAE_OPTIONS, vaeCfg, ['latent', 'batch', 'lr', 'recipe'])}; ${vr.steps} steps (${vr.epochs.toFixed(2)} epochs)`,
    seconds: (Date.now() - t0) / 1000,
    images,
    texts: [],
    note: `test -ELBO ${vr.test.elbo.toFixed(1)} nats; left: decoded points at Gaussian quantiles, right: samples from the prior`,
  };
}
