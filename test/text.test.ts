// The text system: sampling, generation, training, resume, memory, bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { RunFolder } from '../src/io/run-folder.js';
import { loadCorpus } from '../src/io/corpus.js';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import { Rng } from '../src/util/random.js';
import {
  CharLSTM,
  PairCounter,
  TEXT_DEFAULTS,
  Vocab,
  draw,
  generate,
  loadTextModel,
  reweight,
  trainText,
  type TextTrainConfig,
} from '../src/models/text/index.js';
import { editMetadata, repoRoot } from './helpers.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'loom-text-'));
const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const TEXT = 'the quick brown fox jumps over the lazy dog. '.repeat(30);

function corpus(text = TEXT): string {
  const f = path.join(tmp(), 'corpus.txt');
  writeFileSync(f, text);
  return f;
}

const tiny = (over: Partial<TextTrainConfig> = {}): TextTrainConfig => ({
  ...TEXT_DEFAULTS,
  model: 'lstm',
  maxlen: 16,
  batch: 16,
  units: 32,
  steps: 40,
  logEvery: 10,
  sampleLength: 20,
  valFraction: 0.1,
  ...over,
});

function chiSquare(counts: number[], probs: ArrayLike<number>, n: number): number {
  return counts.reduce((s, c, i) => s + (c - n * probs[i]) ** 2 / (n * probs[i]), 0);
}

test('temperature sampling follows p_i ∝ exp(log p_i / T) (chi-square over 60,000 draws)', () => {
  const logits = [2.0, 1.0, 0.5, 0.0, -1.0, -0.3];
  const T_ = 0.7;
  // The formula, computed independently of reweight(): softmax, then exp(log p / T), renormalised.
  const z = logits.reduce((s, l) => s + Math.exp(l), 0);
  const p = logits.map((l) => Math.exp(l) / z);
  const q0 = p.map((x) => Math.exp(Math.log(x) / T_));
  const q = q0.map((x) => x / q0.reduce((a, b) => a + b, 0));
  const rng = new Rng(42);
  const n = 60000;
  const counts = new Array(logits.length).fill(0);
  const dist = reweight(logits, { temperature: T_ });
  for (let i = 0; i < n; i++) counts[draw(dist, rng)]++;
  const critical = 20.52; // chi-square, 5 degrees of freedom, p = 0.001
  assert.ok(chiSquare(counts, q, n) < critical, `fits the formula: ${chiSquare(counts, q, n)}`);
  assert.ok(chiSquare(counts, p, n) > 10 * critical, 'and is told apart from T = 1');
});

test('temperature 0 is greedy, and a tiny temperature approaches it', () => {
  const logits = [0.1, 3, 2.9, -1];
  assert.deepEqual([...reweight(logits, { temperature: 0 })], [0, 1, 0, 0]);
  assert.ok(reweight(logits, { temperature: 0.01 })[1] > 0.99);
});

test('top-k and top-p keep only the allowed characters', () => {
  const logits = [Math.log(0.5), Math.log(0.25), Math.log(0.15), Math.log(0.1)];
  const k2 = reweight(logits, { temperature: 1, topK: 2 });
  assert.deepEqual(
    [...k2].map((x) => +x.toFixed(6)),
    [0.666667, 0.333333, 0, 0],
  );
  const p7 = reweight(logits, { temperature: 1, topP: 0.7 });
  assert.deepEqual(
    [...p7].map((x) => +x.toFixed(6)),
    [0.666667, 0.333333, 0, 0],
  );
  const p8 = reweight(logits, { temperature: 1, topP: 0.8 });
  assert.equal(p8.filter((x) => x > 0).length, 3);
  const rng = new Rng(1);
  for (let i = 0; i < 2000; i++) assert.ok(draw(k2, rng) < 2);
});

test('vocabulary: sorted code points, unknown characters named', () => {
  const v = Vocab.fromText('bca😀a');
  assert.deepEqual(v.chars, ['a', 'b', 'c', '😀']);
  assert.equal(v.decode(v.encode('ca😀')), 'ca😀');
  assert.throws(() => v.encode('abz!'), /never saw: "z", "!"/);
});

