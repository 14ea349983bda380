// `loom gan ...`: train the seed's DCGAN, then sample and walk. Thin over src/models/gan.
import path from 'node:path';
import * as T from '../torch/index.js';
import { imageGrid, writeAnimation, writeImage } from '../io/images.js';
import { Rng } from '../util/random.js';
import { GAN_DEFAULTS, loadGenerator, trainGan, type GanTrainConfig } from '../models/gan/index.js';
import { interpolate } from '../models/vae/latent.js';
import { COMMON, helpText, parseOptions, type OptSpecs } from './args.js';
import { UserError } from './errors.js';
import { Progress } from './progress.js';
import { applyCommon, onInterrupt } from './common.js';
import { prepareOutputFile } from '../io/files.js';

const TRAIN: OptSpecs = {
  data: { type: 'string', help: 'builtin:mnist, builtin:fashion-mnist, cifar10:<folder>[:<class>], or a folder of images', default: GAN_DEFAULTS.data, meta: 'SRC' },
  out: { type: 'string', help: 'run folder', default: 'runs/gan', meta: 'DIR' },
  latent: { type: 'int', help: 'latent dimensions', default: GAN_DEFAULTS.latent },
  batch: { type: 'int', help: 'real (and as many generated) images per step', default: GAN_DEFAULTS.batch },
  steps: { type: 'int', help: 'training steps', default: GAN_DEFAULTS.steps },
  'd-lr': { type: 'number', help: "discriminator's RMSprop learning rate", default: GAN_DEFAULTS.dLr },
  'g-lr': { type: 'number', help: "generator's (through the frozen discriminator) learning rate", default: GAN_DEFAULTS.gLr },
  clip: { type: 'number', help: 'clip every gradient value to [-clip, clip] (0: off)', default: GAN_DEFAULTS.clip },
  'label-noise': { type: 'number', help: 'uniform noise added to the discriminator\'s labels', default: GAN_DEFAULTS.labelNoise },
  dropout: { type: 'number', help: 'dropout before the discriminator\'s last layer', default: GAN_DEFAULTS.dropout },
  'g-filters': { type: 'int', help: "the generator's convolution width (the seed's: 256)", default: GAN_DEFAULTS.gFilters },
  'd-filters': { type: 'int', help: "the discriminator's convolution width (the seed's: 128)", default: GAN_DEFAULTS.dFilters },
  'sample-every': { type: 'int', help: 'steps between sample grids and checkpoints', default: GAN_DEFAULTS.sampleEvery },
  'log-every': { type: 'int', help: 'steps between log lines', default: GAN_DEFAULTS.logEvery },
  rollback: { type: 'bool', help: 'on a warning, return to the last good checkpoint and halve the discriminator\'s learning rate' },
  'watch-after': { type: 'int', help: 'first step of the failure watch (default: max(500, 5 x sample-every))' },
  size: { type: 'int', help: 'image side for folder data', default: GAN_DEFAULTS.size },
  channels: { type: 'int', help: 'channels for folder data (1 or 3)', default: GAN_DEFAULTS.channels },
  limit: { type: 'int', help: 'use only the first N images' },
  minutes: { type: 'number', help: 'stop after this many minutes (with a checkpoint)' },
  resume: { type: 'bool', help: 'continue the run in --out' },
  force: { type: 'bool', help: 'replace a run already in --out' },
  ...COMMON,
};
const SAMPLE: OptSpecs = { count: { type: 'int', help: 'images', default: 64 }, out: { type: 'string', help: 'image file', meta: 'FILE' }, force: { type: 'bool', help: 'overwrite --out if it exists' }, ...COMMON };
const WALK: OptSpecs = { frames: { type: 'int', help: 'frames of the walk', default: 60 }, out: { type: 'string', help: '.gif or .webp file', meta: 'FILE' }, force: { type: 'bool', help: 'overwrite --out if it exists' }, ...COMMON };

export async function ganCommand(args: string[]): Promise<void> {
  const [verb, ...rest] = args;
  if (verb === 'train') return ganTrain(rest);
  if (verb === 'sample' || verb === 'walk') return ganUse(verb, rest);
  if (verb === undefined || verb === '--help' || verb === '-h') {
    console.log('usage: loom gan <train|sample|walk> [options]\n\n  train    train the seed\'s DCGAN (MNIST by default)\n  sample   a grid of generated images\n  walk     an animated walk through latent space');
    return;
  }
  throw new UserError(`unknown gan command '${verb}'; use train, sample or walk`);
}

