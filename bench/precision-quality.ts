// Mixed precision's cost in quality: each system trained (or, for style, optimised) twice from
// the same seed for the same steps, in float32 and under bf16 autocast, and scored on what its
// guide reports: held-out bits per character (transformer, LSTM), the VAE's test -ELBO, the
// GAN judge's confident share, and the style scores (colour, texture, content).
// Usage: npm run bench -- precision-quality [--steps N] [--only transformer,lstm,vae,gan,style]
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
  run(precision: Precision, steps: number): Promise<Scored>;
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
    async run(precision, steps) {
      // The defaults' warm-up would outlast a short run: a tenth of its steps instead.
      const { r, seconds } = await timedRun((dir) =>
        trainText(
          { ...TEXT_DEFAULTS, model, steps, warmup: Math.ceil(steps / 10), sampleLength: 0, logEvery: 100, precision },
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
    async run(precision) {
      const { r, seconds } = await timedRun((dir) =>
        trainVae({ ...VAE_DEFAULTS, epochs: 1, limit: 12_000, logEvery: 200, precision }, dir, {}),
      );
      return { values: { 'test -ELBO': r.test.elbo }, seconds };
    },
  },
  {
    name: 'GAN (defaults, conditional MNIST)',
    bounds: { 'judge share %': 3 },
    async run(precision, steps) {
      let share = NaN;
      const { seconds } = await timedRun((dir) =>
        trainGan(
          { ...GAN_DEFAULTS, steps, sampleEvery: steps, precision },
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
    async run(precision) {
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

export async function precisionQualityBench(opts: { steps: number; only: string[] | null }): Promise<void> {
  const flags = readFileSync('/proc/cpuinfo', 'utf8').match(/\b(avx512_bf16|amx_bf16)\b/g) ?? [];
  console.log(
    `${os.cpus()[0].model}; bf16 flags: ${[...new Set(flags)].join(' ') || 'none'}; ${T.threadSetting()} thread(s); libtorch ${native.info().torchVersion}; load ${os.loadavg()[0].toFixed(1)}`,
  );
  if (!T.bf16Supported()) {
    console.log('this CPU has no bf16 units, so --precision bf16 is refused here; nothing to compare');
    return;
  }
  const header = [
    `equal work, ${opts.steps} steps where counted`,
    'measure',
    'fp32',
    'bf16',
    'bf16 - fp32',
    'within bound',
    'seconds fp32 / bf16',
  ];
  const rows: string[][] = [];
  const results: unknown[] = [];
  for (const [i, w] of WORKLOADS.entries()) {
    if (opts.only && !opts.only.includes(KEYS[i])) continue;
    const scored: Partial<Record<Precision, Scored>> = {};
    for (const precision of ['fp32', 'bf16'] as const) scored[precision] = await w.run(precision, opts.steps);
    const [a, b] = [scored.fp32!, scored.bf16!];
    const mine = Object.entries(w.bounds).map(([measure, bound]) => {
      const diff = b.values[measure] - a.values[measure];
      return [
        w.name,
        measure,
        a.values[measure].toFixed(3),
        b.values[measure].toFixed(3),
        (diff >= 0 ? '+' : '') + diff.toFixed(3),
        Math.abs(diff) <= bound ? `yes (${bound})` : `no (${bound})`,
        `${a.seconds.toFixed(0)} / ${b.seconds.toFixed(0)}`,
      ];
    });
    // Each workload's rows as it ends, so a long run that stops still leaves what it measured.
    printTable(header, mine);
    rows.push(...mine);
    results.push({ workload: w.name, fp32: a, bf16: b, bounds: w.bounds });
  }
  console.log('');
  printTable(header, rows);
  console.log(JSON.stringify({ date: new Date().toISOString(), steps: opts.steps, results }));
}

export const PRECISION_QUALITY_WORKLOADS = KEYS;
