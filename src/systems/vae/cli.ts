// `loom vae ...`: train a VAE and explore its latent space. Thin over src/models/vae.
import { existsSync, statSync } from 'node:fs';
import * as T from '../../torch/index.js';
import { scatterSpec, writeChart } from '../../io/chart.js';
import { imageGrid, namesFolder, writeAnimation, writeImage, writeImageFolder } from '../../io/images.js';
import { loadImageFolder, type ImageDataset } from '../../io/datasets.js';
import {
  applyConcept,
  conceptVector,
  encodeMeans,
  importanceWeightedNll,
  LATENT_GRID_MOST,
  checkSampleCount,
  checkWalkSteps,
  latentGrid,
  loadVae,
  loadVaeData,
  resolveImage,
  sampleGrid,
  testElbo,
  walk,
  type VAE,
} from '../../models/vae/index.js';
import { COMMON, helpText, parseOptions, type OptSpecs } from '../../cli/args.js';
import { UserError } from '../../cli/errors.js';
import { applyCommon } from '../../cli/common.js';
import { prepareOutputFile } from '../../io/files.js';
import { trainCommand } from '../../cli/train.js';
import { runVerb } from '../../cli/verbs.js';
import { vaeSystem } from './system.js';

const OUT = {
  out: { type: 'string', help: 'image to write (.png; .gif or .webp animate where it makes sense)', meta: 'FILE' },
  force: { type: 'bool', help: 'overwrite --out if it exists' },
} satisfies OptSpecs;
const GRID: OptSpecs = {
  size: { type: 'int', help: 'points per side', default: 15 },
  dims: { type: 'numbers', help: 'the two latent dimensions to span', default: [0, 1] },
  ...OUT,
  ...COMMON,
};
const SAMPLE: OptSpecs = {
  count: { type: 'int', help: 'images drawn from the prior', default: 64 },
  ...OUT,
  out: {
    type: 'string',
    help: 'image file (a grid), or a folder (ending in /) for one PNG per image',
    meta: 'FILE|DIR/',
  },
  ...COMMON,
};
const INTERP: OptSpecs = {
  steps: { type: 'int', help: 'images along the walk', default: 10 },
  slerp: { type: 'bool', help: 'spherical instead of linear interpolation' },
  ...OUT,
  ...COMMON,
};
const CONCEPT: OptSpecs = {
  from: { type: 'string', help: 'a test-set label, or a folder of images', meta: 'SET' },
  to: { type: 'string', help: 'a test-set label, or a folder of images', meta: 'SET' },
  apply: { type: 'string', help: 'the image (file, or test-set index) to move', meta: 'IMAGE' },
  strengths: { type: 'numbers', help: 'multiples of the concept vector', default: [-2, -1, 0, 1, 2] },
  ...OUT,
  ...COMMON,
};
const SCATTER: OptSpecs = {
  dims: { type: 'numbers', help: 'the two latent dimensions to plot', default: [0, 1] },
  ...OUT,
  ...COMMON,
};
const EVAL: OptSpecs = {
  'iw-samples': { type: 'int', help: 'importance samples per image', default: 100 },
  limit: { type: 'int', help: 'score only the first N test images' },
  ...COMMON,
};

