// The character transformer: every block's output and gradient against PyTorch, the causal
// mask, the key/value cache, training (overfit, resume, memory) and its refusals; subword units.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import { crossEntropy } from '../src/nn/index.js';
import { loadPth } from '../src/io/pth.js';
import { zeros_ } from '../src/nn/init.js';
import { RunFolder } from '../src/io/run-folder.js';
import { Rng } from '../src/util/random.js';
import {
  CharGPT,
  CharLSTM,
  attentionKernel,
  KvCache,
  evaluateBpc,
  mergesFor,
  withModel,
  causalBias,
  TEXT_DEFAULTS,
  Vocab,
  generate,
  loadTextModel,
  trainText,
  type TextStartLog,
  type TextTrainConfig,
} from '../src/models/text/index.js';
import { describeStart } from '../src/systems/text/trainer.js';
import { assertClose, editMetadata, golden, repoRoot, type Enc } from './helpers.js';

const G = golden('gpt.json');
const tmp = () => mkdtempSync(path.join(tmpdir(), 'loom-gpt-'));
const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const TEXT = 'the quick brown fox jumps over the lazy dog. '.repeat(30);

function corpus(text = TEXT): string {
  const f = path.join(tmp(), 'corpus.txt');
  writeFileSync(f, text);
  return f;
}

const tiny = (over: Partial<TextTrainConfig> = {}): TextTrainConfig => ({
  ...TEXT_DEFAULTS,
  model: 'gpt',
  merges: 0,
  layers: 2,
  embed: 32,
  heads: 2,
  block: 16,
  batch: 16,
  steps: 40,
  warmup: 5,
  lr: 5e-3,
  logEvery: 10,
  sampleLength: 20,
  valFraction: 0.1,
  ...over,
});

function goldenModel(): CharGPT {
  const c = G.config;
  const m = new CharGPT({
    vocabSize: c.vocab,
    block: c.block,
    embed: c.embed,
    heads: c.heads,
    layers: c.layers,
    dropout: 0,
  });
  const report = m.loadStateDict(loadPth(path.join(repoRoot, 'test', 'golden', 'gpt_small.pth')));
  assert.deepEqual(report, { missing: [], unexpected: [] });
  return m;
}

test("every block's output, the logits, the loss and every parameter's gradient match PyTorch's", () => {
  const m = goldenModel();
  const B = 2;
  const L = G.config.block;
  const all = T.tensor(Int32Array.from(G.ids as number[]), { shape: [B, L + 1] }).long();
  const x = all.narrow(1, 0, L);
  // The blocks one by one, as CharGPT.hidden runs them.
  let h = m.wte.forward(x).add(m.wpe.forward(T.arange(0, L).long()));
  const causal = causalBias(L);
  m.blocks.items.forEach((b, i) => {
    h = b.forward(h, causal);
    assertClose(h, G.blocks[i] as Enc, 1e-5, 1e-4, `block ${i}`);
  });
  const logits = m.forward(x);
  assertClose(logits, G.logits as Enc, 1e-4, 1e-4, 'logits');
  const loss = crossEntropy(logits.reshape([-1, G.config.vocab]), all.narrow(1, 1, L).reshape([-1]));
  assert.ok(Math.abs(loss.item() - G.loss) < 1e-4, `loss ${loss.item()} vs ${G.loss}`);
  loss.backward();
  const names = [...m.namedParameters()].map(([n]) => n).sort();
  assert.deepEqual(names, Object.keys(G.grads).sort());
  for (const [name, p] of m.namedParameters()) assertClose(p.grad, G.grads[name] as Enc, 1e-5, 1e-3, `grad ${name}`);
  m.dispose();
});

test('no position sees its future: changing character t + 1 leaves the logits up to t unchanged', () => {
  const m = goldenModel();
  const ids = Int32Array.from([1, 5, 2, 9, 0, 3, 7, 4]);
  const logitsOf = (a: Int32Array) => m.forward(T.tensor(a, { shape: [1, a.length] }).long()).squeeze(0);
  const before = logitsOf(ids);
  for (const t of [0, 3, 6]) {
    const changed = Int32Array.from(ids);
    changed[t + 1] = (changed[t + 1] + 4) % G.config.vocab;
    const after = logitsOf(changed);
    const same = before
      .narrow(0, 0, t + 1)
      .sub(after.narrow(0, 0, t + 1))
      .abs()
      .max()
      .item();
    assert.equal(same, 0, `positions up to ${t} changed by ${same}`);
    const next = before
      .narrow(0, t + 1, 1)
      .sub(after.narrow(0, t + 1, 1))
      .abs()
      .max()
      .item();
    assert.ok(next > 1e-3, `position ${t + 1} reads its own character (${next})`);
  }
  m.dispose();
});

