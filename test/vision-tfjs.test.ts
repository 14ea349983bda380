// Backbones against TensorFlow.js itself (pure JS backend): the real nsfwjs InceptionV3, and a
// tiny InceptionV3 that this test writes in nsfwjs's layout (quantised, base64 shards).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import { readImage } from '../src/io/images.js';
import { InceptionV3 } from '../src/vision/inception.js';
import { nsfwjsInceptionFolder, nsfwjsModelFolder, readTfjsModel } from '../src/vision/tfjs.js';
import { importWeights, loadBackbone, loadMobileNetV2 } from '../src/vision/weights.js';
import { TEXTURE_LAYERS } from '../src/models/style/quality.js';

const require = createRequire(import.meta.url);

async function tfjs(): Promise<typeof import('@tensorflow/tfjs')> {
  const tf = await import('@tensorflow/tfjs');
  await tf.setBackend('cpu');
  return tf;
}

/** NCHW [0, 1] Loom tensor → NHWC TF.js tensor with the same values. */
function toTf(tf: typeof import('@tensorflow/tfjs'), x: T.Tensor) {
  const nhwc = T.tidy(() => x.permute([0, 2, 3, 1]).contiguous());
  const t = tf.tensor(nhwc.data() as Float32Array, nhwc.shape as [number, number, number, number]);
  nhwc.dispose();
  return t;
}

