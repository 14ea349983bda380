// Ops and gradients against golden values from PyTorch (test/golden/make_engine_golden.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../src/torch/index.js';
import { assertClose, fromEnc, golden } from './helpers.js';

const G = golden('engine.json');

test('matmul matches PyTorch', () => {
  assertClose(fromEnc(G.matmul.a).matmul(fromEnc(G.matmul.b)), G.matmul.out);
});

test('conv2d output and its input, weight and bias gradients match PyTorch', () => {
  const g = G.conv2d;
  const x = fromEnc(g.x, true);
  const w = fromEnc(g.w, true);
  const b = fromEnc(g.b, true);
  const y = T.conv2d(x, w, b, g.stride, g.padding);
  assertClose(y, g.out, 1e-4, 1e-4, 'conv2d');
  y.mul(fromEnc(g.g)).sum().backward();
  assertClose(x.grad, g.dx, 1e-4, 1e-4, 'dx');
  assertClose(w.grad, g.dw, 1e-4, 1e-4, 'dw');
  assertClose(b.grad, g.db, 1e-4, 1e-4, 'db');
});

test('conv_transpose2d output and gradients match PyTorch', () => {
  const g = G.conv_transpose2d;
  const x = fromEnc(g.x, true);
  const w = fromEnc(g.w, true);
  const y = T.convTranspose2d(x, w, null, 2, 1, 1);
  assertClose(y, g.out, 1e-4, 1e-4, 'conv_transpose2d');
  y.mul(fromEnc(g.g)).sum().backward();
  assertClose(x.grad, g.dx, 1e-4, 1e-4, 'dx');
  assertClose(w.grad, g.dw, 1e-4, 1e-4, 'dw');
});

test('fused aten::lstm outputs and gradients match PyTorch with the same weights', () => {
  const g = G.lstm;
  const input = fromEnc(g.input, true);
  const params = [fromEnc(g.w_ih, true), fromEnc(g.w_hh, true), fromEnc(g.b_ih, true), fromEnc(g.b_hh, true)];
  const [out, hn, cn] = T.lstm(input, [fromEnc(g.h0), fromEnc(g.c0)], params, true, 1, 0, true, false, false);
  assertClose(out, g.out, 1e-5, 1e-5, 'output');
  assertClose(hn, g.hn, 1e-5, 1e-5, 'h_n');
  assertClose(cn, g.cn, 1e-5, 1e-5, 'c_n');
  out.mul(fromEnc(g.g)).sum().add(hn.sum()).add(cn.sum().mul(2)).backward();
  assertClose(input.grad, g.dinput, 1e-5, 1e-4, 'd input');
  assertClose(params[0].grad, g.dw_ih, 1e-5, 1e-4, 'd w_ih');
  assertClose(params[1].grad, g.dw_hh, 1e-5, 1e-4, 'd w_hh');
  assertClose(params[2].grad, g.db_ih, 1e-5, 1e-4, 'd b_ih');
});

test('softmax, log_softmax and cross-entropy (value and gradient) match PyTorch', () => {
  const g = G.cross_entropy;
  const logits = fromEnc(g.logits, true);
  assertClose(logits.softmax(1), g.softmax, 1e-6, 1e-5, 'softmax');
  assertClose(logits.logSoftmax(1), g.log_softmax, 1e-6, 1e-5, 'log_softmax');
  const loss = T.crossEntropyLoss(logits, T.tensor(g.target, { dtype: 'int64' }));
  assert.ok(Math.abs(loss.item() - g.loss) < 1e-5, `loss ${loss.item()} vs ${g.loss}`);
  loss.backward();
  assertClose(logits.grad, g.dlogits, 1e-6, 1e-5, 'd logits');
});

test("multinomial and randn under a seed give PyTorch's draws, and repeat", () => {
  const g = G.random;
  for (let k = 0; k < 2; k++) {
    T.manualSeed(g.seed);
    const m = fromEnc(g.probs).multinomial(16, true);
    assert.deepEqual(m.toFlatArray(), g.multinomial);
    assertClose(T.randn([6]), g.randn, 1e-6, 1e-6, 'randn');
  }
});

test('generator state saved and restored replays the same numbers', () => {
  T.manualSeed(7);
  T.randn([10]);
  const state = T.getRngState();
  const a = T.rand([5]).toFlatArray();
  T.randn([3]);
  T.setRngState(state);
  assert.deepEqual(T.rand([5]).toFlatArray(), a);
});
