// `npm run bench -- ddp [--quick]`: data-parallel training against one process on the same
// cores, in one run: for each trainer, 2 processes x 1 thread (`loom launch`, c10d/Gloo)
// beside 1 process x 2 threads, at the same global batch; throughput from the runs' own logs,
// and the time per step the ranks spend in collectives (the gradient all-reduce and the
// small agreements on losses and stops). Where the addon has c10d's Reducer (libtorch 2.x),
// two processes run twice: gradients averaged after the backward pass, and all-reduced in
// buckets during it (whose waiting is then inside the backward pass, not in the collectives).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadCorpus } from '../src/io/corpus.js';
import { freePort } from '../src/distributed/index.js';
import { native } from '../src/torch/native.js';
import { median, printTable, repoRoot } from './util.js';

const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

interface Workload {
  name: string;
  unit: string;
  /** The training command without --out, --batch, --threads. */
  args: string[];
  batch: number;
  steps: number;
  /** Items per step from a log line's global batch. */
  perStep: (batch: number) => number;
}

function stepLines(run: string): Record<string, number>[] {
  return readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((m) => typeof m.ms_per_step === 'number');
}

export async function ddpBench(quick: boolean): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'loom-ddp-'));
  const corpus = path.join(dir, 'sotu.txt');
  writeFileSync(corpus, loadCorpus('builtin:sotu').text.slice(0, 1_000_000));
  const n = quick ? 20 : 60;
  const workloads: Workload[] = [
    {
      name: 'text (LSTM 128, maxlen 60)',
      unit: 'chars/s',
      args: ['text', 'train', '--model', 'lstm', '--corpus', corpus, '--sample-length', '10', '--log-every', '10'],
      batch: 128,
      steps: n,
      perStep: (b) => b * 60,
    },
    {
      name: 'vae (latent 2, MNIST)',
      unit: 'images/s',
      args: ['vae', 'train', '--epochs', '1000', '--limit', '20000', '--log-every', '10'],
      batch: 64,
      steps: n,
      perStep: (b) => b,
    },
    {
      name: "gan (the keras recipe's networks, 64 filters, MNIST)",
      unit: 'images/s',
      args: [
        'gan',
        'train',
        '--recipe',
        'keras',
        '--g-filters',
        '64',
        '--d-filters',
        '64',
        '--limit',
        '5000',
        '--sample-every',
        '100000',
        '--log-every',
        '10',
      ],
      batch: 32,
      steps: n,
      perStep: (b) => b,
    },
    {
      name: 'fast style (width 16, 128 px)',
      unit: 'images/s',
      args: ['style', 'train', '--size', '128', '--width', '16', '--sample-every', '100000', '--log-every', '5'],
      batch: 4,
      steps: quick ? 10 : 20,
      perStep: (b) => b,
    },
  ];
  const reducer = !!native.distReducer;
  const rows: string[][] = [];
  for (const w of workloads) {
    const steps = w.name.startsWith('vae') ? [] : ['--steps', String(w.steps)];
    const one = path.join(dir, `${w.args[0]}-one`);
    const a = spawnSync(
      process.execPath,
      [
        CLI,
        ...w.args,
        ...steps,
        '--out',
        one,
        '--batch',
        String(w.batch),
        '--threads',
        '2',
        '--json',
        ...(steps.length ? [] : ['--minutes', '0.5']),
      ],
      { encoding: 'utf8' },
    );
    if (a.status !== 0) throw new Error(`${w.name}, one process: ${a.stderr}`);
    const two = async (out: string, env: NodeJS.ProcessEnv) => {
      const port = String(await freePort());
      const b = spawnSync(
        process.execPath,
        [
          CLI,
          'launch',
          '--nproc-per-node',
          '2',
          '--master-port',
          port,
          '--',
          ...w.args,
          ...steps,
          '--out',
          out,
          '--batch',
          String(w.batch / 2),
          '--threads',
          '1',
          '--json',
          ...(steps.length ? [] : ['--minutes', '0.5']),
        ],
        { encoding: 'utf8', env: { ...process.env, ...env } },
      );
      if (b.status !== 0) throw new Error(`${w.name}, two processes: ${b.stderr}`);
      // The first log line holds the warm-up; the rest are steady.
      const lines = stepLines(out).slice(1);
      return { ms: median(lines.map((m) => m.ms_per_step)), comm: median(lines.map((m) => m.collective_ms_per_step)) };
    };
    const msA = median(
      stepLines(one)
        .slice(1)
        .map((m) => m.ms_per_step),
    );
    const after = await two(path.join(dir, `${w.args[0]}-after`), { LOOM_DDP_REDUCER: '0' });
    const during = reducer ? await two(path.join(dir, `${w.args[0]}-during`), {}) : null;
    const rate = (ms: number) => `${((w.perStep(w.batch) * 1000) / ms).toFixed(0)} ${w.unit}`;
    const comm = (r: { ms: number; comm: number }) =>
      `${r.comm.toFixed(1)} ms (${((r.comm / r.ms) * 100).toFixed(0)}%)`;
    rows.push([
      w.name,
      String(w.batch),
      rate(msA),
      `${rate(after.ms)} (${(msA / after.ms).toFixed(2)}x)`,
      comm(after),
      ...(during ? [`${rate(during.ms)} (${(msA / during.ms).toFixed(2)}x)`, comm(during)] : []),
    ]);
  }
  console.log(
    `\ndata-parallel: 2 processes x 1 thread (loom launch, Gloo) against 1 process x 2 threads, same global batch`,
  );
  printTable(
    [
      'workload',
      'global batch',
      '1 x 2 threads',
      '2 x 1 thread, averaged after backward',
      'collectives per step',
      ...(reducer ? ['2 x 1 thread, Reducer during backward', 'collectives outside backward'] : []),
    ],
    rows,
  );
  if (!reducer)
    console.log('this addon has no Reducer (libtorch 1.13): gradients are averaged after the backward pass');
}
