// `npm run bench -- gan-recipes [--minutes M]`: each GAN recipe trained on MNIST for the same
// wall-clock budget (default 2 minutes: the demo's share), one after another, then judged by
// the MNIST classifier that the trainer's monitor uses (98.96% on the test set): the share of
// 1,000 samples it reads with probability >= 0.9, the classes among them, and the Fréchet
// distance of its features. The judge is trained before the clocks start.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  GAN_DEFAULTS,
  builtinJudge,
  conditionedClasses,
  trainGan,
  withRecipe,
  type GanSampleLog,
  type GanTrainConfig,
} from '../src/models/gan/index.js';
import { printTable } from './util.js';

/** The recipes compared, as the settings that differ from the defaults. */
export const GAN_RECIPE_RUNS: [string, Partial<GanTrainConfig>][] = [
  ["the keras recipe's networks, narrowed to 64 (the old demo)", { recipe: 'keras', gFilters: 64, dFilters: 64 }],
  ['dcgan, without labels (--no-conditional)', { recipe: 'dcgan', conditional: false }],
  ['sngan, without labels', { recipe: 'sngan', conditional: false }],
  ['clustered, without labels (the default there)', { recipe: 'clustered', conditional: false }],
  ['dcgan, conditional (the defaults)', { recipe: 'dcgan' }],
];

export async function ganRecipesBench(minutes: number): Promise<void> {
  (await builtinJudge('builtin:mnist'))?.net.dispose();
  const dir = mkdtempSync(path.join(tmpdir(), 'loom-gan-recipes-'));
  const rows: string[][] = [];
  try {
    for (const [name, over] of GAN_RECIPE_RUNS) {
      const cfg = { ...GAN_DEFAULTS, ...over, steps: 100_000_000, minutes, sampleEvery: 100_000_000, seed: 1 };
      let last: GanSampleLog | null = null;
      const r = await trainGan(cfg, path.join(dir, String(rows.length)), {}, { onSample: (l) => (last = l) });
      const l = last as GanSampleLog | null;
      const c = withRecipe(cfg);
      rows.push([
        name,
        `${c.gFilters}/${c.dFilters}, batch ${c.batch}, ${c.dLr}/${c.gLr}, ema ${c.ema}${conditionedClasses(c) ? ', labels' : ''}`,
        String(r.steps),
        l?.confident == null ? '-' : `${(l.confident * 100).toFixed(1)}%`,
        String(l?.classes ?? '-'),
        l?.fd == null ? '-' : l.fd.toFixed(1),
      ]);
      console.log(`  ${rows.at(-1)!.join(' | ')}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  printTable(
    [
      `recipe (${minutes} min on MNIST, ${new Date().toISOString().slice(0, 10)})`,
      'widths G/D, batch, lr D/G, ema',
      'steps',
      'judge reads (p >= 0.9)',
      'classes',
      'Fréchet distance',
    ],
    rows,
  );
}
