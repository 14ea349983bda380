// Transformer benchmark, Loom beside PyTorch in one run: a training step (AdamW, clipping at
// 1) and generation at batch 1 with the key/value cache and without it, for the character
// GPT's defaults and for the usual small-GPT shape (4 blocks, embedding 128, context 128).
// Usage: npm run bench -- gpt [--quick]
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import { crossEntropy } from '../src/nn/index.js';
import { AdamW } from '../src/optim/index.js';
import { Rng } from '../src/util/random.js';
import { CharGPT, TEXT_MODELS, Vocab, generate } from '../src/models/text/index.js';
import { ompWaitPolicySetByLoom } from '../src/torch/native.js';
import { printTable, python, repoRoot, workloadMs, type Workload } from './util.js';

interface Side {
  train_step_ms: number;
  gen_cached_chars_per_sec: number;
  gen_uncached_chars_per_sec: number;
}

export async function gptBench(quick: boolean): Promise<void> {
  const d = TEXT_MODELS.gpt;
  await shapeBench(quick, 'the defaults', d);
  await shapeBench(quick, '4 blocks, context 128, batch 32', { ...d, layers: 4, block: 128, batch: 32 });
}

async function shapeBench(
  quick: boolean,
  name: string,
  d: { embed: number; heads: number; layers: number; block: number; batch: number },
): Promise<void> {
  const threads = os.availableParallelism();
  const cfg = {
    vocab: 65,
    embed: d.embed,
    heads: d.heads,
    layers: d.layers,
    block: d.block,
    batch: d.batch,
    steps: quick ? 3 : 10,
    gen_chars: quick ? 300 : 1000,
    threads,
  };
  const env = { ...process.env };
  if (ompWaitPolicySetByLoom) delete env.OMP_WAIT_POLICY;
  const rounds = quick ? 1 : 2;
  const runTorch = (t: number) =>
    JSON.parse(
      execFileSync(
        python(),
        [path.join(repoRoot, 'bench', 'torch_gpt_bench.py'), JSON.stringify({ ...cfg, threads: t })],
        { encoding: 'utf8', env },
      ),
    ) as Side;
  const best = (a: Side | null, b: Side): Side =>
    a
      ? {
          train_step_ms: Math.min(a.train_step_ms, b.train_step_ms),
          gen_cached_chars_per_sec: Math.max(a.gen_cached_chars_per_sec, b.gen_cached_chars_per_sec),
          gen_uncached_chars_per_sec: Math.max(a.gen_uncached_chars_per_sec, b.gen_uncached_chars_per_sec),
        }
      : b;
  let loom: Side | null = null;
  let torch1: Side | null = null;
  let torchN: Side | null = null;
  for (let r = 0; r < rounds; r++) {
    torch1 = best(torch1, runTorch(1));
    torchN = best(torchN, runTorch(threads));
    T.setNumThreads(threads);
    loom = best(loom, {
      train_step_ms: workloadMs(gptStepWorkload(cfg), cfg.steps),
      gen_cached_chars_per_sec: genSpeed(cfg, true),
      gen_uncached_chars_per_sec: genSpeed(cfg, false),
    });
  }
  const [l, t1, tn] = [loom!, torch1!, torchN!];
  const speed = (k: keyof Side) => [
    l[k].toFixed(0),
    t1[k].toFixed(0),
    tn[k].toFixed(0),
    (Math.max(t1[k], tn[k]) / l[k]).toFixed(2),
  ];
  printTable(
    [`transformer: ${name}`, 'Loom', 'PyTorch 1 thr', `PyTorch ${threads} thr`, 'time ratio Loom/best PyTorch'],
    [
      [
        `train step, ms (Loom ${threads} thr)`,
        l.train_step_ms.toFixed(1),
        t1.train_step_ms.toFixed(1),
        tn.train_step_ms.toFixed(1),
        (l.train_step_ms / Math.min(t1.train_step_ms, tn.train_step_ms)).toFixed(2),
      ],
      ['generation with cache, chars/s', ...speed('gen_cached_chars_per_sec')],
      ['generation without cache, chars/s', ...speed('gen_uncached_chars_per_sec')],
    ],
  );
  console.log(
    `the cache: ${(l.gen_cached_chars_per_sec / l.gen_uncached_chars_per_sec).toFixed(1)}x faster in Loom, ${(
      tn.gen_cached_chars_per_sec / tn.gen_uncached_chars_per_sec
    ).toFixed(1)}x in PyTorch`,
  );
  console.log(
    JSON.stringify({
      date: new Date().toISOString(),
      machine: `${os.cpus()[0].model}, ${threads} cores`,
      shape: name,
      config: cfg,
      rounds,
      loom: l,
      pytorch1: t1,
      pytorchN: tn,
    }),
  );
}

type Config = { vocab: number; embed: number; heads: number; layers: number; block: number; batch: number };

function model(c: Config): CharGPT {
  T.manualSeed(0);
  return new CharGPT({
    vocabSize: c.vocab,
    block: c.block,
    embed: c.embed,
    heads: c.heads,
    layers: c.layers,
    dropout: 0,
  });
}

/**
 * The text trainer's step for --model gpt; torch_gpt_bench.py's train_step. bf16: the
 * forward and loss under CPU autocast, as --precision bf16 runs them.
 */
export function gptStepWorkload(c: Config, bf16 = false): Workload {
  const m = model(c);
  const opt = new AdamW(m.parameters(), {
    lr: 1e-3,
    beta2: 0.99,
    weightDecay: 0.1,
    noDecay: m.parameters().filter((p) => p.ndim < 2),
  });
  const rng = new Rng(0);
  const ids = Int32Array.from({ length: c.batch * (c.block + 1) }, () => rng.int(c.vocab));
  return {
    step: () =>
      T.tidy(() => {
        const all = T.tensor(ids, { shape: [c.batch, c.block + 1] }).long();
        const forward = () => {
          const logits = m.forward(all.narrow(1, 0, c.block));
          return crossEntropy(logits.reshape([-1, c.vocab]), all.narrow(1, 1, c.block).reshape([-1]));
        };
        const loss = bf16 ? T.autocast('bfloat16', forward) : forward();
        opt.backwardStep(loss, { clipNorm: 1 });
      }),
    dispose: () => {
      m.dispose();
      opt.dispose();
    },
  };
}

function genSpeed(c: Config & { gen_chars: number }, cached: boolean): number {
  const m = model(c);
  const chars = Array.from({ length: c.vocab }, (_, i) => String.fromCharCode(33 + i));
  const vocab = new Vocab(chars);
  const prime = chars.slice(0, 60).join('');
  const rng = new Rng(1);
  generate(m, vocab, { length: 100, prime, temperature: 1, cached }, rng);
  let bestCps = 0;
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    generate(m, vocab, { length: c.gen_chars, prime, temperature: 1, cached }, rng);
    bestCps = Math.max(bestCps, (c.gen_chars * 1000) / (performance.now() - t));
  }
  m.dispose();
  return bestCps;
}
