// One class of a labelled set, as the book's frogs: for each data spec, the clustered recipe
// (the unlabelled default), sngan, dcgan and sngan with --augment, in
// equal wall-clock time, one after another on one libtorch thread (as sweep.mjs does, and
// why). Then, in the output folder, a markdown table of each run's last judged checkpoint
// (the figures its training log reports: the Fréchet distance of the judge's features against
// the class's training images, with the distance other real images score, and the share of
// 1,000 samples from fixed latent points that the judge reads as the class with confidence
// >= 0.9), and per data spec the runs' last sample
// grids side by side. A run whose folder already holds metrics is summarised, not retrained:
// delete the folder to train it again. Needs `npm run build`.
//
//   node experiments/gan-unlabelled/one-class.mjs --out DIR [--minutes 4] [--seed 0]
//        [--data builtin:fashion-mnist:sneaker --data builtin:mnist:7 ...]
//        [--arms clustered,sngan,dcgan,sngan-augment] (or keras, the book's recipe)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { builtinClass } from '../../dist/src/io/datasets.js';
import { builtinJudge } from '../../dist/src/models/gan/index.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const ARMS = {
  // dcgan conditioned on 50 k-means clusters of the images, the unlabelled default since
  clustered: ['--recipe', 'clustered'],
  'clustered-10': ['--recipe', 'clustered', '--clusters', '10'],
  'clustered-20': ['--recipe', 'clustered', '--clusters', '20'],
  'clustered-batch64': ['--recipe', 'clustered', '--batch', '64'],
  'clustered-ema999': ['--recipe', 'clustered', '--ema', '0.999'],
  sngan: ['--recipe', 'sngan'],
  dcgan: ['--recipe', 'dcgan'],
  'sngan-augment': ['--recipe', 'sngan', '--augment'],
  // the book's recipe, for its frogs beside the others (not a default: a step costs many of theirs)
  keras: ['--recipe', 'keras'],
};
const parsed = (() => {
  try {
    return parseArgs({
      options: {
        out: { type: 'string' },
        minutes: { type: 'string', default: '4' },
        seed: { type: 'string', default: '0' },
        data: { type: 'string', multiple: true, default: ['builtin:fashion-mnist:sneaker', 'builtin:mnist:7'] },
        arms: { type: 'string', default: 'clustered,sngan,dcgan,sngan-augment' },
      },
    });
  } catch (e) {
    console.error(`one-class: ${e.message}`);
    process.exit(2);
  }
})();
const o = parsed.values;
const arms = o.arms.split(',');
const unknown = arms.filter((a) => !(a in ARMS));
if (unknown.length) {
  console.error(`one-class: unknown arm ${unknown.join(', ')}; the arms are ${Object.keys(ARMS).join(', ')}`);
  process.exit(2);
}
if (!o.out) {
  console.error('one-class: give the output folder: --out DIR');
  process.exit(2);
}
if (!(Number(o.minutes) > 0)) {
  console.error(`one-class: --minutes must be a positive number, got ${o.minutes}`);
  process.exit(2);
}

// A built-in set's judge is trained the first time a run needs it, inside that run's minutes:
// train the missing ones first, so that every run has its whole time.
try {
  for (const set of new Set(o.data.map((spec) => builtinClass(spec)?.set).filter(Boolean))) {
    const judge = await builtinJudge(set, { onTrain: () => console.error(`one-class: training the judge of ${set}`) });
    judge?.net.dispose();
  }
} catch (e) {
  console.error(`one-class: ${e.message}`);
  process.exit(2);
}
mkdirSync(o.out, { recursive: true });

/** A file-name part for a data spec: builtin:mnist:7 -> mnist-7, cifar10:/d/cifar:frog -> cifar10-frog. */
const slug = (spec) =>
  spec.startsWith('cifar10:')
    ? ['cifar10', ...spec.split(':').slice(2)].join('-')
    : spec.startsWith('builtin:')
      ? spec.slice('builtin:'.length).replace(/:/g, '-')
      : path.basename(path.resolve(spec));
