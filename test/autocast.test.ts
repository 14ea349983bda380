// CPU autocast (bfloat16) against PyTorch's torch.autocast (test/golden/make_autocast_golden.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../src/torch/index.js';
import { Linear } from '../src/nn/index.js';
import { SGD } from '../src/optim/index.js';
import { assertClose, fromEnc, golden } from './helpers.js';

const G = golden('autocast.json');

test('linear, matmul, conv2d and cross-entropy under autocast match PyTorch: dtypes, values, float32 gradients', () => {
  const w = fromEnc(G.w, true);
  const b = fromEnc(G.b, true);
  const cw = fromEnc(G.cw, true);
  const cb = fromEnc(G.cb, true);
  const target = T.tensor(G.target as number[], { dtype: 'int64' });
  const r = T.autocast('bfloat16', () => {
    const linear = T.linear(fromEnc(G.x), w, b);
    const matmul = linear.matmul(fromEnc(G.m));
    const logSoftmax = matmul.logSoftmax(1);
    const loss = T.crossEntropyLoss(matmul, target, null, 1, -100, 0);
    const conv2d = T.conv2d(fromEnc(G.img), cw, cb, 1, 1);
    const total = loss.add(conv2d.to('float32').square().mean());
    return { linear, matmul, logSoftmax, loss, conv2d, total };
  });
  assert.equal(T.isAutocastEnabled(), false, 'autocast is off again after the region');
  const want = { linear: G.linear, matmul: G.matmul, logSoftmax: G.log_softmax, loss: G.loss, conv2d: G.conv2d };
  for (const [k, g] of Object.entries(want)) {
    const t = r[k as keyof typeof want];
    assert.equal(t.dtype, g.dtype, `${k}: dtype`);
    // Both sides round to bfloat16 (8 bits of mantissa): one unit in the last place apart at most.
    assertClose(t, g, 2e-2, 1e-2, k);
  }
  r.total.backward();
  for (const [t, g, what] of [
    [w, G.dw, 'dw'],
    [b, G.db, 'db'],
    [cw, G.dcw, 'dconv w'],
    [cb, G.dcb, 'dconv b'],
  ] as const) {
    assert.equal(t.grad?.dtype, 'float32', `${what}: dtype`);
    assertClose(t.grad, g, 2e-2, 2e-2, what);
  }
});

test('autocast nests and restores its state, also when fn throws', () => {
  const x = T.randn([4, 4]);
  T.autocast('bfloat16', () => {
    T.autocast('bfloat16', () => assert.equal(x.matmul(x).dtype, 'bfloat16'));
    assert.equal(T.isAutocastEnabled(), true, 'the outer region is still on after the inner one');
    assert.equal(x.matmul(x).dtype, 'bfloat16');
  });
  assert.equal(x.matmul(x).dtype, 'float32');
  assert.throws(() =>
    T.autocast('bfloat16', () => {
      throw new Error('inside');
    }),
  );
  assert.equal(T.isAutocastEnabled(), false);
  assert.throws(() => T.autocast('float16' as 'bfloat16', () => 0), /bfloat16 only/);
});

test('leaving autocast drops the cast weights, and training steps under it keep tensors flat', () => {
  T.manualSeed(0);
  // 256 KiB of float32 weight: its cached bfloat16 copy is a large block the allocator counts.
  const model = new Linear(256, 256);
  const opt = new SGD(model.parameters(), { lr: 1e-3 });
  const x = T.keep(T.randn([8, 256]));
  const before = T.cpuMemory().largeInUse;
  let at5 = -1;
  for (let step = 1; step <= 30; step++) {
    T.tidy(() => {
      const loss = T.autocast('bfloat16', () => model.forward(x).to('float32').square().mean());
      opt.zeroGrad();
      loss.backward();
      opt.step();
    });
    if (step === 5) at5 = T.liveTensors().undisposed;
    else if (step > 5)
      assert.equal(T.cpuMemory().largeInUse, before + 256 * 256 * 4, `step ${step}: the gradient only`);
  }
  assert.equal(T.liveTensors().undisposed, at5);
});

test('a weight cast without gradients is not reused by a later pass with them, so the weight gets its gradient', () => {
  // PyTorch 1.13 reuses the cached copy here and the backward pass finds nothing to
  // differentiate; PyTorch 2.x does not.
  T.manualSeed(0);
  using lin = new Linear(4, 4);
  T.tidy(() => {
    T.autocast('bfloat16', () => {
      T.noGrad(() => lin.forward(T.randn([2, 4])));
      lin
        .forward(T.randn([2, 4]))
        .to('float32')
        .sum()
        .backward();
    });
    assert.ok(lin.weight.grad, 'the weight has a gradient');
    assert.ok(T.tidy(() => lin.weight.grad!.abs().sum().item()) > 0, 'and it is not zero');
  });
});

test('withoutAutocast turns autocast off inside a region and back on after, also when fn throws', () => {
  const x = T.randn([4, 4]);
  assert.equal(
    T.withoutAutocast(() => x.matmul(x).dtype),
    'float32',
  );
  T.autocast('bfloat16', () => {
    assert.equal(
      T.withoutAutocast(() => x.matmul(x).dtype),
      'float32',
    );
    assert.equal(T.isAutocastEnabled(), true, 'on again after the inner region');
    assert.equal(x.matmul(x).dtype, 'bfloat16');
    assert.throws(() =>
      T.withoutAutocast(() => {
        throw new Error('inside');
      }),
    );
    assert.equal(x.matmul(x).dtype, 'bfloat16');
  });
  assert.equal(T.isAutocastEnabled(), false);
});