test('merges: the most frequent pair first, ties to the lowest indices, stopping when no pair occurs twice', () => {
  const v = Vocab.fromText('abababc');
  const m = v.learnMerges(v.encodeChars('abababc'), 5);
  assert.deepEqual(m.merges, [
    [0, 1],
    [3, 3],
  ]);
  assert.deepEqual(m.tokens, ['a', 'b', 'c', 'ab', 'abab']);
  assert.deepEqual([...m.lengths], [1, 1, 1, 2, 4]);
  assert.deepEqual([...m.encode('abababc')], [4, 3, 2]);
  assert.deepEqual([...m.encode('cabba')], [2, 3, 1, 0]);
  // xy and yz both occur twice: the lower pair of indices wins, then xyz.
  const w = Vocab.fromText('xyzxyz');
  assert.deepEqual(w.learnMerges(w.encodeChars('xyzxyz'), 9).tokens, ['x', 'y', 'z', 'xy', 'xyz']);
  assert.throws(() => v.learnMerges(v.encodeChars('ab'), -1), /whole number from 0/);
  assert.throws(() => new Vocab(['a', 'b'], [[0, 2]]), /merge \[0, 2\] names a unit that does not exist yet/);
});

test('pair counts: the dense table and the map (for texts of thousands of characters) agree, and restart', () => {
  const rng = new Rng(8);
  const keys = Array.from({ length: 5000 }, () => rng.int(300) * rng.int(3));
  const dense = new PairCounter(1000, keys.length);
  const sparse = new PairCounter(1000, keys.length, 0);
  for (const round of [1, 2]) {
    for (const k of keys.slice(0, round * 2000)) [dense, sparse].forEach((c) => c.add(k));
    const most = dense.takeMost();
    assert.deepEqual(sparse.takeMost(), most);
    assert.equal(most[1], keys.slice(0, round * 2000).filter((k) => k === most[0]).length);
  }
  assert.deepEqual(dense.takeMost(), [-1, 0]);
});

test('merged units spell the text back, emoji included, and count its characters', () => {
  const rng = new Rng(4);
  const alphabet = [...'ab c\n😀é'];
  const text = Array.from({ length: 3000 }, () => alphabet[rng.int(alphabet.length)]).join('');
  const base = Vocab.fromText(text);
  const v = base.learnMerges(base.encodeChars(text.slice(0, 2000)), 60);
  assert.equal(v.merges.length, 60);
  const ids = v.encode(text);
  assert.ok(ids.length < 0.7 * [...text].length, `${ids.length} units`);
  assert.equal(v.decode(ids), text);
  assert.equal(v.charsOf(ids), [...text].length);
  assert.throws(() => v.encode('abz'), /never saw: "z"/);
});

test('a tiny model overfits a short text so that greedy generation reproduces it; same seed, same text', async () => {
  const dir = tmp();
  const r = await trainText(tiny({ corpus: corpus(), steps: 150, lr: 0.01 }), dir, {});
  assert.ok(r.valBpc !== null && r.valBpc < 0.5, `held-out bpc ${r.valBpc}`);
  const { model, vocab } = loadTextModel(dir);
  const prime = 'the quick brown ';
  const [greedy] = generate(model, vocab, { length: 60, prime, temperature: 0 }, new Rng(0));
  assert.equal(prime + greedy, TEXT.slice(0, prime.length + 60));
  const a = generate(model, vocab, { length: 80, prime, temperature: 1.0, count: 3 }, new Rng(9));
  const b = generate(model, vocab, { length: 80, prime, temperature: 1.0, count: 3 }, new Rng(9));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, generate(model, vocab, { length: 80, prime, temperature: 1.0, count: 3 }, new Rng(10)));
  assert.throws(
    () => generate(model, vocab, { length: 5, prime: 'Q€', temperature: 1 }, new Rng(0)),
    /never saw: "Q", "€"/,
  );
  model.dispose();
});