const readMetrics = (dir) =>
  readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

const rows = [];
for (const spec of o.data) {
  const grids = [];
  for (const arm of arms) {
    const args = ARMS[arm];
    const dir = path.join(o.out, 'runs', `${slug(spec)}-${arm}`);
    const load = loadavg()[0].toFixed(1);
    if (existsSync(path.join(dir, 'metrics.jsonl'))) console.error(`one-class: ${dir} exists; summarising it`);
    else {
      console.error(`one-class: ${spec}, ${args.join(' ')}, ${o.minutes} minutes -> ${dir}`);
      const cmd = ['gan', 'train', '--data', spec, '--threads', '1', '--minutes', o.minutes, '--seed', o.seed];
      try {
        execFileSync(process.execPath, [CLI, ...cmd, '--out', dir, ...args], {
          stdio: ['ignore', 'ignore', 'inherit'],
        });
      } catch {
        console.error(`one-class: the run in ${dir} failed (its message is above)`);
        process.exit(1);
      }
    }
    const lines = readMetrics(dir);
    const sampled = lines.filter((l) => typeof l.samples === 'string');
    const last = sampled.at(-1);
    const ms = lines
      .filter((l) => typeof l.ms_per_step === 'number')
      .map((l) => l.ms_per_step)
      .sort((a, b) => a - b);
    const lastFive = sampled.slice(-5).map((l) => l.fd);
    const fdFive =
      lastFive.length && lastFive.every((x) => typeof x === 'number')
        ? lastFive.reduce((a, b) => a + b) / lastFive.length
        : null;
    rows.push({ spec, options: args.join(' '), last, fdFive, load, medianMs: ms[ms.length >> 1] });
    grids.push({ arm: args.join(' '), file: last.samples });
  }
  // The last grids side by side, each under its options.
  const metas = await Promise.all(grids.map((g) => sharp(g.file).metadata()));
  const gap = 16;
  const label = 24;
  const width = metas.reduce((s, m) => s + m.width, 0) + gap * (grids.length - 1);
  const height = label + Math.max(...metas.map((m) => m.height));
  let x = 0;
  const layers = [];
  for (const [i, g] of grids.entries()) {
    const text = `<svg xmlns="http://www.w3.org/2000/svg" width="${metas[i].width}" height="${label}"><text x="0" y="17" font-family="sans-serif" font-size="14">${g.arm}</text></svg>`;
    layers.push({ input: Buffer.from(text), left: x, top: 0 }, { input: g.file, left: x, top: label });
    x += metas[i].width + gap;
  }
  const file = path.join(o.out, `${slug(spec)}.png`);
  await sharp({ create: { width, height, channels: 3, background: 'white' } })
    .composite(layers)
    .png()
    .toFile(file);
  console.error(`one-class: wrote ${file}`);
}

const pct = (x) => (typeof x === 'number' ? `${(x * 100).toFixed(1)}%` : 'no judge');
const fd = (x) => (typeof x === 'number' ? x.toFixed(2) : 'no judge');
const table = [
  `Each run: \`loom gan train --data SPEC --threads 1 --minutes ${o.minutes} --seed ${o.seed}\` plus the options, one after another, on ${cpus()[0].model.trim()} (${cpus().length} cores). The figures are those of the run's last checkpoint.`,
  '',
  '| data | options | steps | median ms/step | load at start | read as the class, p ≥ 0.9 | Fréchet | last five | real images |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| \`${r.spec}\` | \`${r.options}\` | ${r.last.step} | ${r.medianMs?.toFixed(0) ?? ''} | ${r.load} | ${pct(r.last.confident)} | ${fd(r.last.fd)} | ${fd(r.fdFive)} | ${fd(r.last.real_fd)} |`,
  ),
  '',
  ...o.data.map((spec) => `![${spec}: ${arms.map((a) => ARMS[a].join(' ')).join(', ')}](${slug(spec)}.png)`),
  '',
].join('\n');
writeFileSync(path.join(o.out, 'one-class.md'), table);
console.log(table);
