// Fast style's training as the CLI and the library both run it: a feed-forward network for one style.
import { FAST_OPTIONS, trainFastStyle, type FastStepLog } from '../../models/style/index.js';
import { distributedNote } from '../../cli/progress.js';
import { BACKBONE } from '../../cli/common.js';
import { backboneOf, type BackboneOptions } from '../backbone.js';
import type { Trainer } from '../system.js';

export type TrainFastProgress = { type: 'step'; step: FastStepLog } | { type: 'sample'; step: number; file: string };

type Result = Awaited<ReturnType<typeof trainFastStyle>>;

export const fastStyleTrainer: Trainer<typeof FAST_OPTIONS, TrainFastProgress, Result> = {
  options: FAST_OPTIONS,
  usage: 'style train [--style IMAGE] [--images SRC] [--out DIR] [options]',
  about: () =>
    'Trains a feed-forward style network for one style; then `loom style apply` stylises photos in one pass.',
  out: 'runs/style',
  dataHint: 'the style goes in --style and the photos in --images',
  extraOptions: BACKBONE as Trainer['extraOptions'],
  train: async (cfg, out, mode, control, report, extra) => {
    const backbone = backboneOf(extra as BackboneOptions);
    try {
      return await trainFastStyle(backbone, cfg, out, mode, {
        ...control,
        onStep: (step) => report({ type: 'step', step }),
        onSample: (step, file) => report({ type: 'sample', step, file }),
      });
    } finally {
      backbone.net.dispose();
    }
  },
  show: (e) => {
    if (e.type === 'sample') return { text: `step ${e.step}: ${e.file}` };
    const l = e.step;
    return {
      step: l.step,
      text: `loss ${l.loss.toFixed(3)} (content ${l.content_loss.toFixed(3)}, style ${l.style_loss.toExponential(2)})  ${l.ms_per_step.toFixed(0)} ms/step${distributedNote(l)}`,
    };
  },
  json: (e) => (e.type === 'step' ? e.step : undefined),
  finish: (r, _cfg, out) =>
    `done: ${r.steps} steps in ${r.seconds.toFixed(0)} s; stylise photos with: loom style apply ${out} <image...> --out <file or folder>`,
};