test("the key/value cache: one position at a time gives the whole window's logits; cached and uncached generation agree", () => {
  const m = goldenModel();
  const n = 3;
  const L = G.config.block;
  const rng = new Rng(4);
  const ids = Int32Array.from({ length: n * L }, () => rng.int(G.config.vocab));
  T.noGrad(() => {
    const whole = m.forward(T.tensor(ids, { shape: [n, L] }).long());
    const cache = new KvCache(m.config, n);
    // A prime of 3 positions, then one position at a time.
    const parts = [
      m.forward(
        T.tensor(ids, { shape: [n, L] })
          .narrow(1, 0, 3)
          .long(),
        cache,
      ),
    ];
    for (let t = 3; t < L; t++)
      parts.push(
        m.forward(
          T.tensor(ids, { shape: [n, L] })
            .narrow(1, t, 1)
            .long(),
          cache,
        ),
      );
    const stepped = T.cat(parts, 1);
    const diff = stepped.sub(whole).abs().max().item();
    assert.ok(diff < 1e-4, `cached logits differ by ${diff}`);
    assert.throws(() => m.forward(T.tensor(Int32Array.of(1), { shape: [1, 1] }).long(), cache), /context is 8/);
    cache.dispose();
  });
  // 40 characters from a context of 8: the context restarts from its last half four times.
  const vocab = new Vocab(Array.from({ length: G.config.vocab }, (_, i) => String.fromCharCode(97 + i)));
  const opts = { length: 40, prime: 'abcde', temperature: 1, count: 2 };
  const cached = generate(m, vocab, { ...opts, cached: true }, new Rng(7));
  const uncached = generate(m, vocab, { ...opts, cached: false }, new Rng(7));
  assert.deepEqual(cached, uncached);
  assert.equal(cached[0].length, 40);
  m.dispose();
});

test(
  "libtorch's fused attention (2.x) gives the matmul path's logits, loss and gradients, whole and through the cache",
  { skip: !attentionKernel.fused && 'this libtorch has no fused attention' },
  () => {
    const m = goldenModel();
    const L = G.config.block;
    const rng = new Rng(5);
    const ids = T.tensor(
      Int32Array.from({ length: 2 * (L + 1) }, () => rng.int(G.config.vocab)),
      {
        shape: [2, L + 1],
      },
    ).long();
    const run = (fused: boolean) => {
      attentionKernel.fused = fused;
      try {
        return T.tidy(() => {
          const loss = m.loss(ids, 'all');
          const grads = T.grad([loss], m.parameters()).map((g) => T.keep(g!));
          const cache = new KvCache(m.config, 2);
          const stepped = T.noGrad(() =>
            T.cat(
              Array.from({ length: L }, (_, t) => m.forward(ids.narrow(1, t, 1), cache)),
              1,
            ),
          );
          cache.dispose();
          return { loss: loss.item(), grads, stepped: T.keep(stepped) };
        });
      } finally {
        attentionKernel.fused = true;
      }
    };
    const [fused, plain] = [run(true), run(false)];
    assert.ok(Math.abs(fused.loss - plain.loss) < 1e-5, `loss ${fused.loss} vs ${plain.loss}`);
    fused.grads.forEach((g, i) => {
      const d = T.tidy(() => g.sub(plain.grads[i]).abs().max().item());
      assert.ok(d < 1e-5, `gradient ${i} differs by ${d}`);
    });
    const d = T.tidy(() => fused.stepped.sub(plain.stepped).abs().max().item());
    assert.ok(d < 1e-4, `cached logits differ by ${d}`);
    for (const t of [...fused.grads, ...plain.grads, fused.stepped, plain.stepped, ids]) t.dispose();
    m.dispose();
  },
);

test('a tiny transformer overfits a short text so that greedy generation reproduces it past its context', async () => {
  const dir = tmp();
  const r = await trainText(tiny({ corpus: corpus(), steps: 200 }), dir, {});
  assert.ok(r.valBpc !== null && r.valBpc < 0.3, `held-out bpc ${r.valBpc}`);
  const { model, vocab, config } = loadTextModel(dir);
  assert.ok(model instanceof CharGPT);
  assert.equal(config.block, 16);
  const prime = 'the quick brown ';
  const [greedy] = generate(model, vocab, { length: 60, prime, temperature: 0 }, new Rng(0));
  assert.equal(prime + greedy, TEXT.slice(0, prime.length + 60));
  model.dispose();
});

