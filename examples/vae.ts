// Trains a VAE on a few hundred MNIST digits through Loom's public API, then draws its 2-D
// latent plane, samples from the prior and walks between two test digits.
// Run after `npm run build`: node dist/examples/vae.js [folder] [data: builtin:mnist or a folder of images]
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { vae, writeImage } from '../src/index.js';

const work = process.argv[2] ?? mkdtempSync(path.join(tmpdir(), 'loom-vae-'));
mkdirSync(work, { recursive: true });
const data = process.argv[3] ?? 'builtin:mnist';

// One epoch over 512 digits: seconds. `loom vae train` defaults to all 60,000 and 10 epochs.
const run = await vae.train(
  { data, limit: 512, epochs: 1, batch: 16, latent: 2, out: path.join(work, 'run') },
  {
    onProgress: (p) =>
      p.type === 'epoch' && console.log(`epoch ${p.epoch.epoch}: test -ELBO ${p.epoch.test_elbo_nats.toFixed(1)} nats`),
  },
);
console.log(`trained ${run.steps} steps; test -ELBO ${run.test.elbo.toFixed(1)} nats`);

using model = await vae.load(run.dir);
const grid = model.grid(9); // a 9x9 grid of decoded points over the two latent dimensions
await writeImage(path.join(work, 'grid.png'), grid);
grid.dispose();
const samples = model.sample(16, { seed: 1 });
await writeImage(path.join(work, 'samples.png'), samples);
samples.dispose();
console.log(`wrote grid.png and samples.png in ${work}`);
