// How OpenMP's idle workers wait, measured on the workloads it moves: the char LSTM's training
// step (where spinning workers fight OpenBLAS's threads) and the fast style net's forward
// pass (where sleeping workers are slow to wake), each setting in a fresh process (libgomp
// reads its environment once). Usage: npm run bench -- wait-policy [--quick]
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import { StyleNet } from '../src/models/style/index.js';
import { medianMs, printTable, repoRoot } from './util.js';
import { charStep } from './engine.js';

/** The settings compared: Loom's default (passive), libgomp's spin counts, and active waiting. */
const SETTINGS: Record<string, Record<string, string>> = {
  'passive (Loom default)': {},
  'GOMP_SPINCOUNT=1k': { GOMP_SPINCOUNT: '1000' },
  'GOMP_SPINCOUNT=10k': { GOMP_SPINCOUNT: '10000' },
  'GOMP_SPINCOUNT=30k': { GOMP_SPINCOUNT: '30000' },
  'GOMP_SPINCOUNT=100k': { GOMP_SPINCOUNT: '100000' },
  'GOMP_SPINCOUNT=1M': { GOMP_SPINCOUNT: '1000000' },
  active: { OMP_WAIT_POLICY: 'ACTIVE' },
};

/** One setting's times, in this process: [LSTM step ms, style apply ms, small conv step ms]. */
export function waitPolicyProbe(runs: number): number[] {
  T.setNumThreads(os.availableParallelism());
  const lstmMs = charStep({ symbols: 57, units: 128, maxlen: 60, batch: 128, steps: runs });
  const net = new StyleNet();
  net.eval();
  const photo = T.keep(T.rand([1, 3, 512, 512]));
  const applyMs = medianMs(() => T.noGrad(() => T.tidy(() => void net.forward(photo))), Math.max(3, runs / 3), 1);
  // Many small ops: a 64-channel 3x3 convolution on 32x32, forward and backward.
  const w = T.keep(T.randn([64, 64, 3, 3]).mul(0.05).requiresGrad_(true));
  const img = T.keep(T.randn([8, 64, 32, 32]));
  const convMs = medianMs(
    () =>
      T.tidy(() => {
        w.grad = null;
        T.relu(T.conv2d(img, w, null, 1, 1))
          .sum()
          .backward();
      }),
    runs,
  );
  return [lstmMs, applyMs, convMs];
}

export function waitPolicyBench(quick: boolean): void {
  const runs = quick ? 5 : 15;
  const rows: string[][] = [];
  const script = path.join(repoRoot, 'dist', 'bench', 'wait-policy-child.js');
  for (let round = 0; round < (quick ? 1 : 2); round++) {
    for (const [name, env] of Object.entries(SETTINGS)) {
      const clean = { ...process.env };
      delete clean.OMP_WAIT_POLICY;
      delete clean.GOMP_SPINCOUNT;
      const out = execFileSync(process.execPath, [script, String(runs)], {
        encoding: 'utf8',
        env: { ...clean, ...env },
      });
      const [lstmMs, applyMs, convMs] = JSON.parse(out) as number[];
      rows.push([`${name} (round ${round + 1})`, lstmMs.toFixed(1), applyMs.toFixed(0), convMs.toFixed(2)]);
      console.log(rows[rows.length - 1].join('  '));
    }
  }
  console.log(`\n${os.cpus()[0].model}, ${os.availableParallelism()} threads, median of ${runs}`);
  printTable(['waiting', 'char LSTM step, ms', 'fast style 512², ms', '3x3 conv fwd+bwd, ms'], rows);
}
