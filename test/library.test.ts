// The public library API (src/index.ts): each system trains, loads and samples through it;
// a training stops on an AbortSignal with a checkpoint that resumes; the library writes
// nothing to stdout or stderr, throws its sentences as LoomErrors and leaves no tensor behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { LoomError, dream, exportOnnx, gan, text, torch as T, vae } from '../src/index.js';
import { collectGarbage, mnistSlice } from './helpers.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'loom-library-'));
const TEXT = 'the quick brown fox jumps over the lazy dog. '.repeat(30);

function corpus(): string {
  const f = path.join(tmp(), 'corpus.txt');
  writeFileSync(f, TEXT);
  return f;
}

// A constant rate: the default anneals over the run's last fifth, so a run's rate depends on its length.
const tiny = {
  model: 'lstm',
  units: 8,
  maxlen: 16,
  batch: 16,
  sampleLength: 10,
  valFraction: 0.1,
  schedule: 'constant',
} as const;

/**
 * Runs `work` with the text written to process.stdout and process.stderr caught; returns it.
 * Buffers pass through: they are the test runner's own reports to its parent.
 */
async function silenced<R>(work: () => Promise<R>): Promise<{ result: R; written: string[] }> {
  const written: string[] = [];
  const streams = [process.stdout, process.stderr];
  const writes = streams.map((s) => s.write);
  streams.forEach((s, i) => {
    s.write = ((chunk: unknown, ...rest: unknown[]) =>
      typeof chunk === 'string'
        ? written.push(chunk) > 0
        : (writes[i] as (...a: unknown[]) => boolean).call(s, chunk, ...rest)) as typeof s.write;
  });
  try {
    return { result: await work(), written };
  } finally {
    streams.forEach((s, i) => (s.write = writes[i]));
  }
}

test('text: train, load and generate through the public API, silently; the same seed gives the same text', async () => {
  const dir = path.join(tmp(), 'run');
  const steps: number[] = [];
  const { result: r, written } = await silenced(() =>
    text.train(
      { ...tiny, corpus: corpus(), steps: 12, logEvery: 4, out: dir },
      { onProgress: (p) => void (p.type === 'step' && steps.push(p.step.step)) },
    ),
  );
  assert.deepEqual(written, []);
  assert.equal(r.dir, dir);
  assert.equal(r.steps, 12);
  assert.equal(r.aborted, false);
  assert.ok(r.heldOutBpc !== null && r.heldOutBpc > 0, `held-out bits per character ${r.heldOutBpc}`);
  assert.deepEqual(steps, [4, 8, 12]);
  using model = await text.load(dir);
  assert.equal(model.config.units, 8);
  const a = await model.generate({ prime: 'the ', length: 30, temperature: 1, count: 2, seed: 5 });
  const b = await model.generate({ prime: 'the ', length: 30, temperature: 1, count: 2, seed: 5 });
  assert.equal(a.prime, 'the ');
  assert.equal(a.texts.length, 2);
  assert.ok(a.texts.every((t) => t.length === 30));
  assert.deepEqual(a, b);
  const primed = await model.generate({ length: 5, temperature: 0, seed: 1 });
  assert.ok(TEXT.includes(primed.prime), `the default prime "${primed.prime}" is from the training text`);
});

test("text: bad options are LoomErrors with the CLI's sentence; a disposed model refuses to generate", async () => {
  await assert.rejects(
    () => text.train({ ...tiny, corpus: corpus(), steps: 2, batch: 0, out: path.join(tmp(), 'r') }),
    (e: unknown) => e instanceof LoomError && /^--batch must be a whole number/.test(e.message),
  );
  await assert.rejects(() => text.load(path.join(tmp(), 'nothing')), LoomError);
  const dir = path.join(tmp(), 'run');
  await text.train({ ...tiny, corpus: corpus(), steps: 2, out: dir });
  const model = await text.load(dir);
  await assert.rejects(
    () => model.generate({ prime: 'Q', length: 5, temperature: 1 }),
    (e: unknown) => e instanceof LoomError && /never saw: "Q"/.test(e.message),
  );
  model.dispose();
  await assert.rejects(() => model.generate({ prime: 'the', length: 5, temperature: 1 }), /was disposed/);

  // Its export: a whole ONNX file, the kind and metadata it reports; a part it lacks, one sentence.
  const outDir = tmp();
  const file = path.join(outDir, 'model.onnx');
  const e = await exportOnnx(dir, file);
  assert.equal(e.kind, 'text');
  assert.equal(e.bytes, readFileSync(file).length);
  assert.match(e.metadata['loom.kind'], /^text-/);
  await assert.rejects(
    () => exportOnnx(dir, path.join(outDir, 'x.onnx'), { part: 'encoder' }),
    (err: unknown) => err instanceof LoomError && /^--part is for VAE runs;/.test(err.message),
  );
  assert.ok(!existsSync(path.join(outDir, 'x.onnx')));
});

