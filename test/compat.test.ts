// Run folders saved before the systems' registry (commit a3382d0; test/fixtures/make-old-runs.mjs
// wrote test/fixtures/runs-before-registry with that commit's library) still work with
// today's code: each loads and gives what it gave then, resumes from the CLI and the library,
// and exports as ONNX. Each test works on a copy, so the fixtures stay as they were saved.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { gan, style, text, torch as T, vae } from '../src/index.js';
import { loadCheckpoint } from '../src/io/checkpoint.js';
import { repoRoot } from './helpers.js';

const FIXTURES = path.join(repoRoot, 'test', 'fixtures', 'runs-before-registry');
const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

interface Summary {
  shape: number[];
  mean: number;
  first: number[];
}
/** What the old library made of its runs (see make-old-runs.mjs). */
const expected = JSON.parse(readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')) as {
  textLstm: string;
  textGpt: string;
  vaeDecode: Summary;
  ganSample: Summary;
  styleApply: Summary;
};

// The copy of the fixtures: the runs name their data relative to it (corpus.txt, images),
// so the CLI runs there and the library's resumes change to it.
let dir = '';
before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'loom-compat-'));
  cpSync(FIXTURES, dir, { recursive: true });
});
after(() => rmSync(dir, { recursive: true, force: true }));

const run = (name: string) => path.join(dir, name);