export const vaeCommand = (args: string[]): Promise<void> =>
  runVerb(
    'vae',
    {
      train: {
        what: "train a convolutional VAE (the book's, MNIST by default)",
        run: (a) => trainCommand(vaeSystem, a),
      },
      grid: {
        what: 'decode a grid of latent points at Gaussian quantiles',
        run: (a) =>
          withModel(a, GRID, 'loom vae grid <run> --out grid.png', async (o, m) => {
            const dims = o.dims as number[];
            if (dims.length !== 2) throw new UserError('--dims takes two latent dimensions, e.g. 0,1');
            await write(o.out, latentGrid(m.model, o.size, [dims[0], dims[1]]));
          }),
      },
      sample: {
        what: 'decode random points of the prior',
        run: (a) =>
          withModel(a, SAMPLE, 'loom vae sample <run> --out samples.png', async (o, m) => {
            if (o.seed !== undefined) T.manualSeed(o.seed);
            if (namesFolder(o.out)) {
              const decode = (n: number) =>
                T.noGrad(() => T.tidy(() => m.model.decode(T.randn([n, m.model.config.latent]))));
              const files = await writeImageFolder(o.out, o.count, decode, { force: o.force });
              return void console.log(`wrote ${files.length} images to ${o.out}`);
            }
            await write(o.out, sampleGrid(m.model, o.count));
          }),
      },
      interpolate: {
        what: 'walk between two images (a strip, or an animated GIF)',
        run: (a) =>
          withModel(
            a,
            INTERP,
            'loom vae interpolate <run> <image A | index A> <image B | index B> --out walk.png|walk.gif',
            async (o, m, pos) => {
              if (pos.length !== 2) throw new UserError('give two images (files or test-set indices) to walk between');
              const test = await testSet(m);
              const [a, b] = [await resolveImage(m.model, pos[0], test), await resolveImage(m.model, pos[1], test)];
              const frames = walk(m.model, a, b, o.steps, Boolean(o.slerp));
              if (/\.(gif|webp)$/i.test(o.out)) {
                const list = T.tidy(() => frames.split(1, 0));
                await writeAnimation(o.out, [...list, ...list.slice(1, -1).reverse()], { delayMs: 120 });
              } else await write(o.out, imageGrid(frames, { cols: o.steps }));
            },
          ),
      },
      concept: {
        what: 'move an image along the difference between two sets',
        run: (a) =>
          withModel(
            a,
            CONCEPT,
            'loom vae concept <run> --from <label|folder> --to <label|folder> --apply <image> --out concept.png',
            async (o, m) => {
              if (!o.from || !o.to || !o.apply) throw new UserError('concept needs --from, --to and --apply');
              const test = await testSet(m);
              const from = await imageSet(m.model, o.from, test, m.classes);
              const to = await imageSet(m.model, o.to, test, m.classes);
              const vec = conceptVector(m.model, from, to);
              const img = await resolveImage(m.model, o.apply, test);
              const strip = applyConcept(m.model, img, vec, o.strengths);
              await write(o.out, imageGrid(T.cat([img, strip], 0), { cols: strip.size(0) + 1 }));
            },
          ),
      },
      scatter: {
        what: "plot the test set's latent means, coloured by label",
        run: (a) =>
          withModel(a, SCATTER, 'loom vae scatter <run> --out scatter.png', async (o, m) => {
            const test = await testSet(m);
            if (!test) throw new UserError("the run's test set is not available to plot");
            const d = m.model.config.latent;
            const dims = o.dims as number[];
            if (dims.length !== 2 || dims.some((k) => !(k >= 0 && k < d)))
              throw new UserError(`--dims takes two latent dimensions below ${d}`);
            const means = encodeInBatches(m.model, test.images);
            const pts = T.tidy(
              () =>
                T.stack([means.select(1, dims[0]), means.select(1, dims[1])], 1)
                  .contiguous()
                  .data() as Float32Array,
            );
            const spec = scatterSpec(pts, test.labels.toFlatArray(), {
              x: `z[${dims[0]}]`,
              y: `z[${dims[1]}]`,
              names: m.classes,
            });
            await writeChart(o.out!, spec);
            console.log(
              `wrote ${o.out}: the test set's ${test.labels.size(0)} means in latent dimensions ${dims.join(', ')}`,
            );
          }),
      },
      eval: {
        what: 'test -ELBO and importance-weighted NLL, in nats',
        run: (a) => vaeEval(a),
      },
    },
    args,
  );

async function write(file: string | undefined, img: T.Tensor): Promise<void> {
  if (!file) throw new UserError('--out FILE is required');
  if (existsSync(file) && statSync(file).isDirectory())
    throw new UserError(`--out ${file} is a folder; give an image file name`);
  await writeImage(file, img);
  console.log(`wrote ${file} (${img.size(3)}x${img.size(2)})`);
}

type Loaded = ReturnType<typeof loadVae>;

