// Trains a tiny text model through Loom's public API, generates from it, then starts a
// second, longer training and stops it with an AbortController (it saves its checkpoint).
// Run after `npm run build`: node dist/examples/text.js
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LoomError, text } from '../src/index.js';

const work = mkdtempSync(path.join(tmpdir(), 'loom-example-'));
const corpus = path.join(work, 'corpus.txt');
writeFileSync(corpus, 'the quick brown fox jumps over the lazy dog. '.repeat(40));

// A small LSTM for a few hundred steps: seconds on a laptop.
const tiny = { corpus, model: 'lstm', units: 32, maxlen: 16, batch: 16, sampleLength: 40 } as const;
const run = await text.train(
  { ...tiny, steps: 200, out: path.join(work, 'run') },
  {
    onProgress: (p) => {
      if (p.type === 'step') console.log(`step ${p.step.step}: ${p.step.bpc.toFixed(3)} bits per character`);
    },
    onNote: (note) => console.log(`note: ${note}`),
  },
);
console.log(`trained ${run.steps} steps; held-out ${run.heldOutBpc?.toFixed(3)} bits per character`);

{
  using model = await text.load(run.dir);
  const { prime, texts } = await model.generate({ prime: 'the ', length: 60, temperature: 0.5, seed: 1 });
  console.log(`${prime}${texts[0]}`);
}

// A run of a million steps, stopped after two seconds: it resolves with aborted set.
const controller = new AbortController();
setTimeout(() => controller.abort(), 2000);
const long = await text.train(
  { ...tiny, steps: 1_000_000, out: path.join(work, 'long') },
  { signal: controller.signal },
);
console.log(`${long.aborted ? 'stopped' : 'finished'} after ${long.steps} steps; resume with { resume: true }`);

// Bad settings are LoomErrors whose message is one sentence.
try {
  await text.train({ corpus, batch: 0, out: path.join(work, 'bad') });
} catch (e) {
  if (!(e instanceof LoomError)) throw e;
  console.log(`refused: ${e.message}`);
}
