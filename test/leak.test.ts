// The live tensor count stays flat across long training loops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../src/torch/index.js';
import { Linear, LSTM, ReLU, Sequential, mse, crossEntropy } from '../src/nn/index.js';
import { RMSprop, Adam, clipGradNorm } from '../src/optim/index.js';

test('1,000 training steps of a small network: live tensors after step 10 equal those after step 1,000', () => {
  T.manualSeed(0);
  const model = new Sequential(new Linear(8, 16), new ReLU(), new Linear(16, 1));
  const opt = new RMSprop(model.parameters(), { lr: 1e-3 });
  const x = T.keep(T.randn([32, 8]));
  const y = T.keep(x.sum({ dim: 1, keepdim: true }));
  let at10 = -1;
  let first = 0;
  let last = 0;
  for (let step = 1; step <= 1000; step++) {
    const loss = T.tidy(() => {
      const l = mse(model.forward(x), y);
      opt.zeroGrad();
      l.backward();
      opt.step();
      return l.item();
    });
    if (step === 1) first = loss;
    last = loss;
    if (step === 10) at10 = T.liveTensors().undisposed;
  }
  assert.equal(T.liveTensors().undisposed, at10);
  assert.ok(last < first / 2, `the loss fell (${first} -> ${last})`);
});

test('LSTM training steps with Adam and clipping keep the live tensor count flat', () => {
  T.manualSeed(0);
  const lstm = new LSTM(5, 8, { batchFirst: true, numLayers: 2 });
  const head = new Linear(8, 5);
  const params = [...lstm.parameters(), ...head.parameters()];
  const opt = new Adam(params, { lr: 1e-2 });
  const counts: number[] = [];
  for (let step = 1; step <= 60; step++) {
    T.tidy(() => {
      const x = T.randn([4, 7, 5]);
      const target = T.randint(0, 5, [4 * 7], 'int64');
      const [out] = lstm.forward(x);
      const loss = crossEntropy(head.forward(out).reshape([-1, 5]), target);
      opt.zeroGrad();
      loss.backward();
      clipGradNorm(params, 1);
      opt.step();
    });
    counts.push(T.liveTensors().undisposed);
  }
  assert.equal(counts[counts.length - 1], counts[9]);
});

test('L-BFGS steps keep the live tensor count flat once its history is full', async () => {
  const { LBFGS } = await import('../src/optim/index.js');
  const x = T.tensor([-1.5, 2], { dtype: 'float64', requiresGrad: true });
  const opt = new LBFGS([x], { maxIter: 2, historySize: 3, lineSearch: 'strong_wolfe' });
  const closure = () =>
    T.tidy(() => {
      opt.zeroGrad();
      const [a, b] = x.unbind(0);
      const l = a
        .neg()
        .add(1)
        .pow(2)
        .add(b.sub(a.pow(2)).pow(2).mul(10));
      l.backward();
      return l.item();
    });
  const counts: number[] = [];
  for (let i = 0; i < 15; i++) {
    opt.step(closure);
    counts.push(T.liveTensors().undisposed);
  }
  assert.equal(counts[14], counts[5]);
  opt.dispose();
});

test('large blocks: a loop whose blocks of different sizes add up to more than its peak maps none anew after its first step', () => {
  // A step holds two 100 MB blocks at once, frees them, then takes a 150 MB one: a peak of
  // 200 MB, but 350 MB of distinct sizes, since a cached block serves only its own size. A
  // cache bounded by the peak unmapped and mapped blocks again every step (the dream step's
  // page faults: 1.3x PyTorch's time, docs/benchmarks.md).
  T.emptyCache(); // forget earlier tests' peak
  const step = () =>
    T.tidy(() => {
      const a = T.zeros([25_000_000]);
      const b = T.zeros([25_001_024]);
      a.dispose();
      b.dispose();
      T.zeros([37_500_000]).dispose();
    });
  step();
  const after1 = T.cpuMemory().maps;
  for (let i = 0; i < 3; i++) step();
  assert.equal(T.cpuMemory().maps, after1);
  T.emptyCache();
  assert.equal(T.cpuMemory().largeCached, 0);
});
