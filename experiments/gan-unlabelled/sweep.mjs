// Unconditional MNIST in equal wall-clock time: the dcgan recipe (the unset default for
// unlabelled data) against the sngan recipe and variants. Runs one after another (one heavy
// job at a time) on one libtorch thread (--threads 1: on a shared 2-core machine, two
// threads stall behind another process and the steps a minute buys swing by 2x), then
// prints a table of each run's last judged checkpoint (1,000 samples from fixed latent
// points, the figures the training log reports): steps, the judge's share at confidence
// >= 0.9, classes, the Fréchet distance, and the same at a step every arm reaches.
// A run whose folder already has metrics is summarised, not retrained.
//
//   node experiments/gan-unlabelled/sweep.mjs [minutes=4] [out-prefix=runs/sweep-] [arms...]
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

const minutes = process.argv[2] ?? '4';
const prefix = process.argv[3] ?? 'runs/sweep-';
const only = process.argv.slice(4);
const ARMS = {
  // dcgan conditioned on k-means clusters of the images (the unlabelled default since)
  clustered: ['--recipe', 'clustered'],
  'clustered-seed1': ['--recipe', 'clustered', '--seed', '1'],
  'clustered-100': ['--recipe', 'clustered', '--clusters', '100'],
  'clustered-ema999': ['--recipe', 'clustered', '--ema', '0.999'],
  'clustered-ema995': ['--recipe', 'clustered', '--ema', '0.995'],
  'clustered-ema995-seed1': ['--recipe', 'clustered', '--ema', '0.995', '--seed', '1'],
  // separate rates (TTUR, Heusel et al. 2017): the discriminator faster than the generator
  'clustered-ttur': ['--recipe', 'clustered', '--d-lr', '2e-3', '--g-lr', '1e-3'],
  'clustered-ttur-slow-g': ['--recipe', 'clustered', '--d-lr', '1e-3', '--g-lr', '5e-4'],
  dcgan: ['--recipe', 'dcgan'],
  // spectrally normalised discriminator, hinge loss, averaged generator
  sngan: ['--recipe', 'sngan'],
  'sngan-seed1': ['--recipe', 'sngan', '--seed', '1'],
  'sngan-augment': ['--recipe', 'sngan', '--augment'],
  // not run for the table in docs/guides/gan.md
  'sngan-ttur': ['--recipe', 'sngan', '--d-lr', '2e-4', '--g-lr', '1e-4'],
};
const EQUAL_STEP = 2000;
const rows = [];
for (const [name, args] of Object.entries(ARMS)) {
  if (only.length && !only.includes(name)) continue;
  const out = `${prefix}${name}`;
  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  if (!existsSync(`${out}/metrics.jsonl`))
    execFileSync(
      'node',
      [
        'dist/src/cli/main.js',
        'gan',
        'train',
        '--no-conditional',
        '--threads',
        '1',
        '--minutes',
        minutes,
        '--out',
        out,
        ...args,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
  const lines = readFileSync(`${out}/metrics.jsonl`, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const judged = lines.filter((l) => typeof l.fd === 'number');
  const last = judged.at(-1);
  const at = judged.find((l) => l.step === EQUAL_STEP);
  const ms = lines
    .filter((l) => l.ms_per_step !== undefined)
    .map((l) => l.ms_per_step)
    .sort((a, b) => a - b);
  // The share moves by a few points from one checkpoint to the next: the last five's mean too.
  const tail = judged.slice(-5);
  const mean = (f) => tail.reduce((a, l) => a + f(l), 0) / tail.length;
  const lastFive = { confident: mean((l) => l.confident), fd: mean((l) => l.fd) };
  rows.push({ name, args: args.join(' '), load, steps: last.step, last, lastFive, at, medianMs: ms[ms.length >> 1] });
}
const pct = (x) => (x === undefined ? '' : `${(x * 100).toFixed(1)}%`);
const fd = (x) => (x === undefined ? '' : x.toFixed(1));
console.log(
  `| arm | steps | median ms/step | confident ≥ 0.9 | classes | Fréchet | last five checkpoints: confident, Fréchet | at step ${EQUAL_STEP}: confident, Fréchet |`,
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows)
  console.log(
    `| \`${r.args}\` | ${r.steps} | ${r.medianMs.toFixed(0)} | ${pct(r.last.confident)} | ${r.last.classes} | ${fd(r.last.fd)} | ${pct(r.lastFive.confident)}, ${fd(r.lastFive.fd)} | ${pct(r.at?.confident)}, ${fd(r.at?.fd)} |`,
  );