function asBuffer(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

test('the built-in InceptionV3 gives nsfwjs-in-TF.js class probabilities to 1e-3', async () => {
  const tf = await tfjs();
  const cache = mkdtempSync(path.join(os.tmpdir(), 'loom-cache-'));
  try {
    const m = readTfjsModel(nsfwjsInceptionFolder());
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: m.topology, weightSpecs: m.specs as never, weightData: asBuffer(m.data) }),
    );
    const imgs = await Promise.all(
      ['dog', 'scream'].map((n) => readImage(`/usr/share/darknet/data/${n}.jpg`, { size: [299, 299] })),
    );
    const x = T.cat(imgs, 0);
    const expected = (await (model.predict(toTf(tf, x)) as import('@tensorflow/tfjs').Tensor).array()) as number[][];
    const b = loadBackbone('inception', undefined, cache);
    const got = T.noGrad(() => (b.net as InceptionV3).classify(x)); // nsfwjs feeds [0, 1] images
    const diff = Math.max(
      ...(got.data() as Float32Array).map((v, i) => Math.abs(v - expected[Math.floor(i / 5)][i % 5])),
    );
    if (process.env.LOOM_VERBOSE) console.log(`nsfwjs parity: max difference ${diff}`);
    assert.ok(diff < 1e-3, `max difference ${diff}: Loom ${got.toString()} vs TF.js ${JSON.stringify(expected)}`);
    // The two photos are told apart (the check is not trivially met by a constant output).
    assert.ok(Math.abs(expected[0][2] - expected[1][2]) > 1e-3 || Math.abs(expected[0][0] - expected[1][0]) > 1e-3);
    for (const t of [x, got, ...imgs]) t.dispose();
    b.net.dispose();
    model.dispose();
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

/** nsfwjs's topology with every layer 8 times narrower. */
function tinyTopology(): any {
  const json = require(path.join(nsfwjsInceptionFolder(), 'model.min.js'));
  const topo = structuredClone(json.modelTopology);
  for (const l of topo.model_config.config.layers) {
    if (l.class_name === 'Conv2D') l.config.filters = Math.max(1, Math.round(l.config.filters / 8));
    if (l.class_name === 'Dense' && l.config.units !== 5) l.config.units = Math.round(l.config.units / 8);
  }
  return topo;
}

function quantise(values: Float32Array): { bytes: Buffer; min: number; scale: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const scale = (max - min) / 255 || 1;
  const bytes = Buffer.alloc(values.length);
  values.forEach((v, i) => {
    bytes[i] = Math.round((v - min) / scale);
  });
  return { bytes, min, scale };
}

test('a tiny TF.js model in nsfwjs layout imports with every tensor in place (TF.js agrees)', async () => {
  const tf = await tfjs();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'loom-tfjs-'));
  try {
    const topology = tinyTopology();
    const built = await tf.models.modelFromJSON({ modelTopology: topology } as never);
    const weights = built.weights.map((w) => ({
      name: w.originalName ?? w.name,
      values: w.read().dataSync() as Float32Array,
      shape: w.shape as number[],
    }));
    // Randomise the batch-norm statistics too, so a swapped mean/variance would show.
    const specs: any[] = [];
    const chunks: Buffer[] = [];
    for (const w of weights) {
      let v = w.values;
      if (/moving_variance/.test(w.name)) v = v.map(() => 0.5 + Math.random());
      else if (/moving_mean|beta/.test(w.name)) v = v.map(() => Math.random() - 0.5);
      const q = quantise(v);
      specs.push({
        name: w.name,
        shape: w.shape,
        dtype: 'float32',
        quantization: { dtype: 'uint8', min: q.min, scale: q.scale },
      });
      chunks.push(q.bytes);
    }
    built.dispose();
    const all = Buffer.concat(chunks);
    const half = Math.floor(all.length / 2);
    const manifest = {
      modelTopology: topology,
      weightsManifest: [{ paths: ['group1-shard1of2', 'group1-shard2of2'], weights: specs }],
    };
    writeFileSync(
      path.join(dir, 'model.min.js'),
      `!function(a){module.exports=a()}(function(){return ${JSON.stringify(manifest)}});`,
    );
    writeFileSync(
      path.join(dir, 'group1-shard1of2.min.js'),
      `module.exports=${JSON.stringify(all.subarray(0, half).toString('base64'))};`,
    );
    writeFileSync(
      path.join(dir, 'group1-shard2of2.min.js'),
      `module.exports=${JSON.stringify(all.subarray(half).toString('base64'))};`,
    );

    const reference = await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: topology, weightSpecs: specs, weightData: asBuffer(all) }),
    );
    const file = importWeights(dir, { cache: dir });
    const b = loadBackbone('inception', file);
    const net = b.net as InceptionV3;
    assert.equal(b.info.width, 1 / 8);
    assert.equal(b.info.head, 'nsfwjs');
    const convs = [...net.namedParameters()].filter(([n]) => n.endsWith('conv.weight')).length;
    assert.equal(convs, specs.filter((s) => s.name.endsWith('/kernel') && s.name.startsWith('conv2d')).length);

    T.manualSeed(3);
    const x = T.rand([2, 3, 299, 299]);
    const expected = (await (
      reference.predict(toTf(tf, x)) as import('@tensorflow/tfjs').Tensor
    ).data()) as Float32Array;
    const got = T.noGrad(() => net.classify(x));
    const diff = Math.max(...(got.data() as Float32Array).map((v, i) => Math.abs(v - expected[i])));
    assert.ok(diff < 1e-4, `max difference ${diff}`);
    for (const t of [x, got]) t.dispose();
    net.dispose();
    reference.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the built-in MobileNetV2 (a Keras layer graph) gives TF.js's activations at the style judge's layers", async () => {
  const tf = await tfjs();
  const m = readTfjsModel(nsfwjsModelFolder('mobilenet_v2'));
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: m.topology, weightSpecs: m.specs as never, weightData: asBuffer(m.data) }),
  );
  const probe = tf.model({
    inputs: model.inputs,
    outputs: TEXTURE_LAYERS.map((l) => model.getLayer(l).output as never),
  });
  const img = await readImage('/usr/share/darknet/data/horses.jpg', { size: [224, 224] });
  const expected = (probe.predict(toTf(tf, img)) as import('@tensorflow/tfjs').Tensor[]).map(
    (t) => t.dataSync() as Float32Array,
  );
  const judge = loadMobileNetV2();
  const got = T.noGrad(() => judge.endpoints(img, TEXTURE_LAYERS));
  TEXTURE_LAYERS.forEach((l, i) => {
    const g = T.tidy(() => got.get(l)!.permute([0, 2, 3, 1]).contiguous().data() as Float32Array);
    assert.equal(g.length, expected[i].length, `${l}: ${g.length} values, TF.js has ${expected[i].length}`);
    let worst = 0;
    let scale = 0;
    g.forEach((v, j) => {
      worst = Math.max(worst, Math.abs(v - expected[i][j]));
      scale = Math.max(scale, Math.abs(expected[i][j]));
    });
    assert.ok(scale > 0.1, `${l}: TF.js's activations are all near 0`);
    assert.ok(worst < 1e-3 * scale, `${l}: max difference ${worst} (activations up to ${scale})`);
  });
  for (const t of [img, ...got.values()]) t.dispose();
  judge.dispose();
  model.dispose();
});
