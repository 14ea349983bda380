// The GAN's part of `loom demo`: a conditional DCGAN on MNIST, its digits and the judge's reading.
import { copyFileSync, existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import {
  FD_SAMPLES,
  GAN_DEFAULTS,
  GAN_OPTIONS,
  builtinJudge,
  trainGan,
  withRecipe,
  type GanSampleLog,
} from '../../models/gan/index.js';
import { describeSettings } from '../../models/options.js';
import { noteOnStderr } from '../../cli/common.js';
import type { DemoContext, DemoEntry } from '../demo.js';

export async function ganDemo(ctx: DemoContext, minutes: number): Promise<DemoEntry | null> {
  const { seed, say } = ctx;
  // The judge that scores the GAN's digits is trained once per machine, outside the GAN's share.
  (
    await builtinJudge('builtin:mnist', {
      onTrain: () => say('gan: training the digit judge once (about half a minute)'),
      shouldStop: ctx.stop,
    })
  )?.net.dispose();
  // Stopped while the judge trained: the GAN has not started, so it is left out.
  if (ctx.stop()) return null;
  say(`gan: training a DCGAN on builtin:mnist for ${minutes.toFixed(1)} minutes`);
  const t0 = Date.now();
  const ganRun = path.join(ctx.runs, 'gan');
  const ganCfg = { ...GAN_DEFAULTS, steps: 1_000_000, minutes, sampleEvery: 200, seed };
  let judged: GanSampleLog | null = null;
  const gr = await trainGan(
    ganCfg,
    ganRun,
    {},
    {
      shouldStop: ctx.stop,
      onNote: noteOnStderr,
      onSample: (l) => (judged = l),
    },
  );
  const last = readdirSync(path.join(ganRun, 'samples'))
    .filter((f) => f.startsWith('step-'))
    .sort()
    .pop()!;
  copyFileSync(path.join(ganRun, 'samples', last), path.join(ctx.out, 'gan-samples.png'));
  const images = ['gan-samples.png'];
  if (existsSync(path.join(ganRun, 'losses.png'))) {
    copyFileSync(path.join(ganRun, 'losses.png'), path.join(ctx.out, 'gan-losses.png'));
    images.push('gan-losses.png');
  }
  const score = judged as GanSampleLog | null;
  return {
    system: 'gan',
    title: 'Conditional DCGAN on MNIST: 8 fixed latent points (rows) drawn as each digit (columns)',
    settings: `${describeSettings(GAN_OPTIONS, withRecipe(ganCfg), ['recipe', 'conditional', 'gFilters', 'dFilters', 'batch', 'dLr', 'gLr', 'ema'])}; ${gr.steps} steps`,
    seconds: (Date.now() - t0) / 1000,
    images,
    texts: [],
    note:
      (score?.confident != null
        ? `an MNIST classifier (${((score.judge_accuracy ?? 0) * 100).toFixed(1)}% on the test set) reads ${(score.confident * 100).toFixed(0)}% of ${FD_SAMPLES.toLocaleString('en-US')} samples with confidence 0.9 or more, ${score.classes} digit classes among them; Fréchet distance of its features ${score.fd?.toFixed(1)}. `
        : '') + 'right: both losses per logged step, raw (faint) and smoothed',
  };
}
