// Engine benchmark, Loom beside PyTorch in one run: per-call overhead of a tiny op,
// 1024² matmul GFLOP/s, and a training step of the book's char LSTM (the keras recipe).
// Usage: npm run bench -- engine [--quick]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import { ompWaitPolicySetByLoom } from '../src/torch/native.js';
import { Linear, LSTM, crossEntropy } from '../src/nn/index.js';
import { RMSprop } from '../src/optim/index.js';
import { repoRoot, python, median, medianMs, printTable } from './util.js';

type Side = { tiny_add_us: number; matmul_gflops: number; char_step_ms: number };

// Best of several rounds, alternating Loom and PyTorch, because this shared 2-core VM is noisy.
function best(a: Side | undefined, b: Side): Side {
  if (!a) return b;
  return {
    tiny_add_us: Math.min(a.tiny_add_us, b.tiny_add_us),
    matmul_gflops: Math.max(a.matmul_gflops, b.matmul_gflops),
    char_step_ms: Math.min(a.char_step_ms, b.char_step_ms),
  };
}

export async function engineBench(quick: boolean): Promise<void> {
  const cfg = {
    threads: [1, os.availableParallelism()].filter((v, i, a) => a.indexOf(v) === i),
    tiny_calls: quick ? 20000 : 200000,
    matmul_n: 1024,
    char: { symbols: 57, units: 128, maxlen: 60, batch: 128, steps: quick ? 5 : 15 },
  };
  const rounds = quick ? 1 : 3;
  const floorUs = nativeFloor(cfg.tiny_calls);
  // PyTorch as its users run it (Loom's OMP_WAIT_POLICY removed), and with Loom's setting.
  const envDefault = { ...process.env };
  if (ompWaitPolicySetByLoom) delete envDefault.OMP_WAIT_POLICY;
  const runTorch = (env: NodeJS.ProcessEnv) =>
    JSON.parse(
      execFileSync(python(), [path.join(repoRoot, 'bench', 'torch_bench.py'), JSON.stringify(cfg)], {
        encoding: 'utf8',
        env,
      }),
    );
  const loom: Record<number, Side> = {};
  const ptDefault: Record<number, Side> = {};
  const ptPassive: Record<number, Side> = {};
  let torchVersion = '';
  for (let r = 0; r < rounds; r++) {
    const a = runTorch(envDefault);
    const b = runTorch({ ...process.env, OMP_WAIT_POLICY: 'PASSIVE' });
    torchVersion = a.torch;
    for (const threads of cfg.threads) {
      T.setNumThreads(threads);
      loom[threads] = best(loom[threads], {
        tiny_add_us: tinyAdd(cfg.tiny_calls),
        matmul_gflops: matmul(cfg.matmul_n),
        char_step_ms: charStep(cfg.char),
      });
      ptDefault[threads] = best(ptDefault[threads], a[String(threads)]);
      ptPassive[threads] = best(ptPassive[threads], b[String(threads)]);
    }
  }
  const rows: string[][] = [];
  const json: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: `${os.cpus()[0].model}, ${os.availableParallelism()} cores`,
    torch: torchVersion,
    rounds,
    nativeFloorUs: floorUs,
  };
  for (const threads of cfg.threads) {
    const l = loom[threads];
    const p = ptDefault[threads];
    const q = ptPassive[threads];
    json[`threads${threads}`] = { loom: l, pytorch: p, pytorchPassive: q };
    rows.push(
      [
        `tiny add, µs/call (${threads} thr)`,
        l.tiny_add_us.toFixed(2),
        p.tiny_add_us.toFixed(2),
        q.tiny_add_us.toFixed(2),
        (l.tiny_add_us / p.tiny_add_us).toFixed(2),
      ],
      [`  above libtorch's boxed call (${floorUs.toFixed(2)} µs)`, (l.tiny_add_us - floorUs).toFixed(2), '', '', ''],
      [
        `matmul 1024², GFLOP/s (${threads} thr)`,
        l.matmul_gflops.toFixed(1),
        p.matmul_gflops.toFixed(1),
        q.matmul_gflops.toFixed(1),
        (p.matmul_gflops / l.matmul_gflops).toFixed(2),
      ],
      [
        `char LSTM train step, ms (${threads} thr)`,
        l.char_step_ms.toFixed(1),
        p.char_step_ms.toFixed(1),
        q.char_step_ms.toFixed(1),
        (l.char_step_ms / p.char_step_ms).toFixed(2),
      ],
    );
  }
  printTable(['engine benchmark', 'Loom', 'PyTorch', 'PyTorch, passive', 'time ratio Loom/PyTorch'], rows);
  console.log(JSON.stringify(json));
}

function nativeFloor(n: number): number {
  const exe = path.join(repoRoot, 'build', 'native_floor');
  if (!existsSync(exe)) {
    mkdirSync(path.dirname(exe), { recursive: true });
    const inc = ['/usr/include', '/usr/include/torch/csrc/api/include'];
    execFileSync('g++', [
      '-std=c++17',
      '-O2',
      ...inc.map((d) => `-I${d}`),
      path.join(repoRoot, 'bench', 'native_floor.cc'),
      '-o',
      exe,
      '-ltorch',
      '-ltorch_cpu',
      '-lc10',
    ]);
  }
  return Number(execFileSync(exe, [String(n)], { encoding: 'utf8' }));
}

function tinyAdd(n: number): number {
  const a = T.ones([1]);
  let best = Infinity;
  for (let rep = 0; rep < 5; rep++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) a.add(a).dispose();
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e3 / n);
  }
  a.dispose();
  return best;
}

function matmul(n: number): number {
  return T.tidy(() => {
    const x = T.randn([n, n]);
    const y = T.randn([n, n]);
    for (let i = 0; i < 3; i++) x.matmul(y).dispose();
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      x.matmul(y).dispose();
      times.push((performance.now() - t) / 1e3);
    }
    return (2 * n ** 3) / median(times) / 1e9;
  });
}

export function charStep(c: { symbols: number; units: number; maxlen: number; batch: number; steps: number }): number {
  T.manualSeed(0);
  const lstm = new LSTM(c.symbols, c.units, { batchFirst: true });
  const dense = new Linear(c.units, c.symbols);
  const params = [...lstm.parameters(), ...dense.parameters()];
  const opt = new RMSprop(params, { lr: 0.01 });
  const x = T.keep(T.tidy(() => T.eye(c.symbols).index([T.randint(0, c.symbols, [c.batch, c.maxlen], 'int64')])));
  const y = T.keep(T.randint(0, c.symbols, [c.batch], 'int64'));
  const step = () =>
    T.tidy(() => {
      const [out] = lstm.forward(x);
      const loss = crossEntropy(dense.forward(out.select(1, -1)), y);
      opt.zeroGrad();
      loss.backward();
      opt.step();
    });
  const ms = medianMs(step, c.steps);
  for (const t of [x, y]) t.dispose();
  lstm.dispose();
  dense.dispose();
  opt.dispose();
  return ms;
}
