// How many samples the Fréchet distance needs: for each GAN run folder given, the distance of
// its generated images against a reference of 2,000 real ones (the data's first 2,000) at
// several counts, four draws each (mean ± standard deviation), beside the distance other
// real images of the same data score against the same reference at the same counts (what a
// perfect generator would get). At few samples the estimate of 128 features' covariance is
// mostly noise, and real images can score worse than a generator's. Needs `npm run build`.
//
//   node experiments/gan-unlabelled/fd-samples.mjs RUN_DIR [RUN_DIR ...]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as T from '../../dist/src/torch/index.js';
import { builtinClass } from '../../dist/src/io/datasets.js';
import {
  builtinJudge,
  featuresOf,
  frechetDistance,
  generate,
  loadGanData,
  loadGenerator,
} from '../../dist/src/models/gan/index.js';

const COUNTS = [256, 1000, 2000];
const REFERENCE = 2000;
const DRAWS = 4;

const runs = process.argv.slice(2);
if (!runs.length) {
  console.error('fd-samples: give one or more GAN run folders');
  process.exit(2);
}

const meanSd = (xs) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
  return `${m.toFixed(2)} ± ${sd.toFixed(2)}`;
};

/** The judge, the reference features and real images' distances, per data spec. */
const references = new Map();
async function referenceOf(spec) {
  if (references.has(spec)) return references.get(spec);
  const judge = (await builtinJudge(builtinClass(spec)?.set ?? spec))?.net;
  if (!judge) throw new Error(`${spec} has no built-in judge`);
  const data = await loadGanData(spec, { size: 28, channels: 1, limit: null });
  const images = T.tidy(() => data.images.mul(2).sub(1));
  data.dispose();
  const n = images.size(0);
  const real = T.keep(featuresOf(judge, images.narrow(0, 0, REFERENCE)));
  const realScores = {};
  for (const k of COUNTS) {
    const fds = [];
    for (let from = REFERENCE; from + k <= n && fds.length < DRAWS; from += k)
      fds.push(T.tidy(() => frechetDistance(real, featuresOf(judge, images.narrow(0, from, k)))));
    realScores[k] = fds.length ? `${meanSd(fds)} (${fds.length} draw${fds.length > 1 ? 's' : ''})` : 'too few images';
  }
  images.dispose();
  const r = { judge, real, realScores };
  references.set(spec, r);
  return r;
}

console.log('| run | data | count | generated | real images |');
console.log('| --- | --- | ---: | ---: | ---: |');
for (const dir of runs) {
  const cfg = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
  const r = await referenceOf(cfg.data);
  const g = loadGenerator(dir);
  T.manualSeed(123);
  for (const k of COUNTS) {
    const fds = [];
    for (let d = 0; d < DRAWS; d++)
      fds.push(
        T.tidy(() => {
          const z = T.randn([k, g.config.latent]);
          const parts = [];
          for (let i = 0; i < k; i += 250)
            parts.push(T.noGrad(() => generate(g, z.narrow(0, i, Math.min(250, k - i)))));
          return frechetDistance(r.real, featuresOf(r.judge, T.cat(parts, 0)));
        }),
      );
    console.log(
      `| ${path.basename(dir)} (${cfg.recipe}) | \`${cfg.data}\` | ${k} | ${meanSd(fds)} | ${r.realScores[k]} |`,
    );
  }
  g.dispose();
}