test('a run of N steps equals a run of N/2 steps resumed for N/2 more (weights and metrics)', async () => {
  const c = corpus();
  const full = tmp();
  // A constant rate: a schedule that falls to 0 where the run ends cannot match a run with another end.
  const o = { corpus: c, dropout: 0.2, layers: 2, objective: 'last', schedule: 'constant' } as const;
  await trainText(tiny({ ...o, steps: 40 }), full, {});
  const half = tmp();
  await trainText(tiny({ ...o, steps: 20 }), half, {});
  await trainText(tiny({ corpus: c, steps: 40 }), half, { resume: true });
  const a = loadTextModel(full).model.stateDict();
  const b = loadTextModel(half).model.stateDict();
  for (const [k, t] of a) assert.deepEqual(b.get(k)!.toFlatArray(), t.toFlatArray(), k);
  const steps = (d: string) =>
    readFileSync(path.join(d, 'metrics.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"loss"'))
      .map((l) => JSON.parse(l).loss);
  assert.deepEqual(steps(half), steps(full));
});

test('a run saved before the transformer existed (no model in its config) loads and resumes as the LSTM it is', async () => {
  const c = corpus();
  const run = tmp();
  await trainText(tiny({ corpus: c, steps: 4, schedule: 'constant' }), run, {});
  // Make it an old run: the checkpoint's config without `model`.
  const file = path.join(run, 'checkpoint.safetensors');
  editMetadata(file, (m) => {
    const config = JSON.parse(m.config);
    assert.equal(config.model, 'lstm');
    delete config.model;
    m.config = JSON.stringify(config);
  });
  const old = loadTextModel(file);
  assert.ok(old.model instanceof CharLSTM, 'loads as an LSTM');
  old.model.dispose();
  // Resumed by a command whose default model is now the transformer, it goes on as the LSTM.
  const r = await trainText(tiny({ corpus: c, steps: 6, model: 'gpt' }), run, { resume: true });
  assert.equal(r.steps, 6);
  const resumed = loadTextModel(run);
  assert.ok(resumed.model instanceof CharLSTM, 'resumes as an LSTM');
  resumed.model.dispose();
});

test('training keeps the live tensor count flat from step to step', async () => {
  const counts: number[] = [];
  await trainText(
    tiny({ corpus: corpus(), steps: 30, logEvery: 1, layers: 2 }),
    tmp(),
    {},
    { onStep: () => counts.push(T.liveTensors().undisposed) },
  );
  assert.equal(counts.length, 30);
  assert.equal(counts[29], counts[4]);
});

test('generating 10,000 characters leaves the live tensor count unchanged', () => {
  T.manualSeed(0);
  const vocab = Vocab.fromText(TEXT);
  const model = new CharLSTM({ vocabSize: vocab.size, units: 16, layers: 2, dropout: 0 });
  const before = T.liveTensors().undisposed;
  let seen = 0;
  const [text] = generate(
    model,
    vocab,
    { length: 10000, prime: 'the ', temperature: 1, onChars: () => void seen++ },
    new Rng(3),
  );
  assert.equal(text.length, 10000);
  assert.equal(seen, 10000);
  assert.equal(T.liveTensors().undisposed, before);
  model.dispose();
});

