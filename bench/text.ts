// Text benchmark, Loom beside PyTorch in one run: a training step of the book's Keras
// recipe (LSTM 128, 60 steps, batch 128, RMSprop, last-character objective) and
// stateful generation speed at batch 1. Usage: npm run bench -- text [--quick]
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import { crossEntropy } from '../src/nn/index.js';
import { RMSprop } from '../src/optim/index.js';
import { Rng } from '../src/util/random.js';
import { CharLSTM, Vocab, generate } from '../src/models/text/index.js';
import { ompWaitPolicySetByLoom } from '../src/torch/native.js';
import { printTable, python, repoRoot, workloadMs, type Workload } from './util.js';

interface Side {
  train_step_ms: number;
  gen_chars_per_sec: number;
}

export async function textBench(quick: boolean): Promise<void> {
  const threads = os.availableParallelism();
  const cfg = {
    vocab: 57,
    units: 128,
    maxlen: 60,
    batch: 128,
    steps: quick ? 5 : 15,
    gen_chars: quick ? 500 : 3000,
    threads,
  };
  const env = { ...process.env };
  if (ompWaitPolicySetByLoom) delete env.OMP_WAIT_POLICY;
  const rounds = quick ? 1 : 3;
  let loom: Side | null = null;
  let torch1: Side | null = null;
  let torchN: Side | null = null;
  const best = (a: Side | null, b: Side): Side =>
    a
      ? {
          train_step_ms: Math.min(a.train_step_ms, b.train_step_ms),
          gen_chars_per_sec: Math.max(a.gen_chars_per_sec, b.gen_chars_per_sec),
        }
      : b;
  const runTorch = (t: number) =>
    JSON.parse(
      execFileSync(
        python(),
        [path.join(repoRoot, 'bench', 'torch_text_bench.py'), JSON.stringify({ ...cfg, threads: t })],
        { encoding: 'utf8', env },
      ),
    ) as Side;
  for (let r = 0; r < rounds; r++) {
    torch1 = best(torch1, runTorch(1));
    torchN = best(torchN, runTorch(threads));
    T.setNumThreads(threads);
    loom = best(loom, {
      train_step_ms: workloadMs(textStepWorkload(cfg), cfg.steps),
      gen_chars_per_sec: genSpeed(cfg),
    });
  }
  const l = loom!;
  const rows = [
    [
      `train step, ms (Loom ${threads} thr)`,
      l.train_step_ms.toFixed(1),
      torch1!.train_step_ms.toFixed(1),
      torchN!.train_step_ms.toFixed(1),
      (l.train_step_ms / Math.min(torch1!.train_step_ms, torchN!.train_step_ms)).toFixed(2),
    ],
    [
      'generation, chars/s, batch 1',
      l.gen_chars_per_sec.toFixed(0),
      torch1!.gen_chars_per_sec.toFixed(0),
      torchN!.gen_chars_per_sec.toFixed(0),
      (Math.max(torch1!.gen_chars_per_sec, torchN!.gen_chars_per_sec) / l.gen_chars_per_sec).toFixed(2),
    ],
  ];
  printTable(
    [
      'text benchmark (keras recipe)',
      'Loom',
      'PyTorch 1 thr',
      `PyTorch ${threads} thr`,
      'time ratio Loom/best PyTorch',
    ],
    rows,
  );
  console.log(
    JSON.stringify({
      date: new Date().toISOString(),
      machine: `${os.cpus()[0].model}, ${threads} cores`,
      rounds,
      loom: l,
      pytorch1: torch1,
      pytorchN: torchN,
    }),
  );
}

/** The text trainer's step (--objective last --clip 0) on the keras recipe's LSTM; torch_text_bench.py's train_step. */
export function textStepWorkload(c: { vocab: number; units: number; maxlen: number; batch: number }): Workload {
  T.manualSeed(0);
  const model = new CharLSTM({ vocabSize: c.vocab, units: c.units, layers: 1, dropout: 0 });
  const opt = new RMSprop(model.parameters(), { lr: 0.01 });
  const ids = new Int32Array(c.batch * (c.maxlen + 1)).map(() => Math.floor(Math.random() * c.vocab));
  // The same work as the text trainer's step with --objective last --clip 0.
  const step = () =>
    T.tidy(() => {
      const all = T.tensor(ids, { shape: [c.batch, c.maxlen + 1] }).long();
      const [h] = model.hidden(all.narrow(1, 0, c.maxlen));
      const loss = crossEntropy(model.head.forward(h.select(1, -1)), all.select(1, c.maxlen));
      opt.zeroGrad();
      loss.backward();
      opt.step();
    });
  return {
    step,
    dispose: () => {
      model.dispose();
      opt.dispose();
    },
  };
}

function genSpeed(c: { vocab: number; units: number; maxlen: number; gen_chars: number }): number {
  T.manualSeed(0);
  const chars = Array.from({ length: c.vocab }, (_, i) => String.fromCharCode(33 + i));
  const vocab = new Vocab(chars);
  const model = new CharLSTM({ vocabSize: c.vocab, units: c.units, layers: 1, dropout: 0 });
  const prime = chars.slice(0, c.maxlen).join('').padEnd(c.maxlen, chars[0]);
  const rng = new Rng(1);
  generate(model, vocab, { length: 200, prime, temperature: 1 }, rng);
  let bestCps = 0;
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    generate(model, vocab, { length: c.gen_chars, prime, temperature: 1 }, rng);
    bestCps = Math.max(bestCps, (c.gen_chars * 1000) / (performance.now() - t));
  }
  model.dispose();
  return bestCps;
}
