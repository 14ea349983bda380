// Layers and optimizers against PyTorch (test/golden/make_framework_golden.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../src/torch/index.js';
import * as nn from '../src/nn/index.js';
import { SGD, Adam, AdamW, RMSprop, LBFGS, type Optimizer } from '../src/optim/index.js';
import { assertClose, fromEnc, golden, type Enc } from './helpers.js';

const G = golden('framework.json');

const makers: Record<string, () => nn.Module<any[], T.Tensor | [T.Tensor, unknown]>> = {
  Linear: () => new nn.Linear(5, 3),
  Conv2d: () => new nn.Conv2d(3, 4, 3, { stride: 2, padding: 1 }),
  ConvTranspose2d: () => new nn.ConvTranspose2d(4, 2, 3, { stride: 2, padding: 1, outputPadding: 1 }),
  BatchNorm2d: () => new nn.BatchNorm2d(3),
  InstanceNorm2d: () => new nn.InstanceNorm2d(3),
  LSTM: () => new nn.LSTM(4, 6, { numLayers: 2, batchFirst: true }),
  Embedding: () => new nn.Embedding(10, 4),
  Upsample: () => new nn.Upsample(2),
  ReflectionPad2d: () => new nn.ReflectionPad2d(2),
  LeakyReLU: () => new nn.LeakyReLU(0.2),
};

for (const [name, make] of Object.entries(makers)) {
  test(`${name}: output, input and parameter gradients, and state match PyTorch with the same weights`, () => {
    const c = G.layers[name];
    const m = make();
    assert.deepEqual([...m.stateDict().keys()].sort(), Object.keys(c.state).sort(), 'state_dict keys');
    m.loadStateDict(new Map(Object.entries(c.state as Record<string, Enc>).map(([k, v]) => [k, fromEnc(v)])));
    const inputs = (c.inputs as Enc[]).map((e) =>
      name === 'Embedding' ? T.tensor(e.data, { shape: e.shape, dtype: 'int64' }) : fromEnc(e, true),
    );
    let out = m.forward(...inputs);
    if (Array.isArray(out)) out = out[0];
    assertClose(out, c.out, 1e-5, 1e-4, 'output');
    out.mul(fromEnc(c.g)).sum().backward();
    (c.dinputs as (Enc | null)[]).forEach((d, i) => d && assertClose(inputs[i].grad, d, 1e-5, 1e-4, `d input ${i}`));
    for (const [k, p] of m.namedParameters()) assertClose(p.grad, c.dparams[k], 1e-5, 1e-4, `d ${k}`);
    for (const [k, t] of m.stateDict()) assertClose(t.float(), c.after[k], 1e-5, 1e-4, `${k} after the step`);
  });
}

test("default initialisation has PyTorch's bounds", () => {
  T.manualSeed(1);
  const lin = new nn.Linear(400, 10);
  assert.ok(lin.weight.abs().max().item() <= 1 / 20 && lin.weight.abs().max().item() > 0.9 / 20);
  const conv = new nn.Conv2d(16, 8, 3);
  const b = 1 / Math.sqrt(16 * 9);
  assert.ok(conv.weight.abs().max().item() <= b && conv.weight.abs().max().item() > 0.9 * b);
  const g = new nn.Linear(30, 20, { init: 'glorot' });
  assert.ok(g.weight.abs().max().item() <= Math.sqrt(6 / 50));
  assert.equal(g.bias!.abs().sum().item(), 0);
});

const LS = G.leastSquares;
function leastSquares(make: (p: T.Tensor[]) => Optimizer): number[][] {
  const A = T.tensor(LS.A.data, { shape: LS.A.shape, dtype: 'float64' });
  const b = T.tensor(LS.b.data, { dtype: 'float64' });
  const x = T.tensor(LS.x0, { dtype: 'float64', requiresGrad: true });
  const opt = make([x]);
  const traj: number[][] = [];
  for (let i = 0; i < 20; i++) {
    T.tidy(() => {
      opt.zeroGrad();
      A.matmul(x).sub(b).pow(2).sum().backward();
      opt.step();
    });
    traj.push(x.toFlatArray());
  }
  return traj;
}

function assertTrajectory(actual: number[][], expected: number[][], tol: number): void {
  expected.forEach((row, i) =>
    row.forEach((v, j) =>
      assert.ok(
        Math.abs(actual[i][j] - v) <= tol * (1 + Math.abs(v)),
        `step ${i + 1}, x[${j}]: ${actual[i][j]} vs ${v}`,
      ),
    ),
  );
}