test('text: a training aborted from a timer stops early with a checkpoint; resumed, it ends as a run that never stopped', async () => {
  const c = corpus();
  const dir = path.join(tmp(), 'run');
  const controller = new AbortController();
  // Steps enough for minutes: only the abort, which needs the loop to let the timer run, ends it soon.
  const many = 1_000_000;
  setTimeout(() => controller.abort(), 500);
  const { result: r, written } = await silenced(() =>
    text.train({ ...tiny, corpus: c, steps: many, out: dir }, { signal: controller.signal }),
  );
  assert.deepEqual(written, []);
  assert.equal(r.aborted, true);
  assert.ok(r.steps > 0 && r.steps < many, `stopped after ${r.steps} steps`);
  assert.ok(existsSync(path.join(dir, 'checkpoint.safetensors')));
  const total = r.steps + 5;
  const resumed = await text.train({ corpus: c, steps: total, out: dir, resume: true });
  assert.equal(resumed.steps, total);
  assert.equal(resumed.aborted, false);
  const straight = path.join(tmp(), 'straight');
  await text.train({ ...tiny, corpus: c, steps: total, out: straight });
  const a = await text.load(dir);
  const b = await text.load(straight);
  try {
    const o = { prime: 'the ', length: 40, temperature: 1, seed: 3 };
    assert.deepEqual(await a.generate(o), await b.generate(o));
  } finally {
    a.dispose();
    b.dispose();
  }
  // A resumed run that the options ask to change says so through onNote, not on stderr.
  const notes: string[] = [];
  const quiet = await silenced(() =>
    text.train({ corpus: c, steps: total + 1, lr: 0.5, out: dir, resume: true }, { onNote: (m) => notes.push(m) }),
  );
  assert.deepEqual(quiet.written, []);
  assert.equal(notes.length, 1);
  assert.match(notes[0], /^--lr 0\.5 does not apply to a resumed run/);
  // Aborted before it starts: no step, and it still resolves.
  const none = await text.train(
    { ...tiny, corpus: c, steps: 5, out: path.join(tmp(), 'r') },
    { signal: AbortSignal.abort() },
  );
  assert.equal(none.steps, 0);
  assert.equal(none.aborted, true);
});

test('text: a load, generate, dispose cycle leaves the live tensor count where it was', async () => {
  const dir = path.join(tmp(), 'run');
  await text.train({ ...tiny, corpus: corpus(), steps: 2, out: dir });
  const cycle = async () => {
    const model = await text.load(dir);
    await model.generate({ prime: 'the', length: 20, temperature: 1, count: 3, seed: 1 });
    model.dispose();
  };
  await cycle();
  await collectGarbage();
  const before = T.liveTensors().undisposed;
  for (let i = 0; i < 3; i++) await cycle();
  await collectGarbage();
  assert.equal(T.liveTensors().undisposed, before);
});

