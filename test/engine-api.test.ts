// The tensor API itself: creation, read-back, views, in-place ops, autograd, errors, memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../src/torch/index.js';
import { collectGarbage } from './helpers.js';

test('creation from arrays and typed arrays keeps values, shapes and dtypes', () => {
  const a = T.tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  assert.deepEqual(a.shape, [2, 3]);
  assert.equal(a.dtype, 'float32');
  assert.deepEqual(a.toArray(), [
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const cases: [T.TensorData, T.DType][] = [
    [new Float32Array([1.5, -2]), 'float32'],
    [new Float64Array([1.5, -2]), 'float64'],
    [new Int32Array([7, -9]), 'int32'],
    [new BigInt64Array([7n, -9n]), 'int64'],
    [new Uint8Array([7, 250]), 'uint8'],
  ];
  for (const [data, dt] of cases) {
    const t = T.tensor(data);
    assert.equal(t.dtype, dt);
    assert.deepEqual(t.data(), data);
  }
  assert.equal(T.tensor([true, false]).dtype, 'bool');
  assert.deepEqual(T.tensor([true, false]).toFlatArray(), [1, 0]);
  assert.deepEqual(T.tensor([1, 2], { dtype: 'int64' }).data(), new BigInt64Array([1n, 2n]));
  // 16-bit floats as storage: exact for representable values, decoded by toFlatArray.
  assert.deepEqual(T.tensor([0.5, -3, 1024], { dtype: 'float16' }).toFlatArray(), [0.5, -3, 1024]);
  assert.deepEqual(T.tensor([0.5, -3, 1024], { dtype: 'bfloat16' }).toFlatArray(), [0.5, -3, 1024]);
  assert.deepEqual(T.tensor(new Float32Array(6), { shape: [2, 3] }).shape, [2, 3]);
  assert.throws(() => T.tensor([[1, 2], [3]]), /ragged/);
  assert.throws(() => T.tensor(new Float32Array(5), { shape: [2, 3] }), /20 bytes but shape and dtype need 24/);
});

test('toString reads like PyTorch', () => {
  assert.equal(
    String(
      T.tensor([
        [1, 2],
        [3, 4],
      ]),
    ),
    'tensor([[1.0000, 2.0000],\n        [3.0000, 4.0000]])',
  );
  assert.equal(String(T.tensor([1, 2], { dtype: 'int64' })), 'tensor([1, 2])');
  assert.match(String(T.tensor([1], { requiresGrad: true })), /requires_grad=True/);
  assert.match(String(T.zeros([5000])), /\.\.\./);
});

test('broadcasting arithmetic with tensors and numbers', () => {
  const a = T.tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const b = T.tensor([10, 20, 30]);
  assert.deepEqual(a.add(b).toArray(), [
    [11, 22, 33],
    [14, 25, 36],
  ]);
  assert.deepEqual(a.sub(1).mul(2).div(4).toFlatArray(), [0, 0.5, 1, 1.5, 2, 2.5]);
  assert.deepEqual(a.pow(2).toFlatArray(), [1, 4, 9, 16, 25, 36]);
  // int tensor with an integral number stays int, as in PyTorch
  assert.equal(T.tensor([1, 2], { dtype: 'int64' }).add(3).dtype, 'int64');
  assert.equal(T.tensor([1, 2], { dtype: 'int64' }).add(0.5).dtype, 'float32');
});

test('views share storage: reshape, permute, slice, narrow, select, expand', () => {
  const a = T.arange(0, 24).reshape([2, 3, 4]);
  assert.deepEqual(a.permute([2, 0, 1]).shape, [4, 2, 3]);
  assert.deepEqual(a.slice(2, 1, 3).shape, [2, 3, 2]);
  assert.deepEqual(a.narrow(1, 1, 2).select(0, 1).toArray(), [
    [16, 17, 18, 19],
    [20, 21, 22, 23],
  ]);
  assert.deepEqual(T.tensor([1, 2]).reshape([2, 1]).expand([2, 3]).toArray(), [
    [1, 1, 1],
    [2, 2, 2],
  ]);
  const v = a.select(0, 0);
  v.fill_(7);
  assert.equal(a.sum().item(), 7 * 12 + (12 + 23) * 6);
});

test('in-place ops return the same tensor and change it', () => {
  const a = T.ones([3]);
  const r = a.add_(2);
  assert.equal(r, a);
  a.mul_(T.tensor([1, 2, 3])).sqrt_();
  assert.deepEqual(
    a.toFlatArray().map((x) => +x.toFixed(5)),
    [1.73205, 2.44949, 3],
  );
});

test('reductions, cat/stack/split, where, gather, clamp, topk', () => {
  const a = T.tensor([
    [1, 5, 3],
    [4, 2, 6],
  ]);
  assert.deepEqual(a.sum({ dim: 1 }).toFlatArray(), [9, 12]);
  assert.deepEqual(a.mean({ dim: 0, keepdim: true }).shape, [1, 3]);
  const [vals, idx] = a.max(1);
  assert.deepEqual(
    [vals.toFlatArray(), idx.toFlatArray()],
    [
      [5, 6],
      [1, 2],
    ],
  );
  assert.deepEqual(T.cat([a, a], 0).shape, [4, 3]);
  assert.deepEqual(T.stack([a, a], 0).shape, [2, 2, 3]);
  assert.deepEqual(
    a.split(1, 0).map((t) => t.shape),
    [
      [1, 3],
      [1, 3],
    ],
  );
  assert.deepEqual(T.where(a.gt(3), a, T.zerosLike(a)).toFlatArray(), [0, 5, 0, 4, 0, 6]);
  assert.deepEqual(a.gather(1, T.tensor([[2], [0]], { dtype: 'int64' })).toFlatArray(), [3, 4]);
  assert.deepEqual(a.clamp(2, 4).toFlatArray(), [2, 4, 3, 4, 2, 4]);
  assert.deepEqual(a.topk(2, 1)[1].toArray(), [
    [1, 2],
    [2, 0],
  ]);
});

test('any aten op is reachable by name', () => {
  const r = T.callOp('aten::lerp.Scalar', T.zeros([2]), T.ones([2]), 0.25) as T.Tensor;
  assert.deepEqual(r.toFlatArray(), [0.25, 0.25]);
  assert.match(T.schema('aten::lerp', 'Scalar'), /lerp.Scalar\(Tensor self, Tensor end, Scalar weight\)/);
});

test('autograd: backward with an explicit gradient, functional grad, noGrad, detach, zeroing', () => {
  const x = T.tensor([1, 2, 3], { requiresGrad: true });
  const y = x.mul(x);
  y.backward(T.tensor([1, 0, 2]));
  assert.deepEqual(x.grad!.toFlatArray(), [2, 0, 12]);
  x.grad = null;
  assert.equal(x.grad, null);
  const [gx] = T.grad(x.pow(3).sum(), [x]);
  assert.deepEqual(gx!.toFlatArray(), [3, 12, 27]);
  assert.equal(x.grad, null, 'grad() leaves .grad alone');
  // second order: d/dx of (d/dx x^3) = 6x
  const [g1] = T.grad(x.pow(3).sum(), [x], { createGraph: true });
  const [g2] = T.grad(g1!.sum(), [x]);
  assert.deepEqual(g2!.toFlatArray(), [6, 12, 18]);
  const z = T.noGrad(() => x.mul(2));
  assert.equal(z.requiresGrad, false);
  assert.equal(T.isGradEnabled(), true);
  assert.equal(x.mul(2).detach().requiresGrad, false);
});

test("errors arrive as JS Errors with libtorch's message and no C++ trace; the process goes on", () => {
  const check = (fn: () => unknown, re: RegExp) => {
    const e = assert.throws(fn, re) as unknown;
    void e;
    try {
      fn();
    } catch (err) {
      assert.ok(err instanceof Error);
      assert.doesNotMatch(err.message, /Exception raised from|frame #|\.cpp:\d+/);
    }
  };
  const a = T.ones([2, 3]);
  check(() => a.matmul(a), /mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x3\)/);
  check(() => T.ones([3]).add(T.ones([4])), /size of tensor a \(3\) must match the size of tensor b \(4\)/);
  // 1.13's message, then 2.x's.
  check(
    () => T.crossEntropyLoss(T.ones([2, 3]), T.ones([2])),
    /expected scalar type Long but found Float|expected target dtype to be Long or Byte, but got Float/,
  );
  check(() => T.callOp('aten::no_such_op'), /Could not find schema for aten::no_such_op/);
  check(() => T.tensor([1]).to('float99' as T.DType), /./);
  const d = T.ones([2]);
  d.dispose();
  check(() => d.add(1), /disposed and cannot be used again/);
  check(() => d.shape, /disposed/);
  d.dispose(); // twice is harmless
  assert.deepEqual(T.ones([1]).add(1).toFlatArray(), [2]);
});

test('dispose and tidy free native tensors; the live count says so', () => {
  const before = T.liveTensors();
  const a = T.ones([100]);
  assert.equal(T.liveTensors().undisposed, before.undisposed + 1);
  assert.equal(T.liveTensors().bytes, before.bytes + 400);
  a.dispose();
  assert.equal(T.liveTensors().undisposed, before.undisposed);
  const kept: T.Tensor[] = [];
  const out = T.tidy(() => {
    const x = T.randn([10, 10]);
    const y = x.matmul(x).relu();
    kept.push(T.keep(T.zeros([3])));
    const inner = T.tidy(() => y.add(1).mul(2)); // moves to this scope, then freed with it
    void inner;
    return { y: y.sum(), list: [x.mean()] };
  });
  assert.equal(T.liveTensors().undisposed, before.undisposed + 3);
  for (const t of [out.y, out.list[0], kept[0]]) t.dispose();
  assert.equal(T.liveTensors().undisposed, before.undisposed);
  assert.throws(
    () =>
      T.tidy(() => {
        T.ones([5]);
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(T.liveTensors().undisposed, before.undisposed, 'an exception inside tidy frees what it made');
});

test("only tensors that no scope frees count as V8's external memory, so scoped steps start no collections", () => {
  // A scope holds its tensors until it closes, so the GC could not free them: counting them
  // would only start collections that free nothing (every training step's activations).
  const base = T.liveTensors().gcBytes;
  const counted = () => T.liveTensors().gcBytes - base;
  const n = 1000; // 4,000 bytes of float32
  const [kept, returned] = T.tidy(() => {
    const scoped = T.zeros([n]);
    const inner = T.tidy(() => scoped.add(1)); // moves to this scope: still not counted
    assert.equal(counted(), 0, "a scope's tensors are not counted");
    const k = T.keep(T.zeros([n]));
    assert.equal(counted(), 4000, 'a kept one is');
    T.keep(k); // once
    return [k, inner];
  });
  assert.equal(counted(), 8000, 'so is one returned from the outermost scope');
  const loose = T.zeros([n]);
  assert.equal(counted(), 12000, 'and one made outside any scope');
  const moved = (() => {
    using scope = T.disposeScope();
    return scope.moveToOuter(T.zeros([n]));
  })();
  assert.equal(counted(), 16000, 'and one a dispose scope hands to no scope');
  for (const t of [kept, returned, loose, moved]) t.dispose();
  assert.equal(counted(), 0, 'dispose() takes them off');
});

test('threads can be set and read; the default uses every core', async () => {
  const os = await import('node:os');
  if (!process.env.OMP_NUM_THREADS && !process.env.LOOM_THREADS)
    assert.equal(T.getNumThreads(), os.availableParallelism());
  const prev = T.getNumThreads();
  T.setNumThreads(1);
  assert.equal(T.getNumThreads(), 1);
  T.setNumThreads(prev);
  assert.throws(() => T.setNumThreads(0), /positive integer/);
});

test("withBlasThreads leaves libtorch's thread count as it was, whichever BLAS build is linked", () => {
  const prev = T.getNumThreads();
  try {
    for (const n of [1, 2]) {
      T.setNumThreads(n);
      T.withBlasThreads(1, () => T.mm(T.ones([8, 8]), T.ones([8, 8])).dispose());
      assert.equal(T.getNumThreads(), n);
    }
  } finally {
    T.setNumThreads(prev);
  }
});

test('devices: cpu always, to() moves and converts', () => {
  const a = T.tensor([1, 2]);
  assert.equal(a.device, 'cpu');
  assert.equal(a.to('cpu'), a);
  assert.equal(a.to('float64').dtype, 'float64');
  if (!T.cudaAvailable()) assert.throws(() => a.to('cuda'), /CUDA|cuda/);
  else assert.equal(a.to('cuda').device, 'cuda:0');
});

test('a tensor dropped without dispose is freed by the GC finalizer (the safety net)', async () => {
  await collectGarbage(); // earlier tests left garbage; count from a clean state
  const before = T.liveTensors().count;
  (() => {
    for (let i = 0; i < 100; i++) T.ones([10]);
  })();
  assert.equal(T.liveTensors().count, before + 100);
  await collectGarbage();
  assert.equal(T.liveTensors().count, before);
});

test('loom info --json names the libtorch, threads, BLAS and devices in use', async () => {
  const { spawnSync } = await import('node:child_process');
  const { repoRoot } = await import('./helpers.js');
  const path = await import('node:path');
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'src', 'cli', 'main.js'), 'info', '--json'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const i = JSON.parse(r.stdout);
  assert.match(i.libtorch.version, /^\d+\.\d+\.\d+$/);
  assert.match(i.libtorch.library, /libtorch_cpu\.so/);
  assert.ok(i.threads >= 1);
  assert.ok(i.devices.includes('cpu'));
  if (i.libtorch.source === 'system') {
    assert.match(String(i.blas), /blas/i, 'an optimised BLAS is mapped (setup installs OpenBLAS)');
  } else {
    assert.ok(i.blas, 'a BLAS is named: a mapped library, or the one built into libtorch (MKL in PyTorch wheels)');
  }
});

test('one OpenBLAS serves libtorch: the OpenMP build when the addon links it, and OpenMP then waits as in PyTorch', async () => {
  const path = await import('node:path');
  const { mappedLibraries } = await import('../src/cli/info.js');
  const { addonBlas, addonBuild, ompWaitPolicySetByLoom } = await import('../src/torch/native.js');
  T.mm(T.ones([64, 64]), T.ones([64, 64])).dispose(); // BLAS in use, not only loaded
  const dirs = new Set(
    mappedLibraries()
      .filter((l) => /openblas/.test(l))
      .map((l) => path.dirname(l)),
  );
  // Debian's libtorch uses OpenBLAS; a PyTorch wheel may bring MKL inside libtorch instead.
  if (addonBuild.libtorch?.source === 'system' || dirs.size > 0) {
    assert.equal(dirs.size, 1, `OpenBLAS mapped from ${[...dirs].join(' and ')}`);
  }
  if (addonBlas === 'openblas-openmp') {
    assert.match([...dirs][0], /openblas-openmp$/);
    assert.equal(ompWaitPolicySetByLoom, false);
  } else {
    assert.ok(
      process.env.OMP_WAIT_POLICY || process.env.GOMP_SPINCOUNT,
      'with a BLAS of its own threads, OpenMP workers sleep',
    );
  }
});

test('using frees a tensor at the end of its block, and a dispose scope frees all but what moves out', () => {
  let kept: T.Tensor;
  let inner: T.Tensor;
  {
    using outer = T.disposeScope();
    void outer;
    {
      using scope = T.disposeScope();
      inner = T.ones([2]).add(1);
      kept = scope.moveToOuter(inner.mul(2));
    }
    assert.ok(inner.isDisposed, 'made in the inner scope');
    assert.deepEqual(kept.toArray(), [4, 4]);
    {
      using x = T.zeros([3]);
      inner = x;
    }
    assert.ok(inner.isDisposed, 'using disposes');
  }
  assert.ok(kept.isDisposed, 'moved to the outer scope, freed with it');
  let escaped: T.Tensor;
  {
    using scope = T.disposeScope();
    escaped = scope.moveToOuter(T.ones([1]));
  }
  assert.ok(!escaped.isDisposed, 'with no scope outside, the caller owns it');
  escaped.dispose();
});