/** Runs the CLI in the copy; it must succeed. Returns its stdout. */
function loom(...args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `loom ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

/** The step a run's checkpoint holds. */
function stepOf(name: string): number {
  using ck = loadCheckpoint(path.join(run(name), 'checkpoint.safetensors'));
  return ck.step;
}

/** `loom export` of a run; returns the file's metadata as --json prints it. */
function exported(name: string, ...more: string[]): Record<string, string> {
  const file = `${name}${more.length ? '-' + more.at(-1) : ''}.onnx`;
  const lines = loom('export', name, '--out', file, '--json', ...more)
    .trim()
    .split('\n');
  const meta = JSON.parse(lines.at(-1)!) as Record<string, string>;
  assert.ok(Number(meta.bytes) > 0, `${file}: ${meta.bytes} bytes`);
  return meta;
}

/** Library work from the copy's folder, where the runs' relative data paths lead. */
async function inCopy<R>(work: () => Promise<R>): Promise<R> {
  const was = process.cwd();
  process.chdir(dir);
  try {
    return await work();
  } finally {
    process.chdir(was);
  }
}

/** A tensor's shape, and its mean and first values within `atol` of what the old library gave. */
function assertLike(t: T.Tensor, want: Summary, what: string, atol = 2e-5): void {
  try {
    assert.deepEqual(t.shape, want.shape, `${what}: shape`);
    const v = t.toFlatArray();
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    assert.ok(Math.abs(mean - want.mean) <= atol, `${what}: mean ${mean}, then ${want.mean}`);
    want.first.forEach((w, i) => assert.ok(Math.abs(v[i] - w) <= atol, `${what}: value ${i} is ${v[i]}, then ${w}`));
  } finally {
    t.dispose();
  }
}

/** The 16×16 gradient make-old-runs.mjs stylised. */
function photo(): T.Tensor {
  const pixels = new Float32Array(3 * 16 * 16);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i % 37) / 36;
  return T.tensor(pixels, { shape: [1, 3, 16, 16] });
}

for (const [name, model, greedy] of [
  ['text-lstm', 'lstm', () => expected.textLstm],
  ['text-gpt', 'gpt', () => expected.textGpt],
] as const) {
  test(`an old ${model} text run loads, writes the text it wrote then, resumes and exports`, async () => {
    const first = stepOf(name);
    {
      using m = await text.load(run(name));
      assert.equal(m.config.model, model);
      const g = await m.generate({ prime: 'The ', length: 24, temperature: 0, seed: 1 });
      assert.equal(g.texts[0], greedy());
    }
    const meta = exported(name);
    assert.equal(meta['loom.kind'], model === 'lstm' ? 'text-lstm-step' : 'text-gpt');

    loom('text', 'train', '--out', name, '--resume', '--steps', String(first + 2));
    assert.equal(stepOf(name), first + 2);
    const r = await inCopy(() => text.train({ out: name, resume: true, steps: first + 4 }));
    assert.equal(r.steps, first + 4);
    assert.equal(stepOf(name), first + 4);

    using m = await text.load(run(name));
    const g = await m.generate({ length: 30, temperature: 1, count: 2, seed: 2 });
    assert.deepEqual(
      g.texts.map((s) => s.length),
      [30, 30],
    );
  });
}

test('an old VAE run loads, decodes as it did then, resumes and exports its decoder and encoder', async () => {
  const first = stepOf('vae');
  {
    using m = await vae.load(run('vae'));
    assert.equal(m.latent, 2);
    assertLike(m.decode([[0.5, -0.5]]), expected.vaeDecode, 'decode');
    const grid = m.grid(3);
    assert.equal(grid.shape.length, 4);
    grid.dispose();
  }
  const decoder = exported('vae');
  assert.equal(decoder['loom.kind'], 'vae-decoder');
  assert.equal(exported('vae', '--part', 'encoder')['loom.kind'], 'vae-encoder');
  // The exported decoder, in onnxruntime, decodes the point as the old library did.
  const session = await ort.InferenceSession.create(path.join(dir, 'vae.onnx'));
  const out = await session.run({
    [session.inputNames[0]]: new ort.Tensor('float32', Float32Array.of(0.5, -0.5), [1, 2]),
  });
  const image = out[session.outputNames[0]];
  assertLike(
    T.tensor(Float32Array.from(image.data as Float32Array), { shape: [...image.dims] }),
    expected.vaeDecode,
    'onnx',
  );

  // One epoch is `first` steps: the CLI goes on to 2 epochs, the library to 3.
  loom('vae', 'train', '--out', 'vae', '--resume', '--epochs', '2');
  assert.equal(stepOf('vae'), 2 * first);
  const r = await inCopy(() => vae.train({ out: 'vae', resume: true, epochs: 3 }));
  assert.deepEqual([r.steps, r.epochs], [3 * first, 3]);
  using m = await vae.load(run('vae'));
  const samples = m.sample(4, { seed: 1 });
  assert.equal(samples.shape.length, 4);
  samples.dispose();
});

test('an old conditional GAN run loads, draws what it drew then, resumes and exports its generator', async () => {
  const first = stepOf('gan');
  {
    using g = await gan.load(run('gan'));
    assert.equal(g.latent, 32);
    assert.deepEqual(g.classes, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assertLike(g.sample(2, { seed: 3, label: '3' }), expected.ganSample, 'sample');
  }
  assert.equal(exported('gan')['loom.kind'], 'gan-generator');

  loom('gan', 'train', '--out', 'gan', '--resume', '--steps', String(first + 2));
  assert.equal(stepOf('gan'), first + 2);
  const r = await gan.train({ out: run('gan'), resume: true, steps: first + 4 });
  assert.equal(r.steps, first + 4);
  using g = await gan.load(run('gan'));
  const images = g.sample(3, { label: '7' });
  assert.deepEqual(images.shape, [3, 1, 28, 28]);
  images.dispose();
});

test('an old fast style run loads, paints as it did then, resumes and exports', async () => {
  const first = stepOf('style-fast');
  {
    using net = await style.loadFast(run('style-fast'));
    const x = photo();
    assertLike(await net.apply(x), expected.styleApply, 'apply');
    x.dispose();
  }
  assert.equal(exported('style-fast')['loom.kind'], 'fast-style');

  loom('style', 'train', '--out', 'style-fast', '--resume', '--steps', String(first + 1));
  assert.equal(stepOf('style-fast'), first + 1);
  using net = await style.loadFast(run('style-fast'));
  const x = photo();
  const y = await net.apply(x);
  assert.deepEqual(y.shape, [1, 3, 16, 16]);
  x.dispose();
  y.dispose();
});
