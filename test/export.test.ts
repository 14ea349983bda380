// ONNX export: each exported network run in onnxruntime-node gives Loom's outputs for the
// same inputs (to 1e-4), at more than one batch and image size; a layer without ONNX
// operators is named; `loom export` writes a file, keeps the user's, and refuses bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import * as T from '../src/torch/index.js';
import { Tanh } from '../src/nn/index.js';
import { StyleNet } from '../src/models/style/fast-net.js';
import { VAE } from '../src/models/vae/model.js';
import { DcganGenerator, Generator, cyclingLabels, type GanConfig } from '../src/models/gan/model.js';
import { CharLSTM } from '../src/models/text/model.js';
import { CharGPT } from '../src/models/text/gpt.js';
import {
  charGptGraph,
  charStepGraph,
  generatorGraph,
  styleNetGraph,
  vaeDecoderGraph,
  vaeEncoderGraph,
  type Exported,
} from '../src/export/index.js';
import { ModelProto } from '../src/export/onnx-proto.js';
import { repoRoot } from './helpers.js';

const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const dir = mkdtempSync(path.join(tmpdir(), 'loom-export-'));
const loom = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });

const session = (e: Exported) => ort.InferenceSession.create(e.graph.encode(e.metadata, e.doc));
const feed = (t: T.Tensor) => new ort.Tensor('float32', Float32Array.from(t.toFlatArray()), t.shape);

/** The largest difference between onnxruntime's output and Loom's. */
function worst(got: ort.Tensor, want: T.Tensor): number {
  assert.deepEqual(got.dims, want.shape, 'output shape');
  const w = want.toFlatArray();
  const g = got.data as Float32Array;
  let m = 0;
  for (let i = 0; i < w.length; i++) m = Math.max(m, Math.abs(g[i] - w[i]));
  return m;
}

test('a fast style net in onnxruntime gives Loom’s images, at two batch and image sizes', async () => {
  T.manualSeed(1);
  using net = new StyleNet({ width: 4, residualBlocks: 2 });
  // Instance norm's affine weights start at 1 and 0: make them count.
  T.noGrad(() => {
    for (const [name, p] of net.namedParameters()) if (/norm/.test(name)) p.copy_(T.randLike(p).add(0.5));
  });
  net.eval();
  const s = await session(styleNetGraph(net));
  for (const shape of [
    [2, 3, 16, 20],
    [1, 3, 24, 12],
  ]) {
    const x = T.rand(shape);
    const d = worst(
      (await s.run({ image: feed(x) })).stylised,
      T.noGrad(() => net.forward(x)),
    );
    assert.ok(d < 1e-4, `${shape}: differs by ${d}`);
  }
});

test("a VAE's decoder and encoder in onnxruntime give Loom's images and latent statistics", async () => {
  T.manualSeed(2);
  for (const config of [
    { channels: 1, height: 28, width: 28, latent: 2 },
    { channels: 3, height: 15, width: 13, latent: 5 }, // odd sides: the decoder's output padding differs
  ]) {
    using vae = new VAE(config);
    vae.eval();
    const z = T.randn([3, config.latent]);
    const dec = await session(vaeDecoderGraph(vae));
    const d = worst(
      (await dec.run({ z: feed(z) })).image,
      T.noGrad(() => vae.decode(z)),
    );
    assert.ok(d < 1e-4, `decoder ${JSON.stringify(config)}: differs by ${d}`);
    const x = T.rand([2, config.channels, config.height, config.width]);
    const [mean, logVar] = T.noGrad(() => vae.encode(x));
    const r = await (await session(vaeEncoderGraph(vae))).run({ image: feed(x) });
    const e = Math.max(worst(r.z_mean, mean), worst(r.z_log_var, logVar));
    assert.ok(e < 1e-4, `encoder ${JSON.stringify(config)}: differs by ${e}`);
  }
});