function loom(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

test('the CLI trains and generates; --json lines carry the documented fields', () => {
  const dir = path.join(tmp(), 'run');
  const out = execFileSync(
    process.execPath,
    [
      CLI,
      'text',
      'train',
      '--model',
      'lstm',
      '--corpus',
      corpus(),
      '--out',
      dir,
      '--maxlen',
      '16',
      '--batch',
      '16',
      '--units',
      '16',
      '--steps',
      '20',
      '--log-every',
      '10',
      '--sample-length',
      '10',
      '--json',
    ],
    { encoding: 'utf8' },
  );
  const lines = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const step = lines.find((l) => 'loss' in l);
  for (const k of ['step', 'loss', 'ms_per_step', 'chars_per_sec']) assert.ok(k in step, k);
  const epoch = lines.find((l) => 'train_bpc' in l);
  for (const k of ['epoch', 'train_bpc', 'val_bpc']) assert.ok(k in epoch, k);
  for (const f of ['config.json', 'metrics.jsonl', 'checkpoint.safetensors', 'curves.png'])
    assert.ok(existsSync(path.join(dir, f)), f);
  const gen = loom(
    'text',
    'generate',
    dir,
    '--length',
    '12',
    '--temperature',
    '0.5,1',
    '--count',
    '2',
    '--json',
    '--seed',
    '4',
  );
  assert.equal(gen.status, 0, gen.stderr);
  const samples = gen.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(samples.length, 4);
  for (const s of samples) {
    assert.equal(s.text.length, 12);
    assert.ok(typeof s.temperature === 'number' && typeof s.chars_per_sec === 'number');
  }
  const texts = () =>
    loom('text', 'generate', dir, '--length', '30', '--json', '--seed', '4')
      .stdout.trim()
      .split('\n')
      .map((l) => JSON.parse(l).text);
  assert.deepEqual(texts(), texts(), 'the same --seed gives the same text');
});

test('builtin:moby-dick is the whole novel once, in order', () => {
  const { text, source } = loadCorpus('builtin:moby-dick');
  assert.equal(source, 'builtin:moby-dick');
  assert.ok(text.startsWith('CHAPTER 1. Loomings.\n\nCall me Ishmael.'), text.slice(0, 40));
  assert.ok(text.trimEnd().endsWith('as it rolled five thousand years ago.'), text.slice(-40));
  assert.equal(text.split('Call me Ishmael').length, 2, 'the first line appears once');
  assert.ok(text.length > 1_100_000 && text.length < 1_300_000, `${text.length} characters`);
});

test('empty, binary and non-UTF-8 corpora and bad options get one clear sentence and exit code 2', () => {
  const dir = tmp();
  const bin = path.join(dir, 'bin.dat');
  writeFileSync(bin, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3]));
  const latin1 = path.join(dir, 'latin1.txt');
  writeFileSync(latin1, Buffer.from('caf\xe9 cr\xe8me '.repeat(40), 'latin1'));
  const cases: [string[], RegExp][] = [
    [['--corpus', corpus('')], /is empty/],
    [['--corpus', bin], /looks binary/],
    [['--corpus', latin1], /not UTF-8 text/],
    [['--corpus', path.join(dir, 'missing.txt')], /no such file/],
    [
      ['--corpus', 'builtin:plays'],
      /unknown built-in corpus 'builtin:plays'; there are builtin:sotu, builtin:moby-dick/,
    ],
    [['--corpus', corpus(), '--model', 'lstm', '--maxlen', '-3'], /--maxlen must be a whole number >= 1/],
    [['--corpus', corpus(), '--objective', 'middle'], /--objective must be all or last/],
    [['--corpus', corpus(), '--dropout', 'lots'], /--dropout needs a number/],
    [['--corpus', corpus(), '--batch', '100000'], /too short/],
  ];
  for (const [args, re] of cases) {
    const out = path.join(dir, 'out-' + Math.random().toString(36).slice(2));
    const r = loom('text', 'train', '--out', out, ...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one sentence, no stack trace');
    assert.ok(!existsSync(out), 'nothing is created for bad input');
  }
  const ck = path.join(dir, 'broken.safetensors');
  writeFileSync(ck, 'not a checkpoint');
  const g = loom('text', 'generate', ck);
  assert.equal(g.status, 2);
  assert.match(g.stderr, /not a readable Loom checkpoint/);
});

test('--schedule cosine over a --minutes budget falls with the clock from the rate toward 0', async () => {
  await assert.rejects(
    () => trainText(tiny({ corpus: corpus(), schedule: 'cosine', steps: null }), path.join(tmp(), 'r0'), {}),
    /--schedule cosine needs --steps, --epochs or --minutes/,
  );
  const dir = path.join(tmp(), 'r');
  await trainText(
    tiny({ corpus: corpus(), schedule: 'cosine', steps: null, minutes: 0.1, logEvery: 1, evalEvery: 0 }),
    dir,
    {},
  );
  const lrs = new RunFolder(dir)
    .readMetrics()
    .filter((m) => typeof m.lr === 'number')
    .map((m) => m.lr as number);
  assert.ok(lrs.length >= 10, `${lrs.length} steps in 6 seconds`);
  for (let i = 1; i < lrs.length; i++) assert.ok(lrs[i] <= lrs[i - 1], `step ${i + 1}: ${lrs[i]} > ${lrs[i - 1]}`);
  assert.ok(lrs[0] > 0.5 * 0.01, `the first rate is near --lr: ${lrs[0]}`);
  assert.ok(lrs.at(-1)! < 0.2 * 0.01, `the last rate is near 0: ${lrs.at(-1)}`);
});