test('held-out bits per character on subword units: the nats of the predicted units over the characters they spell', () => {
  const base = Vocab.fromText(TEXT);
  const vocab = base.learnMerges(base.encodeChars(TEXT), 30);
  const ids = vocab.encode(TEXT.slice(0, 300));
  assert.ok(ids.length < 150, `${ids.length} units`);
  // Zero output weights: every logit is 0, so each predicted unit costs log2(V) bits.
  const gpt = new CharGPT({ vocabSize: vocab.size, block: 16, embed: 8, heads: 2, layers: 1, dropout: 0 });
  const lstm = new CharLSTM({ vocabSize: vocab.size, units: 8, layers: 1, dropout: 0 });
  T.noGrad(() => [gpt.wte.weight, lstm.head.weight, lstm.head.bias!].forEach((p) => zeros_(p)));
  const all = ((ids.length - 1) * Math.log2(vocab.size)) / vocab.charsOf(ids.subarray(1));
  const near = (a: number | null, b: number) => assert.ok(a !== null && Math.abs(a - b) < 1e-5, `${a} against ${b}`);
  near(evaluateBpc(gpt, vocab, ids, 16), all);
  near(evaluateBpc(lstm, vocab, ids, 16, 1), all);
  // With characters alone the same rule gives log2(V) per character.
  const chars = base.encodeChars(TEXT.slice(0, 300));
  const charGpt = new CharGPT({ vocabSize: base.size, block: 16, embed: 8, heads: 2, layers: 1, dropout: 0 });
  T.noGrad(() => zeros_(charGpt.wte.weight));
  near(evaluateBpc(charGpt, base, chars, 16), Math.log2(base.size));
  [gpt, lstm, charGpt].forEach((m) => m.dispose());
});

test('unset, --merges follows the size of the training text; set, it is kept', () => {
  assert.equal(mergesFor(null, 3_999_999), 0);
  assert.equal(mergesFor(null, 4_000_000), 400);
  assert.equal(mergesFor(0, 10_000_000), 0);
  assert.equal(mergesFor(12, 1000), 12);
  assert.equal(withModel({ ...TEXT_DEFAULTS, model: 'lstm' }).merges, 0);
  assert.equal(withModel({ ...TEXT_DEFAULTS, model: 'gpt' }).merges, null);
});

test('on subword units a transformer learns the text, saves its merges, and generates exactly --length characters', async () => {
  const dir = tmp();
  const starts: TextStartLog[] = [];
  const r = await trainText(
    tiny({ corpus: corpus(), steps: 150, merges: 12 }),
    dir,
    {},
    { onStart: (s) => starts.push(s) },
  );
  assert.ok(r.valBpc !== null && r.valBpc < 0.3, `held-out bpc ${r.valBpc}`);
  // The run says what it reads: 1,350 characters, a tenth held out, the rest as fewer units.
  assert.equal(starts.length, 1);
  const [start] = starts;
  assert.deepEqual(
    { ...start, trainUnits: undefined, parameters: undefined },
    {
      model: 'gpt',
      vocabSize: 28 + 12,
      merges: 12,
      trainChars: 1215,
      heldOutChars: 135,
      resumed: false,
      precision: 'fp32',
      trainUnits: undefined,
      parameters: undefined,
    },
  );
  assert.match(
    describeStart('corpus.txt', start),
    /^training the transformer \([\d,]+ parameters\) on 1,215 characters of corpus\.txt as 40 units \(12 byte-pair merges, [\d.]+ characters a unit\); 135 held out$/,
  );
  const { model, vocab, config } = loadTextModel(dir);
  assert.equal(config.merges, 12);
  assert.equal(vocab.merges.length, 12);
  assert.equal(start.trainUnits, vocab.merge(vocab.encodeChars(TEXT.slice(0, 1215))).length);
  assert.ok(start.trainUnits < 1215);
  const prime = 'the quick brown ';
  const pieces: string[] = [];
  const [greedy] = generate(
    model,
    vocab,
    { length: 61, prime, temperature: 0, onChars: ([p]) => void pieces.push(p) },
    new Rng(0),
  );
  assert.equal(prime + greedy, TEXT.slice(0, prime.length + 61));
  assert.equal(pieces.join(''), greedy);
  assert.ok(pieces.length < 61, `${pieces.length} units for 61 characters`);
  const before = T.liveTensors().undisposed;
  const many = generate(model, vocab, { length: 23, prime, temperature: 1.5, count: 4 }, new Rng(2));
  assert.equal(T.liveTensors().undisposed, before, 'generation on units (token healing included) leaves no tensor');
  assert.deepEqual(
    many.map((x) => [...x].length),
    [23, 23, 23, 23],
  );
  model.dispose();
});

