// Trains a conditional DCGAN on MNIST for a few steps through Loom's public API, then draws
// a grid of one digit and one of every class in turn.
// Run after `npm run build`: node dist/examples/gan.js [folder] [data: builtin:mnist or a folder of images]
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gan, imageGrid, writeImage } from '../src/index.js';

const work = process.argv[2] ?? mkdtempSync(path.join(tmpdir(), 'loom-gan-'));
mkdirSync(work, { recursive: true });
const data = process.argv[3] ?? 'builtin:mnist';

// 30 steps on 1,024 digits: the digits stay blurry; `loom gan train --minutes 10` draws them.
const run = await gan.train(
  { data, limit: 1024, steps: 30, sampleEvery: 30, logEvery: 10, out: path.join(work, 'run') },
  {
    onProgress: (p) =>
      p.type === 'step' &&
      console.log(`step ${p.step.step}: D ${p.step.d_loss.toFixed(3)}, G ${p.step.a_loss.toFixed(3)}`),
  },
);
console.log(`trained ${run.steps} steps`);

using g = await gan.load(run.dir);
console.log(`classes: ${g.classes.join(' ')}`);
// A conditional run draws the class asked for; a run on unlabelled images draws what it learned.
const sheets: [string, string | undefined][] = g.classes.length
  ? [
      ['sevens', '7'],
      ['all', undefined],
    ]
  : [['all', undefined]];
for (const [name, label] of sheets) {
  const images = g.sample(16, { seed: 1, label });
  const sheet = imageGrid(images);
  await writeImage(path.join(work, `${name}.png`), sheet);
  images.dispose();
  sheet.dispose();
}
console.log(`wrote ${sheets.map(([n]) => `${n}.png`).join(' and ')} in ${work}`);