test("a GAN's generator (either recipe, batch norm's running statistics included) in onnxruntime gives Loom's images", async () => {
  T.manualSeed(3);
  const config: GanConfig = { latent: 8, channels: 1, height: 28, width: 28, dropout: 0, gFilters: 8, dFilters: 8 };
  for (const g of [
    new Generator(config),
    new DcganGenerator({ ...config, channels: 3, height: 32, width: 32 }),
    new DcganGenerator({ ...config, classNames: ['a', 'b', 'c'] }),
  ]) {
    using gen = g;
    T.noGrad(() => {
      for (const [name, b] of gen.stateDict())
        if (/running_mean/.test(name)) b.copy_(T.randnLike(b).mul(0.1));
        else if (/running_var/.test(name)) b.copy_(T.randLike(b).add(0.5));
    });
    gen.eval();
    const s = await session(generatorGraph(gen));
    for (const n of [1, 4]) {
      const z = T.randn([n, config.latent]);
      // A conditional generator takes its classes one-hot: here every class in turn.
      const k = gen instanceof DcganGenerator ? gen.classes : 0;
      const feeds: Record<string, ort.Tensor> = { z: feed(z) };
      if (k) feeds.label = feed(T.eye(k).indexSelect(0, cyclingLabels(n, k)));
      const d = worst(
        (await s.run(feeds)).image,
        T.noGrad(() => gen.forward(z)),
      );
      assert.ok(d < 1e-4, `${gen.constructor.name} (${k} classes), batch ${n}: differs by ${d}`);
    }
  }
});

test("one step of the char-LSTM in onnxruntime, fed its own state, gives Loom's logits at every position", async () => {
  T.manualSeed(4);
  using model = new CharLSTM({ vocabSize: 7, units: 6, layers: 2, dropout: 0 });
  model.eval();
  const ids = [
    [1, 3, 5, 0, 6],
    [2, 2, 6, 4, 1],
  ];
  const [logits, state] = T.noGrad(() => model.forward(T.tensor(Int32Array.from(ids.flat()), { shape: [2, 5] })));
  const e = charStepGraph(model, [...'abcdefg']);
  const s = await session(e);
  let h: ort.Tensor = new ort.Tensor('float32', new Float32Array(2 * 2 * 6), [2, 2, 6]);
  let c = h;
  for (let t = 0; t < 5; t++) {
    const char = new ort.Tensor('int64', BigInt64Array.from(ids.map((row) => BigInt(row[t]))), [2]);
    const r = await s.run({ char, h, c });
    [h, c] = [r.h_out, r.c_out];
    const d = worst(r.logits, logits.select(1, t));
    assert.ok(d < 1e-4, `position ${t}: differs by ${d}`);
  }
  assert.ok(Math.max(worst(h, state[0]), worst(c, state[1])) < 1e-4, 'the state after the last step');
  const meta = Object.fromEntries(
    (
      ModelProto.toObject(ModelProto.decode(e.graph.encode(e.metadata, e.doc))).metadata_props as {
        key: string;
        value: string;
      }[]
    ).map((p) => [p.key, p.value]),
  );
  assert.deepEqual(JSON.parse(meta['loom.vocabulary']), [...'abcdefg']);
  assert.equal(meta['loom.layers'], '2');
});

test("the character transformer in onnxruntime gives Loom's logits at every position, for any context length up to the block", async () => {
  T.manualSeed(5);
  using model = new CharGPT({ vocabSize: 7, block: 8, embed: 8, heads: 2, layers: 2, dropout: 0 });
  // Layer norms start at 1 and 0: make them count.
  T.noGrad(() => {
    for (const [name, p] of model.namedParameters()) if (/ln/.test(name)) p.copy_(T.randLike(p).add(0.5));
  });
  model.eval();
  const e = charGptGraph(model, [...'abcdefg']);
  const s = await session(e);
  for (const [n, L] of [
    [2, 5],
    [1, 8],
    [3, 1],
  ]) {
    const ids = T.randint(0, 7, [n, L], 'int64');
    const want = T.noGrad(() => model.forward(ids));
    const got = (
      await s.run({
        ids: new ort.Tensor(
          'int64',
          BigInt64Array.from(ids.toFlatArray(), (v) => BigInt(v)),
          [n, L],
        ),
      })
    ).logits;
    const d = worst(got, want);
    assert.ok(d < 1e-4, `[${n}, ${L}]: differs by ${d}`);
  }
});

