// What every verb does with the shared options, and Ctrl-C handling for long runs.
import { availableParallelism } from 'node:os';
import { fitThreadsToFreeCores, setNumThreads, watchInterrupts } from '../torch/index.js';
import { loadBackbone, type Backbone } from '../vision/weights.js';
import type { OptSpecs } from './args.js';
import { UserError } from './errors.js';
import { parentGone } from './parent.js';

export function applyCommon(o: { threads?: string; device?: string }): void {
  if (o.threads === 'auto') fitThreadsToFreeCores();
  else if (o.threads !== undefined) {
    // More threads than a few per core only thrash (100000 hung in OpenMP's start-up).
    const most = 4 * availableParallelism();
    const n = /^\d+$/.test(o.threads) ? Number(o.threads) : NaN;
    if (!(n >= 1 && n <= most))
      throw new UserError(`--threads must be auto or a whole number in 1..${most} (4 per core here), got ${o.threads}`);
    setNumThreads(n);
  } else if (Number(process.env.LOCAL_WORLD_SIZE) > 1) {
    // Ranks that share a node share its cores, as torchrun's OMP_NUM_THREADS does.
    setNumThreads(Math.max(1, Math.floor(availableParallelism() / Number(process.env.LOCAL_WORLD_SIZE))));
  }
  if (o.device !== undefined && !/^(cpu|cuda(:\d+)?)$/.test(o.device))
    throw new UserError(`unknown device '${o.device}'; use cpu or cuda[:N]`);
}

/**
 * The first Ctrl-C (or SIGTERM, as schedulers and the studio's Stop send) asks the running
 * loop to stop at the next step boundary (it saves a checkpoint); a second one quits at
 * once. The death of the launcher or studio that started this process counts as the first
 * (parent.ts). Returns the flag the loop polls. The signal is counted natively, because the
 * loops are synchronous and Node would run a JS listener only after the whole run.
 */
export function onInterrupt(notice: () => void): () => boolean {
  let noticed = false;
  const tell = () => {
    if (noticed) return;
    noticed = true;
    notice();
  };
  // For signals that arrive while the event loop is free (between systems, during I/O).
  const listener = () => tell();
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
  const count = watchInterrupts();
  return () => {
    if (count() === 0 && !parentGone()) return false;
    tell();
    return true;
  };
}

/** The CLI's onNote for the library: each note as a `loom: ...` line on stderr. */
export function noteOnStderr(message: string): void {
  process.stderr.write(`loom: ${message}\n`);
}

/** The pretrained network that dream and style work on (backboneFromOptions loads it). */
export const BACKBONE: OptSpecs = {
  backbone: { type: 'string', help: 'inception (built in) or vgg19 (needs imported weights)', default: 'inception' },
  weights: {
    type: 'string',
    help: 'backbone weights file (imported .safetensors, torchvision .pth, Keras .h5); none: the built-in',
    meta: 'FILE',
  },
};

/** The backbone that --backbone and --weights name (dream and style share them). */
export function backboneFromOptions(o: { backbone?: string; weights?: string }): Backbone {
  if (o.backbone !== 'inception' && o.backbone !== 'vgg19')
    throw new UserError(`--backbone must be inception or vgg19, got ${o.backbone}`);
  return loadBackbone(o.backbone, o.weights);
}
