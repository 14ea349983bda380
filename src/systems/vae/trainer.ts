// The VAE's training as the CLI and the library both run it.
import path from 'node:path';
import {
  VAE_OPTIONS,
  trainVae,
  type VaeEpochLog,
  type VaeStepLog,
  type VaeTrainResult,
} from '../../models/vae/index.js';
import { distributedNote } from '../../cli/progress.js';
import type { Trainer } from '../system.js';

export type Progress = { type: 'step'; step: VaeStepLog } | { type: 'epoch'; epoch: VaeEpochLog };

export const vaeTrainer: Trainer<typeof VAE_OPTIONS, Progress, VaeTrainResult> = {
  options: VAE_OPTIONS,
  usage: 'vae train [options]',
  about: () => "Trains the book's convolutional VAE; writes pictures and a checkpoint after every epoch.",
  out: 'runs/vae',
  dataHint: 'the data go in --data',
  train: (cfg, out, mode, control, report) =>
    trainVae(cfg, out, mode, {
      ...control,
      onStep: (step) => report({ type: 'step', step }),
      onEpoch: (epoch) => report({ type: 'epoch', epoch }),
    }),
  show: (e, _cfg, out) => {
    if (e.type === 'step') {
      const l = e.step;
      return {
        step: l.step,
        text: `epoch ${l.epoch.toFixed(2)}  loss ${l.loss.toFixed(2)}  ${l.ms_per_step.toFixed(1)} ms/step  ${Math.round(l.images_per_sec)} images/s${distributedNote(l)}`,
      };
    }
    const p = e.epoch;
    return {
      text: `epoch ${Number(p.epoch.toFixed(3))}: test -ELBO ${p.test_elbo_nats.toFixed(2)} nats (reconstruction ${p.test_rec_nats.toFixed(2)}, KL ${p.test_kl_nats.toFixed(2)}); pictures in ${path.join(out, 'samples')}`,
    };
  },
  json: (e) => (e.type === 'step' ? e.step : e.epoch),
  finish: (r, _cfg, out) =>
    `done: ${r.steps} steps in ${r.seconds.toFixed(0)} s; test -ELBO ${r.test.elbo.toFixed(2)} nats; checkpoint in ${out}/checkpoint.safetensors`,
};