test('vae: train, stop on an abort, load, and decode a grid, samples and a walk; nothing left behind', async () => {
  const data = mnistSlice(64);
  const dir = path.join(tmp(), 'run');
  const epochs: number[] = [];
  const { result: r, written } = await silenced(() =>
    vae.train(
      { data, epochs: 1, batch: 16, limit: 64, out: dir },
      { onProgress: (p) => void (p.type === 'epoch' && epochs.push(p.epoch.epoch)) },
    ),
  );
  assert.deepEqual(written, []);
  assert.equal(r.aborted, false);
  assert.ok(r.steps > 0 && Number.isFinite(r.test.elbo));
  assert.deepEqual(epochs, [1]);
  const stopped = await vae.train(
    { data, epochs: 1000, batch: 16, limit: 64, out: path.join(tmp(), 'r') },
    {
      signal: AbortSignal.timeout(300),
    },
  );
  assert.equal(stopped.aborted, true);
  assert.ok(stopped.epochs < 1000);
  const cycle = async () => {
    using m = await vae.load(dir);
    const grid = m.grid(3);
    const samples = m.sample(4, { seed: 1 });
    const again = m.sample(4, { seed: 1 });
    const decoded = m.decode([new Array<number>(m.latent).fill(0)]);
    const a = decoded.clone();
    const walk = await m.interpolate(a, decoded, 5);
    assert.deepEqual(decoded.shape, [1, 1, 28, 28]);
    assert.equal(walk.size(0), 5);
    assert.deepEqual(samples.toFlatArray(), again.toFlatArray());
    assert.throws(() => m.grid(3, [0, 0]), LoomError);
    for (const t of [grid, samples, again, decoded, a, walk]) t.dispose();
  };
  await cycle();
  await collectGarbage();
  const before = T.liveTensors().undisposed;
  await cycle();
  await collectGarbage();
  assert.equal(T.liveTensors().undisposed, before);
});

/** A folder of 24x24 grey images in two classes, each all dark or all light. */
async function twoColours(n: number): Promise<string> {
  const dir = tmp();
  for (let i = 0; i < n; i++) {
    const folder = path.join(dir, i % 2 ? 'light' : 'dark');
    mkdirSync(folder, { recursive: true });
    await sharp(Buffer.alloc(24 * 24, i % 2 ? 230 : 25), { raw: { width: 24, height: 24, channels: 1 } })
      .png()
      .toFile(path.join(folder, `${i}.png`));
  }
  return dir;
}

test('gan: train, load and sample a class through the public API; the same seed, the same images', async () => {
  const data = await twoColours(16);
  const dir = path.join(tmp(), 'run');
  const small = { recipe: 'dcgan', latent: 4, batch: 8, gFilters: 8, dFilters: 8, size: 24, channels: 1 } as const;
  const { result: r, written } = await silenced(() =>
    gan.train({ ...small, data, steps: 4, sampleEvery: 4, logEvery: 2, out: dir }),
  );
  assert.deepEqual(written, []);
  assert.equal(r.steps, 4);
  assert.equal(r.aborted, false);
  const cycle = async () => {
    using g = await gan.load(dir);
    assert.deepEqual(g.classes, ['dark', 'light']);
    const a = g.sample(3, { seed: 2, label: 'light' });
    const b = g.sample(3, { seed: 2, label: 'light' });
    assert.deepEqual(a.shape, [3, 1, 24, 24]);
    assert.deepEqual(a.toFlatArray(), b.toFlatArray());
    assert.throws(
      () => g.sample(1, { label: 'blue' }),
      (e: unknown) => e instanceof LoomError && /unknown class 'blue'/.test(e.message),
    );
    a.dispose();
    b.dispose();
  };
  await cycle();
  await collectGarbage();
  const before = T.liveTensors().undisposed;
  await cycle();
  await collectGarbage();
  assert.equal(T.liveTensors().undisposed, before);
});

test('dream: run on a tensor through the public API, silently; an aborted dream takes no step; nothing left behind', async () => {
  T.manualSeed(0);
  const photo = T.rand([1, 3, 96, 96]);
  const steps: number[] = [];
  const { result: out, written } = await silenced(() =>
    dream.run(photo, { octaves: 1, steps: 2 }, { onProgress: (p) => void steps.push(p.step.step) }),
  );
  assert.deepEqual(written, []);
  assert.deepEqual(out.shape, [1, 3, 96, 96]);
  assert.deepEqual(steps, [0, 1]);
  out.dispose();
  await collectGarbage();
  const before = T.liveTensors().undisposed;
  const none: number[] = [];
  const same = await dream.run(
    photo,
    { octaves: 1, steps: 2 },
    { signal: AbortSignal.abort(), onProgress: (p) => void none.push(p.step.step) },
  );
  assert.deepEqual(none, []);
  same.dispose();
  await collectGarbage();
  assert.equal(T.liveTensors().undisposed, before);
  photo.dispose();
});