const optimizers: Record<string, (p: T.Tensor[], o: any) => Optimizer> = {
  SGD: (p, o) => new SGD(p, o),
  SGDplain: (p, o) => new SGD(p, o),
  Adam: (p, o) => new Adam(p, o),
  AdamW: (p, o) => new AdamW(p, o),
  RMSprop: (p, o) => new RMSprop(p, o),
  RMSpropCentered: (p, o) => new RMSprop(p, o),
};
for (const [name, make] of Object.entries(optimizers)) {
  test(`${name}: 20-step parameter trajectory matches PyTorch`, () => {
    const c = G.optimizers[name];
    assertTrajectory(
      leastSquares((p) => make(p, c.options)),
      c.trajectory,
      1e-9,
    );
  });
}

for (const [name, c] of Object.entries(G.lbfgs as Record<string, any>)) {
  test(`L-BFGS (${name}): 20-step trajectory and evaluation count match PyTorch`, () => {
    const A = T.tensor(LS.A.data, { shape: LS.A.shape, dtype: 'float64' });
    const b = T.tensor(LS.b.data, { dtype: 'float64' });
    const x = T.tensor(c.start, { dtype: 'float64', requiresGrad: true });
    const o = c.options;
    const opt = new LBFGS([x], {
      lr: o.lr,
      maxIter: o.max_iter,
      historySize: o.history_size,
      lineSearch: o.line_search_fn ?? null,
    });
    const f = name.startsWith('rosenbrock')
      ? () => {
          const [x0, x1] = x.unbind(0);
          return x0
            .neg()
            .add(1)
            .pow(2)
            .add(x1.sub(x0.pow(2)).pow(2).mul(100));
        }
      : () => A.matmul(x).sub(b).pow(2).sum();
    const closure = () =>
      T.tidy(() => {
        opt.zeroGrad();
        const l = f();
        l.backward();
        return l.item();
      });
    const traj: number[][] = [];
    for (let i = 0; i < 20; i++) {
      opt.step(closure);
      traj.push(x.toFlatArray());
    }
    assertTrajectory(traj, c.trajectory, 1e-7);
    assert.equal(opt.funcEvals, c.funcEvals);
    opt.dispose();
  });
}

test("learning-rate schedules follow PyTorch's StepLR, ExponentialLR and CosineAnnealingLR formulas", async () => {
  const { schedules } = await import('../src/optim/index.js');
  assert.deepEqual([0, 2, 3, 7].map(schedules.stepDecay(1, 3, 0.5)), [1, 1, 0.5, 0.25]);
  assert.ok(Math.abs(schedules.exponential(2, 0.9)(3) - 2 * 0.729) < 1e-12);
  const cos = schedules.cosine(1, 10, 0.1);
  assert.equal(cos(0), 1);
  assert.ok(Math.abs(cos(5) - 0.55) < 1e-12);
  assert.ok(Math.abs(cos(10) - 0.1) < 1e-12);
  assert.deepEqual([0, 1, 3].map(schedules.warmup(2, schedules.constant(4))), [2, 4, 4]);
  // anneal: held, then linear to 0 over the last 20% (or the share given)
  const anneal = [0, 0.5, 0.8, 0.9, 1, 1.2].map((p) => schedules.annealAt(2, p));
  [2, 2, 2, 1, 0, 0].forEach((want, i) => assert.ok(Math.abs(anneal[i] - want) < 1e-12, `${anneal[i]} != ${want}`));
  assert.ok(Math.abs(schedules.annealAt(1, 0.75, 0.5) - 0.5) < 1e-12);
});

test('L-BFGS resumes exactly from its state dict', () => {
  const run = (split: boolean) => {
    const x = T.tensor([-1.5, 2], { dtype: 'float64', requiresGrad: true });
    let opt = new LBFGS([x], { maxIter: 3, lineSearch: 'strong_wolfe' });
    const closure = () =>
      T.tidy(() => {
        opt.zeroGrad();
        const [a, b] = x.unbind(0);
        const l = a
          .neg()
          .add(1)
          .pow(2)
          .add(b.sub(a.pow(2)).pow(2).mul(100));
        l.backward();
        return l.item();
      });
    for (let i = 0; i < 6; i++) {
      if (split && i === 3) {
        const sd = opt.stateDict();
        const fresh = new LBFGS([x], { maxIter: 3, lineSearch: 'strong_wolfe' });
        fresh.loadStateDict(sd);
        opt.dispose();
        opt = fresh;
      }
      opt.step(closure);
    }
    return x.toFlatArray();
  };
  assert.deepEqual(run(true), run(false));
});
