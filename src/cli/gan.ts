// `loom gan ...`: train the book's DCGAN, then sample and walk. Thin over src/models/gan.
import path from 'node:path';
import * as T from '../torch/index.js';
import { imageGrid, namesFolder, writeAnimation, writeImage, writeImageFolder } from '../io/images.js';
import { Rng } from '../util/random.js';
import {
  GAN_DEFAULTS,
  GAN_OPTIONS,
  GAN_RECIPES,
  GAN_MOST_FRAMES,
  checkDrawCount,
  classIndex,
  drawImages,
  loadGenerator,
  trainGan,
} from '../models/gan/index.js';
import { cliSpecs, configFromCli, describeSettings } from '../models/options.js';
import { interpolate } from '../models/vae/latent.js';
import { COMMON, helpText, parseOptions, type OptSpecs } from './args.js';
import { UserError } from './errors.js';
import { Progress, distributedNote } from './progress.js';
import { applyCommon, noteOnStderr, onInterrupt } from './common.js';
import { prepareOutputFile } from '../io/files.js';

const TRAIN: OptSpecs = {
  ...cliSpecs(GAN_OPTIONS),
  out: { type: 'string', help: 'run folder', default: 'runs/gan', meta: 'DIR' },
  resume: { type: 'bool', help: 'continue the run in --out' },
  force: { type: 'bool', help: 'replace a run already in --out' },
  ...COMMON,
};
const LABEL: OptSpecs = {
  label: {
    type: 'string',
    help: "a conditional run's class to draw, by name or number (default: every class in turn)",
    meta: 'CLASS',
  },
};
/** The most images `gan sample` draws and frames `gan walk` makes. */

const SAMPLE: OptSpecs = {
  count: { type: 'int', help: 'images', default: 64 },
  ...LABEL,
  out: {
    type: 'string',
    help: 'image file (a grid), or a folder (ending in /) for one PNG per image',
    meta: 'FILE|DIR/',
  },
  force: { type: 'bool', help: 'overwrite --out if it exists' },
  ...COMMON,
};
const WALK: OptSpecs = {
  frames: { type: 'int', help: 'frames of the walk', default: 60 },
  label: { ...LABEL.label, help: "a conditional run's class to walk within, by name or number (default: the first)" },
  out: { type: 'string', help: '.gif or .webp file', meta: 'FILE' },
  force: { type: 'bool', help: 'overwrite --out if it exists' },
  ...COMMON,
};

export async function ganCommand(args: string[]): Promise<void> {
  const [verb, ...rest] = args;
  if (verb === 'train') return ganTrain(rest);
  if (verb === 'sample' || verb === 'walk') return ganUse(verb, rest);
  if (verb === undefined || verb === '--help' || verb === '-h') {
    console.log(
      "usage: loom gan <train|sample|walk> [options]\n\n  train    train a DCGAN (MNIST by default; --recipe keras for the book's Keras recipe)\n  sample   a grid of generated images\n  walk     an animated walk through latent space",
    );
    return;
  }
  throw new UserError(`unknown gan command '${verb}'; use train, sample or walk`);
}

