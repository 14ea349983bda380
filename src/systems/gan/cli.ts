// `loom gan ...`: train the book's DCGAN, then sample and walk. Thin over src/models/gan.
import * as T from '../../torch/index.js';
import { imageGrid, namesFolder, writeAnimation, writeImage, writeImageFolder } from '../../io/images.js';
import { Rng } from '../../util/random.js';
import {
  GAN_MOST_FRAMES,
  checkDrawCount,
  classColumns,
  classIndex,
  drawImages,
  loadGenerator,
} from '../../models/gan/index.js';
import { interpolate } from '../../models/vae/latent.js';
import { COMMON, parseCommand, type OptSpecs } from '../../cli/args.js';
import { UserError } from '../../cli/errors.js';
import { applyCommon } from '../../cli/common.js';
import { prepareOutputFile } from '../../io/files.js';
import { trainCommand } from '../../cli/train.js';
import { runVerb } from '../../cli/verbs.js';
import { ganSystem } from './system.js';

const LABEL: OptSpecs = {
  label: {
    type: 'string',
    help: "a conditional run's class to draw, by name or number (default: every class in turn)",
    meta: 'CLASS',
  },
};
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

export const ganCommand = (args: string[]): Promise<void> =>
  runVerb(
    'gan',
    {
      train: {
        what: "train a DCGAN (MNIST by default; --recipe keras for the book's Keras recipe; unlabelled data trains the clustered recipe)",
        run: (a) => trainCommand(ganSystem, a),
      },
      sample: { what: 'a grid of generated images', run: (a) => ganUse('sample', a) },
      walk: { what: 'an animated walk through latent space', run: (a) => ganUse('walk', a) },
    },
    args,
  );

async function ganUse(verb: 'sample' | 'walk', args: string[]): Promise<void> {
  const specs = verb === 'sample' ? SAMPLE : WALK;
  const parsed = parseCommand(args, {
    usage: `loom gan ${verb} <run> --out FILE`,
    about:
      verb === 'sample'
        ? 'A grid of images from random latent points.'
        : 'A looping walk (spherical interpolation) through random latent points.',
    options: specs,
  });
  if (!parsed) return;
  const { values: o, positionals } = parsed;
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
  const columns = classColumns(g);
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
          imageGrid(draw(T.randn([o.count, g.config.latent])), columns && only === null ? { cols: columns } : {}),
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
