// Weight importers on small files in each layout (fixtures and script in test/golden/), checked
// against PyTorch's outputs for the same weights; HDF5 and TF.js reader errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import { readH5Datasets } from '../src/io/hdf5.js';
import { readTfjsModel } from '../src/vision/tfjs.js';
import { VGG19 } from '../src/vision/vgg.js';
import { importWeights, listWeights, loadBackbone, preprocess } from '../src/vision/weights.js';
import { assertClose, fromEnc, golden, repoRoot } from './helpers.js';

const fixture = (f: string) => path.join(repoRoot, 'test', 'golden', f);

function checkVgg(file: string, tag: 'keras' | 'torchvision', cache: string): void {
  const g = golden('vision_golden.json');
  const b = loadBackbone('vgg19', importWeights(file, { cache }));
  assert.equal(b.info.arch, 'vgg19');
  assert.equal(b.info.width, 1 / 16);
  assert.equal(b.info.preprocess, tag === 'keras' ? 'caffe' : 'torchvision');
  const x = fromEnc(g.input);
  const names = Object.keys(g[tag]);
  const outs = T.noGrad(() => (b.net as VGG19).endpoints(preprocess(x, b.info.preprocess), names));
  for (const n of names) assertClose(outs.get(n)!, g[tag][n], 1e-3, 1e-4, `${tag} ${n}`);
  T.tidy(() => [...outs.values()].forEach((t) => t.dispose()));
  b.net.dispose();
}

test("a Keras-layout .h5 VGG19 (h5py) imports by name and gives PyTorch's activations", () => {
  const cache = mkdtempSync(path.join(os.tmpdir(), 'loom-cache-'));
  try {
    checkVgg(fixture('vgg_tiny_keras.h5'), 'keras', cache);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test("a torchvision .pth VGG19 imports (classifier dropped) and gives PyTorch's activations", () => {
  const cache = mkdtempSync(path.join(os.tmpdir(), 'loom-cache-'));
  try {
    checkVgg(fixture('vgg_tiny_tv.pth'), 'torchvision', cache);
    const listed = listWeights(cache);
    assert.equal(listed.length, 1);
    assert.equal(listed[0].info.source, fixture('vgg_tiny_tv.pth'));
    // VGG19 without weights named: the imported one is found in the cache.
    const b = loadBackbone('vgg19', undefined, cache);
    assert.equal(b.info.preprocess, 'torchvision');
    b.net.dispose();
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test('the HDF5 reader finds every dataset with its path and shape', () => {
  const ds = readH5Datasets(fixture('vgg_tiny_keras.h5'));
  assert.equal(ds.length, 32);
  const k = ds.find((d) => d.path === 'block3_conv2/block3_conv2/kernel:0')!;
  assert.deepEqual(k.shape, [3, 3, 16, 16]);
});

test('bad weight files get one clear sentence', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'loom-bad-'));
  try {
    const junk = path.join(dir, 'junk.h5');
    writeFileSync(junk, 'not hdf5 at all');
    assert.throws(() => readH5Datasets(junk), /is not an HDF5 file/);
    const cut = path.join(dir, 'cut.h5');
    writeFileSync(cut, readFileSync(fixture('vgg_tiny_keras.h5')).subarray(0, 3000));
    assert.throws(() => readH5Datasets(cut), /truncated or corrupt/);
    assert.throws(() => importWeights(path.join(dir, 'missing.pth'), { cache: dir }), /no such file/);
    assert.throws(() => importWeights(junk, { as: 'inception', cache: dir }), /not an HDF5 file/);
    assert.throws(
      () => importWeights(fixture('vgg_tiny_tv.pth'), { as: 'inception', cache: dir }),
      /not torchvision's inception/,
    );
    assert.throws(
      () => importWeights(fixture('vgg_tiny_keras.h5'), { as: 'inception', cache: dir }),
      /holds no InceptionV3/,
    );
    assert.throws(() => readTfjsModel(dir), /holds no TF.js model/);
    assert.throws(() => loadBackbone('vgg19', undefined, dir), /VGG19 needs pretrained weights/);
    writeFileSync(
      path.join(dir, 'model.json'),
      JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['w.bin'], weights: [] }] }),
    );
    assert.throws(() => readTfjsModel(dir), /weight shard w.bin is missing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