async function ganTrain(args: string[]): Promise<void> {
  const { values: o, positionals, given } = parseOptions(args, TRAIN);
  if (o.help)
    return void console.log(
      helpText(
        'loom gan train [options]',
        "Trains a DCGAN (--recipe dcgan, or --recipe keras: the book's); a sample grid from fixed latent points, the judge's score and a checkpoint every --sample-every steps.\n\nWhat each recipe sets unless given:\n" +
          Object.entries(GAN_RECIPES)
            .map(
              ([name, r]) =>
                `  ${name}: ${describeSettings(GAN_OPTIONS, { ...GAN_DEFAULTS, ...r }, Object.keys(r) as (keyof typeof r)[])}`,
            )
            .join('\n'),
        TRAIN,
      ),
    );
  if (positionals.length) throw new UserError(`unexpected argument '${positionals[0]}'; the data go in --data`);
  if (o.device !== 'cpu') throw new UserError('gan training runs on the CPU only for now (--device cpu)');
  applyCommon(o);
  const cfg = configFromCli(GAN_OPTIONS, o);
  const progress = new Progress(process.stderr, cfg.minutes);
  const stop = onInterrupt(() =>
    progress.line('loom: stopping after this step; a checkpoint will be saved', process.stderr),
  );
  const r = await trainGan(
    cfg,
    o.out,
    { resume: o.resume, force: o.force, given },
    {
      shouldStop: stop,
      onNote: noteOnStderr,
      onStep: (l) =>
        o.json
          ? console.log(JSON.stringify(l))
          : progress.update(
              l.step,
              cfg.steps,
              `d_loss ${l.d_loss.toFixed(3)}  a_loss ${l.a_loss.toFixed(3)}  ${l.ms_per_step.toFixed(0)} ms/step${distributedNote(l)}`,
            ),
      onSample: (l) =>
        o.json
          ? console.log(JSON.stringify(l))
          : progress.line(
              `step ${l.step}: samples in ${l.samples}${l.confident === null ? '' : `, the judge reads ${(l.confident * 100).toFixed(0)}% of them (${l.classes} classes)`}${l.fd === null ? '' : `, Fréchet distance ${l.fd.toFixed(2)}`} (diversity ${((l.diversity / l.real_diversity) * 100).toFixed(0)}% of the data's)`,
            ),
      onWarning: (w) => (o.json ? undefined : progress.line(`warning: ${w}`, process.stderr)),
      onJudgeTraining: () =>
        progress.line(
          `training the judge of ${cfg.data} once (about half a minute); it is kept with the weights`,
          process.stderr,
        ),
    },
  );
  progress.clear();
  if (!o.json)
    console.log(
      `done: ${r.steps} steps in ${r.seconds.toFixed(0)} s${r.rollbacks ? `, ${r.rollbacks} rollbacks` : ''}; checkpoint in ${path.join(o.out, 'checkpoint.safetensors')}`,
    );
}

async function ganUse(verb: 'sample' | 'walk', args: string[]): Promise<void> {
  const specs = verb === 'sample' ? SAMPLE : WALK;
  const { values: o, positionals } = parseOptions(args, specs);
  if (o.help)
    return void console.log(
      helpText(
        `loom gan ${verb} <run> --out FILE`,
        verb === 'sample'
          ? 'A grid of images from random latent points.'
          : 'A looping walk (spherical interpolation) through random latent points.',
        specs,
      ),
    );
  if (positionals.length !== 1) throw new UserError('give the run folder or checkpoint of a trained GAN');
  if (!o.out) throw new UserError('--out FILE is required');
  applyCommon(o);
  // Every image is drawn in one batch and every frame held until the file is written: bound both.
  if (verb === 'sample') checkDrawCount(o.count);
  if (verb === 'walk' && !(o.frames >= 4 && o.frames <= GAN_MOST_FRAMES))
    throw new UserError(`--frames must be in 4..${GAN_MOST_FRAMES}, got ${o.frames}`);
  const folder = verb === 'sample' && namesFolder(o.out);
  if (!folder) prepareOutputFile(o.out, o.force);
  using g = loadGenerator(positionals[0]);
  const only = classIndex(g, o.label);
  const classes = g.classes;
  /** Images in [0, 1] from latent points: of the asked class, or of every class in turn. */
  const draw = (z: T.Tensor, walk = false) => drawImages(g, z, only, walk);
  if (verb === 'sample') {
    if (o.seed !== undefined) T.manualSeed(o.seed);
    if (folder) {
      const made = (n: number) => T.noGrad(() => T.tidy(() => draw(T.randn([n, g.config.latent]))));
      const files = await writeImageFolder(o.out, o.count, made, { force: o.force });
      return void console.log(`wrote ${files.length} images to ${o.out}`);
    }
    await writeImage(
      o.out,
      T.noGrad(() =>
        T.tidy(() =>
          imageGrid(draw(T.randn([o.count, g.config.latent])), classes && only === null ? { cols: classes } : {}),
        ),
      ),
    );
  } else {
    const rng = new Rng(o.seed ?? 0);
    const gauss = () => Array.from({ length: g.config.latent }, () => rng.gaussian());
    const keys = [gauss(), gauss(), gauss(), gauss()];
    const per = Math.ceil(o.frames / keys.length);
    const pts = keys
      .flatMap((k, i) => interpolate(k, keys[(i + 1) % keys.length], per + 1, true).slice(0, per))
      .slice(0, o.frames);
    const frames = T.noGrad(() =>
      T.tidy(() =>
        draw(T.tensor(Float32Array.from(pts.flat()), { shape: [pts.length, g.config.latent] }), true).split(1, 0),
      ),
    );
    await writeAnimation(o.out, frames, { delayMs: 80 });
  }
  console.log(`wrote ${o.out}`);
}