test('a layer without ONNX operators is named in one sentence', () => {
  using net = new StyleNet({ width: 4, residualBlocks: 1 });
  net.layers.push(new Tanh());
  assert.throws(() => styleNetGraph(net), /cannot export layers\.7 \(Tanh\) to ONNX: Loom writes Conv2d, /);
});

test('loom export writes a run as ONNX that onnxruntime loads, keeps an existing file, and refuses bad input in one sentence', async () => {
  const corpus = path.join(dir, 'corpus.txt');
  writeFileSync(corpus, 'the quick brown fox jumps over the lazy dog. '.repeat(40));
  const run = path.join(dir, 'text-run');
  const trained = loom(
    'text',
    'train',
    '--model',
    'lstm',
    '--corpus',
    corpus,
    '--out',
    run,
    '--steps',
    '3',
    '--units',
    '8',
    '--maxlen',
    '10',
    '--json',
  );
  assert.equal(trained.status, 0, trained.stderr);
  const out = path.join(dir, 'text.onnx');
  const r = loom('export', run, '--out', out);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /wrote .*text\.onnx .*char-LSTM, one step/);
  const s = await ort.InferenceSession.create(readFileSync(out));
  assert.deepEqual(s.inputNames, ['char', 'h', 'c']);
  assert.deepEqual(s.outputNames, ['logits', 'h_out', 'c_out']);
  // A transformer run exports its whole-context forward.
  const gptRun = path.join(dir, 'gpt-run');
  const gpt = loom(
    'text',
    'train',
    '--model',
    'gpt',
    '--corpus',
    corpus,
    '--out',
    gptRun,
    '--steps',
    '2',
    '--embed',
    '8',
    '--heads',
    '2',
    '--layers',
    '1',
    '--block',
    '16',
    '--merges',
    '6',
    '--json',
  );
  assert.equal(gpt.status, 0, gpt.stderr);
  const g = loom('export', gptRun, '--out', path.join(dir, 'gpt.onnx'));
  assert.equal(g.status, 0, g.stderr);
  const gs = await ort.InferenceSession.create(readFileSync(path.join(dir, 'gpt.onnx')));
  assert.deepEqual([gs.inputNames, gs.outputNames], [['ids'], ['logits']]);
  // Its units are the characters and six merged pieces; the merges say how to encode a prompt.
  const meta = Object.fromEntries(
    (
      ModelProto.toObject(ModelProto.decode(readFileSync(path.join(dir, 'gpt.onnx')))).metadata_props as {
        key: string;
        value: string;
      }[]
    ).map((p) => [p.key, p.value]),
  );
  const units = JSON.parse(meta['loom.vocabulary']) as string[];
  const merges = JSON.parse(meta['loom.merges']) as { characters: number; pairs: [number, number][] };
  assert.equal(merges.pairs.length, 6);
  assert.equal(units.length, merges.characters + 6);
  merges.pairs.forEach(([a, b], k) => assert.equal(units[merges.characters + k], units[a] + units[b]));
  const before = readFileSync(out);
  for (const [args, re] of [
    [['export', run, '--out', out], /exists; choose another --out or add --force/],
    [['export', path.join(dir, 'nothing'), '--out', path.join(dir, 'x.onnx')], /cannot read checkpoint .*no such file/],
    [['export', corpus, '--out', path.join(dir, 'y.onnx')], /corpus\.txt/],
    [['export', run, '--out', path.join(dir, 'z.onnx'), '--part', 'encoder'], /--part is for VAE runs/],
    [['export', run, '--out', path.join(dir, 'w.onnx'), '--format', 'tflite'], /--format must be onnx/],
  ] as const) {
    const bad = loom(...args);
    assert.equal(bad.status, 2, `${args.join(' ')}: ${bad.stderr}`);
    assert.match(bad.stderr, re);
    assert.equal(bad.stderr.trim().split('\n').length, 1, `one sentence: ${bad.stderr}`);
  }
  assert.deepEqual(readFileSync(out), before, 'the existing file is untouched');
  for (const f of ['x.onnx', 'y.onnx', 'z.onnx', 'w.onnx'])
    assert.ok(!existsSync(path.join(dir, f)), `${f} not written`);
});