async function ganTrain(args: string[]): Promise<void> {
  const { values: o, positionals } = parseOptions(args, TRAIN);
  if (o.help) return void console.log(helpText('loom gan train [options]', "Trains the seed's DCGAN; a sample grid from fixed latent points and a checkpoint every --sample-every steps.", TRAIN));
  if (positionals.length) throw new UserError(`unexpected argument '${positionals[0]}'; the data go in --data`);
  if (o.device !== 'cpu') throw new UserError('gan training runs on the CPU only for now (--device cpu)');
  applyCommon(o);
  const cfg: GanTrainConfig = {
    data: o.data, latent: o.latent, batch: o.batch, steps: o.steps, dLr: o.dLr, gLr: o.gLr, clip: o.clip, labelNoise: o.labelNoise,
    dropout: o.dropout, gFilters: o.gFilters, dFilters: o.dFilters, sampleEvery: o.sampleEvery, logEvery: o.logEvery, rollback: Boolean(o.rollback), watchAfter: o.watchAfter ?? null, seed: o.seed ?? 0,
    size: o.size, channels: o.channels, limit: o.limit ?? null, minutes: o.minutes ?? null,
  };
  const progress = new Progress();
  const stop = onInterrupt(() => progress.line('loom: stopping after this step; a checkpoint will be saved', process.stderr));
  const r = await trainGan(cfg, o.out, { resume: o.resume, force: o.force }, {
    shouldStop: stop,
    onStep: (l) => (o.json ? console.log(JSON.stringify(l)) : progress.update(l.step, cfg.steps, `d_loss ${l.d_loss.toFixed(3)}  a_loss ${l.a_loss.toFixed(3)}  ${l.ms_per_step.toFixed(0)} ms/step`)),
    onSample: (l) => (o.json ? console.log(JSON.stringify(l)) : progress.line(`step ${l.step}: samples in ${l.samples}${l.fd === null ? '' : `, Fréchet distance ${l.fd.toFixed(2)}`} (diversity ${(l.diversity / l.real_diversity * 100).toFixed(0)}% of the data's)`)),
    onWarning: (w) => (o.json ? undefined : progress.line(`warning: ${w}`, process.stderr)),
  });
  progress.clear();
  if (!o.json) console.log(`done: ${r.steps} steps in ${r.seconds.toFixed(0)} s${r.rollbacks ? `, ${r.rollbacks} rollbacks` : ''}; checkpoint in ${path.join(o.out, 'checkpoint.safetensors')}`);
}

async function ganUse(verb: 'sample' | 'walk', args: string[]): Promise<void> {
  const specs = verb === 'sample' ? SAMPLE : WALK;
  const { values: o, positionals } = parseOptions(args, specs);
  if (o.help) return void console.log(helpText(`loom gan ${verb} <run> --out FILE`, verb === 'sample' ? 'A grid of images from random latent points.' : 'A looping walk (spherical interpolation) through random latent points.', specs));
  if (positionals.length !== 1) throw new UserError('give the run folder or checkpoint of a trained GAN');
  if (!o.out) throw new UserError('--out FILE is required');
  applyCommon(o);
  prepareOutputFile(o.out, o.force);
  using g = loadGenerator(positionals[0]);
  if (verb === 'sample') {
    if (!(o.count >= 1)) throw new UserError(`--count must be at least 1, got ${o.count}`);
    if (o.seed !== undefined) T.manualSeed(o.seed);
    await writeImage(o.out, T.noGrad(() => T.tidy(() => imageGrid(g.forward(T.randn([o.count, g.config.latent])).add(1).div(2)))));
  } else {
    if (!(o.frames >= 4)) throw new UserError(`--frames must be at least 4, got ${o.frames}`);
    const rng = new Rng(o.seed ?? 0);
    const gauss = () => Array.from({ length: g.config.latent }, () => rng.gaussian());
    const keys = [gauss(), gauss(), gauss(), gauss()];
    const per = Math.ceil(o.frames / keys.length);
    const pts = keys.flatMap((k, i) => interpolate(k, keys[(i + 1) % keys.length], per + 1, true).slice(0, per)).slice(0, o.frames);
    const frames = T.noGrad(() => T.tidy(() => g.forward(T.tensor(Float32Array.from(pts.flat()), { shape: [pts.length, g.config.latent] })).add(1).div(2).split(1, 0)));
    await writeAnimation(o.out, frames, { delayMs: 80 });
  }
  console.log(`wrote ${o.out}`);
}