test('a transformer run stopped at step 20 of 30 and resumed ends as the run that never stopped (weights and metrics)', async () => {
  // Stopped, not shortened: the cosine's length is the run's 30 steps in both.
  const c = corpus();
  const full = tmp();
  await trainText(tiny({ corpus: c, steps: 30, dropout: 0.2, merges: 8 }), full, {});
  const half = tmp();
  let asked = 0;
  const first = await trainText(
    tiny({ corpus: c, steps: 30, dropout: 0.2, merges: 8 }),
    half,
    {},
    {
      shouldStop: () => ++asked > 20,
    },
  );
  assert.equal(first.steps, 20);
  let resumed: TextStartLog | null = null;
  await trainText(tiny({ corpus: c, steps: 30 }), half, { resume: true }, { onStart: (s) => void (resumed = s) });
  assert.equal(loadTextModel(half).vocab.merges.length, 8);
  assert.ok(resumed !== null);
  assert.equal((resumed as TextStartLog).resumed, true);
  assert.equal((resumed as TextStartLog).merges, 8);
  assert.match(describeStart(c, resumed), /^resuming the transformer .* \(8 byte-pair merges/);
  const a = loadTextModel(full).model.stateDict();
  const b = loadTextModel(half).model.stateDict();
  assert.ok(a.size > 10);
  for (const [k, t] of a) assert.deepEqual(b.get(k)!.toFlatArray(), t.toFlatArray(), k);
  const losses = (d: string) =>
    new RunFolder(d)
      .readMetrics()
      .filter((m) => typeof m.loss === 'number')
      .map((m) => m.loss);
  assert.deepEqual(losses(half), losses(full));
});

test('transformer training and generation keep the live tensor count flat', async () => {
  const counts: number[] = [];
  await trainText(
    tiny({ corpus: corpus(), steps: 30, logEvery: 1, dropout: 0.1 }),
    tmp(),
    {},
    { onStep: () => counts.push(T.liveTensors().undisposed) },
  );
  assert.equal(counts.length, 30);
  assert.equal(counts[29], counts[4]);
  const m = goldenModel();
  const vocab = new Vocab(Array.from({ length: G.config.vocab }, (_, i) => String.fromCharCode(97 + i)));
  const before = T.liveTensors().undisposed;
  const [text] = generate(m, vocab, { length: 2000, prime: 'abc', temperature: 1 }, new Rng(1));
  assert.equal(text.length, 2000);
  assert.equal(T.liveTensors().undisposed, before);
  m.dispose();
});

test("one model's settings given to the other, indivisible heads, the last-only objective: one sentence each", () => {
  const c = corpus();
  const cases: [string[], RegExp][] = [
    [['--model', 'lstm', '--block', '32'], /--block is a transformer setting; add --model gpt/],
    [['--units', '64'], /--units is an LSTM setting; add --model lstm/],
    [['--maxlen', '30', '--steps', '2'], /--maxlen is an LSTM setting; add --model lstm/],
    [['--objective', 'last'], /--objective last is the LSTM's \(add --model lstm\)/],
    [['--model', 'gpt', '--embed', '30', '--heads', '4'], /--embed \(30\) must be a multiple of --heads \(4\)/],
    [['--model', 'gpt', '--objective', 'last'], /--objective last is the LSTM's/],
    [['--model', 'gpt', '--block', '1'], /--block must be/],
    [['--model', 'rnn'], /--model must be lstm or gpt/],
  ];
  for (const [args, re] of cases) {
    const r = spawnSync(process.execPath, [CLI, 'text', 'train', '--corpus', c, '--out', tmp(), ...args], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('a checkpoint whose merges are damaged is refused in one sentence, by generate and by resume', async () => {
  const c = corpus();
  const run = tmp();
  await trainText(tiny({ corpus: c, steps: 2, merges: 4 }), run, {});
  const file = path.join(run, 'checkpoint.safetensors');
  const damage: [string, RegExp][] = [
    ['[[0, 999]]', /the checkpoint's merges are damaged: merge \[0, 999\] names a unit that does not exist yet/],
    ['{"a": 1}', /the checkpoint's merges are not a list of pairs/],
  ];
  for (const [merges, re] of damage) {
    editMetadata(file, (m) => {
      m.extra = JSON.stringify({ ...JSON.parse(m.extra), merges: JSON.parse(merges) });
    });
    const before = readFileSync(file);
    for (const args of [
      ['text', 'generate', run, '--length', '5'],
      ['text', 'train', '--resume', '--out', run, '--corpus', c, '--steps', '4'],
    ]) {
      const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
      assert.notEqual(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    assert.ok(readFileSync(file).equals(before), 'the checkpoint is left as it was');
  }
});
