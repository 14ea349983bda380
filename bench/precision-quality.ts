// Mixed precision's cost in quality: each system trained (or, for style, optimised) twice from
// the same seed for the same steps, in float32 and under bf16 autocast, and scored on what its
// guide reports: held-out bits per character (transformer, LSTM), the VAE's test -ELBO, the
// GAN judge's confident share, and the style scores (colour, texture, content).
// Usage: npm run bench -- precision-quality [--steps N] [--only transformer,lstm,vae,gan,style]
//   [--seeds 0,1,2]
// With several seeds, the bound is held against the mean difference: one run's rounding sends
// a long run down a different path (float32 on another libtorch does too), so one seed's
// difference can be far wider than what the precision itself changes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import { native } from '../src/torch/native.js';
import { TEXT_DEFAULTS, trainText } from '../src/models/text/index.js';
import { VAE_DEFAULTS, trainVae } from '../src/models/vae/index.js';
import { GAN_DEFAULTS, trainGan } from '../src/models/gan/index.js';
import { STYLE_DEFAULTS, transferStyle } from '../src/models/style/index.js';
import { scoreStyle } from '../src/models/style/quality.js';
import { readImage } from '../src/io/images.js';
import { resolveImage } from '../src/io/builtin-images.js';
import { loadBackbone, loadMobileNetV2 } from '../src/vision/weights.js';
import { printTable } from './util.js';

type Precision = 'fp32' | 'bf16';

interface Scored {
  /** Each measure's value; lower is better unless the workload says otherwise. */
  values: Record<string, number>;
  seconds: number;
}

interface QualityWorkload {
  name: string;
  /** The largest difference, bf16 against fp32, that still counts as the same quality, per measure. */
  bounds: Record<string, number>;
  run(precision: Precision, steps: number, seed: number): Promise<Scored>;
}