async function withModel(
  args: string[],
  specs: OptSpecs,
  usage: string,
  fn: (o: any, m: Loaded, pos: string[]) => Promise<void>,
): Promise<void> {
  const { values: o, positionals } = parseOptions(args, specs);
  if (o.help) return void console.log(helpText(usage, 'Uses a VAE trained by `loom vae train`.', specs));
  if (positionals.length < 1) throw new UserError('give the run folder or checkpoint of a trained VAE');
  applyCommon(o);
  // Sizes are checked before the model and data load, each with its sentence.
  if (specs === GRID && !(o.size >= 2 && o.size <= LATENT_GRID_MOST))
    throw new UserError(`--size must be a whole number in 2..${LATENT_GRID_MOST}, got ${o.size}`);
  if (specs === SAMPLE) checkSampleCount(o.count);
  if (specs === INTERP) checkWalkSteps(o.steps);
  if ('out' in specs) {
    if (!o.out) throw new UserError('--out FILE is required');
    // `sample` may write a folder of images: writeImageFolder checks that one itself.
    if (!(specs === SAMPLE && namesFolder(o.out))) prepareOutputFile(o.out, o.force);
  }
  const m = loadVae(positionals[0]);
  try {
    await fn(o, m, positionals.slice(1));
  } finally {
    m.model.dispose();
  }
}

const testSets = new WeakMap<Loaded, ImageDataset | null>();
/** The test split of the data the run was trained on (null when it cannot be read now). */
async function testSet(m: Loaded): Promise<ImageDataset | null> {
  if (!testSets.has(m)) {
    try {
      testSets.set(m, (await loadVaeData(m.config.data, { size: m.config.size, channels: m.config.channels })).test);
    } catch {
      testSets.set(m, null);
    }
  }
  return testSets.get(m)!;
}

function encodeInBatches(model: VAE, images: T.Tensor): T.Tensor {
  const parts: T.Tensor[] = [];
  for (let i = 0; i < images.size(0); i += 500)
    parts.push(encodeMeans(model, images.narrow(0, i, Math.min(500, images.size(0) - i))));
  return T.cat(parts, 0);
}

/** A set of images: a folder, or the test images with a given label (name or number). */
async function imageSet(model: VAE, spec: string, test: ImageDataset | null, classes: string[]): Promise<T.Tensor> {
  if (existsSync(spec) && statSync(spec).isDirectory()) {
    const ds = await loadImageFolder(spec, {
      size: [model.config.height, model.config.width],
      channels: model.config.channels as 1 | 3,
    });
    return ds.images;
  }
  if (!test) throw new UserError(`'${spec}' is not a folder, and the run's test set is not available for labels`);
  const label = classes.indexOf(spec) >= 0 ? classes.indexOf(spec) : Number(spec);
  if (!Number.isInteger(label))
    throw new UserError(`'${spec}' is neither a folder nor a label (${classes.join(', ')})`);
  const idx = test.labels.eq(label).nonzero().reshape([-1]);
  if (idx.size(0) === 0) throw new UserError(`no test images have label ${spec}`);
  return test.images.indexSelect(0, idx);
}

async function vaeEval(args: string[]): Promise<void> {
  await withModel(args, EVAL, 'loom vae eval <run> [--iw-samples 100] [--json]', async (o, m) => {
    // k samples of every image go through the decoder at once: bound the memory.
    if (!(o.iwSamples >= 1 && o.iwSamples <= 10_000))
      throw new UserError(`--iw-samples must be a whole number in 1..10000, got ${o.iwSamples}`);
    const test = await testSet(m);
    if (!test) throw new UserError("the run's test data cannot be read");
    const n = Math.min(o.limit ?? Infinity, test.images.size(0));
    const x = test.images.narrow(0, 0, n);
    T.manualSeed(o.seed ?? 0);
    const elbo = testElbo(m.model, x);
    const iw = importanceWeightedNll(m.model, x, o.iwSamples);
    if (o.json)
      console.log(
        JSON.stringify({
          test_elbo_nats: elbo.elbo,
          test_rec_nats: elbo.rec,
          test_kl_nats: elbo.kl,
          test_iw_nll_nats: iw,
          images: n,
          iw_samples: o.iwSamples,
        }),
      );
    else
      console.log(
        `test -ELBO ${elbo.elbo.toFixed(2)} nats (reconstruction ${elbo.rec.toFixed(2)}, KL ${elbo.kl.toFixed(2)}); importance-weighted NLL (k=${o.iwSamples}) ${iw.toFixed(2)} nats; ${n} images`,
      );
  });
}
