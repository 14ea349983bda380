// The GAN's training as the CLI and the library both run it.
import path from 'node:path';
import {
  GAN_DEFAULTS,
  GAN_OPTIONS,
  GAN_RECIPES,
  trainGan,
  type GanSampleLog,
  type GanStepLog,
} from '../../models/gan/index.js';
import { describeSettings } from '../../models/options.js';
import { builtinClass } from '../../io/datasets.js';
import { distributedNote } from '../../cli/progress.js';
import type { Trainer } from '../system.js';

/**
 * What a training reports: step log lines, each sampling's scores, warnings (a collapse rolled
 * back), and that a built-in data set's judge is being trained first (once per machine).
 */
export type Progress =
  | { type: 'step'; step: GanStepLog }
  | { type: 'sample'; sample: GanSampleLog }
  | { type: 'warning'; warning: string }
  | { type: 'judge-training' };

type Result = Awaited<ReturnType<typeof trainGan>>;

function showSample(l: GanSampleLog): string {
  const share = l.confident === null ? '' : `, the judge reads ${(l.confident * 100).toFixed(0)}% of them`;
  const judge = !share
    ? ''
    : l.judged_as !== undefined
      ? `${share} as ${l.judged_as}`
      : `${share} (${l.classes} classes)`;
  const real = typeof l.real_fd === 'number' ? ` (real images: ${l.real_fd.toFixed(2)})` : '';
  const fd = l.fd === null ? '' : `, Fréchet distance ${l.fd.toFixed(2)}${real}`;
  return `step ${l.step}: samples in ${l.samples}${judge}${fd} (diversity ${((l.diversity / l.real_diversity) * 100).toFixed(0)}% of the data's)`;
}

export const ganTrainer: Trainer<typeof GAN_OPTIONS, Progress, Result> = {
  options: GAN_OPTIONS,
  usage: 'gan train [options]',
  about: () =>
    "Trains a DCGAN (--recipe dcgan for labelled data, --recipe clustered for unlabelled data, sngan, or --recipe keras: the book's); a sample grid from fixed latent points, the judge's score and a checkpoint every --sample-every steps.\n\nWhat each recipe sets unless given:\n" +
    Object.entries(GAN_RECIPES)
      .map(
        ([name, r]) =>
          `  ${name}: ${describeSettings(GAN_OPTIONS, { ...GAN_DEFAULTS, ...r }, Object.keys(r) as (keyof typeof r)[])}`,
      )
      .join('\n'),
  out: 'runs/gan',
  dataHint: 'the data go in --data',
  train: (cfg, out, mode, control, report) =>
    trainGan(cfg, out, mode, {
      ...control,
      onStep: (step) => report({ type: 'step', step }),
      onSample: (sample) => report({ type: 'sample', sample }),
      onWarning: (warning) => report({ type: 'warning', warning }),
      onJudgeTraining: () => report({ type: 'judge-training' }),
    }),
  show: (e, cfg) => {
    switch (e.type) {
      case 'step': {
        const l = e.step;
        return {
          step: l.step,
          text: `d_loss ${l.d_loss.toFixed(3)}  a_loss ${l.a_loss.toFixed(3)}  ${l.ms_per_step.toFixed(0)} ms/step${distributedNote(l)}`,
        };
      }
      case 'sample':
        return { text: showSample(e.sample) };
      case 'warning':
        return { text: `warning: ${e.warning}`, stderr: true };
      case 'judge-training':
        return {
          text: `training the judge of ${builtinClass(cfg.data)?.set ?? cfg.data} once (about half a minute); it is kept with the weights`,
          stderr: true,
        };
    }
  },
  json: (e) => (e.type === 'step' ? e.step : e.type === 'sample' ? e.sample : undefined),
  finish: (r, _cfg, out) =>
    `done: ${r.steps} steps in ${r.seconds.toFixed(0)} s${r.rollbacks ? `, ${r.rollbacks} rollbacks` : ''}; checkpoint in ${path.join(out, 'checkpoint.safetensors')}`,
};