/** Runs fn in a fresh run folder, removed afterwards; returns its result and wall seconds. */
async function timedRun<R>(fn: (dir: string) => Promise<R>): Promise<{ r: R; seconds: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'loom-precision-quality-'));
  const t0 = performance.now();
  try {
    const r = await fn(dir);
    return { r, seconds: (performance.now() - t0) / 1000 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function textWorkload(name: string, model: 'gpt' | 'lstm'): QualityWorkload {
  return {
    name,
    bounds: { 'held-out bpc': 0.02 },
    async run(precision, steps, seed) {
      // The defaults' warm-up would outlast a short run: a tenth of its steps instead.
      const { r, seconds } = await timedRun((dir) =>
        trainText(
          {
            ...TEXT_DEFAULTS,
            model,
            steps,
            warmup: Math.ceil(steps / 10),
            sampleLength: 0,
            logEvery: 100,
            precision,
            seed,
          },
          dir,
          {},
        ),
      );
      return { values: { 'held-out bpc': r.valBpc ?? NaN }, seconds };
    },
  };
}

const WORKLOADS: QualityWorkload[] = [
  textWorkload('transformer (text defaults, builtin:sotu)', 'gpt'),
  textWorkload('LSTM (keras recipe, builtin:sotu)', 'lstm'),
  {
    name: 'VAE (defaults, MNIST, one epoch of 12,000 images)',
    bounds: { 'test -ELBO': 0.5 },
    async run(precision, _steps, seed) {
      const { r, seconds } = await timedRun((dir) =>
        trainVae({ ...VAE_DEFAULTS, epochs: 1, limit: 12_000, logEvery: 200, precision, seed }, dir, {}),
      );
      return { values: { 'test -ELBO': r.test.elbo }, seconds };
    },
  },
  {
    name: 'GAN (defaults, conditional MNIST)',
    bounds: { 'judge share %': 3 },
    async run(precision, steps, seed) {
      let share = NaN;
      const { seconds } = await timedRun((dir) =>
        trainGan(
          { ...GAN_DEFAULTS, steps, sampleEvery: steps, precision, seed },
          dir,
          {},
          { onSample: (s) => void (share = (s.confident ?? NaN) * 100) },
        ),
      );
      return { values: { 'judge share %': share }, seconds };
    },
  },
  {
    name: 'Gatys style (defaults at height 256, horses x scream)',
    bounds: { colour: 0.03, texture: 0.03, content: 0.03 },
    async run(precision, _steps, seed) {
      using photo = await readImage(resolveImage('builtin:horses'));
      using painting = await readImage(resolveImage('builtin:scream'), { maxSide: 1024 });
      const backbone = loadBackbone('inception');
      const judge = loadMobileNetV2();
      try {
        const t0 = performance.now();
        using out = await transferStyle(backbone, photo, [{ image: painting, weight: 1 }], {
          ...STYLE_DEFAULTS,
          height: 256,
          precision,
          seed,
        });
        const seconds = (performance.now() - t0) / 1000;
        const s = scoreStyle(judge, out, photo, painting);
        return { values: { colour: s.colour, texture: s.texture, content: s.content }, seconds };
      } finally {
        judge.dispose();
        backbone.net.dispose();
      }
    },
  },
];

const KEYS = ['transformer', 'lstm', 'vae', 'gan', 'style'];

export async function precisionQualityBench(opts: {
  steps: number;
  only: string[] | null;
  seeds: number[];
}): Promise<void> {
  const flags = readFileSync('/proc/cpuinfo', 'utf8').match(/\b(avx512_bf16|amx_bf16)\b/g) ?? [];
  console.log(
    `${os.cpus()[0].model}; bf16 flags: ${[...new Set(flags)].join(' ') || 'none'}; ${T.threadSetting()} thread(s); libtorch ${native.info().torchVersion}; load ${os.loadavg()[0].toFixed(1)}`,
  );
  if (!T.bf16Supported()) {
    console.log('this CPU has no bf16 units, so --precision bf16 is refused here; nothing to compare');
    return;
  }
  const several = opts.seeds.length > 1;
  const header = [
    `equal work, ${opts.steps} steps where counted`,
    'measure',
    'seed',
    'fp32',
    'bf16',
    several ? 'bf16 - fp32 (mean: ± sd)' : 'bf16 - fp32',
    'within bound',
    'seconds fp32 / bf16',
  ];
  const signed = (x: number, digits: number) => (x >= 0 ? '+' : '') + x.toFixed(digits);
  const judged = (diff: number, bound: number) => (Math.abs(diff) <= bound ? `yes (${bound})` : `no (${bound})`);
  const rows: string[][] = [];
  const results: unknown[] = [];
  for (const [i, w] of WORKLOADS.entries()) {
    if (opts.only && !opts.only.includes(KEYS[i])) continue;
    const runs: { seed: number; fp32: Scored; bf16: Scored }[] = [];
    const mine: string[][] = [];
    for (const seed of opts.seeds) {
      const fp32 = await w.run('fp32', opts.steps, seed);
      const bf16 = await w.run('bf16', opts.steps, seed);
      runs.push({ seed, fp32, bf16 });
      const these = Object.entries(w.bounds).map(([measure, bound]) => {
        const diff = bf16.values[measure] - fp32.values[measure];
        return [
          w.name,
          measure,
          String(seed),
          fp32.values[measure].toFixed(3),
          bf16.values[measure].toFixed(3),
          signed(diff, 3),
          several ? '' : judged(diff, bound),
          `${fp32.seconds.toFixed(0)} / ${bf16.seconds.toFixed(0)}`,
        ];
      });
      // Each run's rows as it ends, so a long run that stops still leaves what it measured.
      printTable(header, these);
      mine.push(...these);
    }
    if (several) {
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      for (const [measure, bound] of Object.entries(w.bounds)) {
        const diffs = runs.map((r) => r.bf16.values[measure] - r.fp32.values[measure]);
        const m = mean(diffs);
        const sd = Math.sqrt(diffs.reduce((a, d) => a + (d - m) ** 2, 0) / (diffs.length - 1));
        mine.push([
          w.name,
          measure,
          'mean',
          mean(runs.map((r) => r.fp32.values[measure])).toFixed(3),
          mean(runs.map((r) => r.bf16.values[measure])).toFixed(3),
          `${signed(m, 3)} ± ${sd.toFixed(3)}`,
          judged(m, bound),
          '',
        ]);
      }
    }
    rows.push(...mine);
    results.push({ workload: w.name, runs, bounds: w.bounds });
  }
  console.log('');
  printTable(header, rows);
  console.log(JSON.stringify({ date: new Date().toISOString(), steps: opts.steps, seeds: opts.seeds, results }));
}

export const PRECISION_QUALITY_WORKLOADS = KEYS;
