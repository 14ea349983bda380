// Text's part of `loom demo`: the book's LSTM on builtin:sotu, its samples and learning curve.
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { Rng } from '../../util/random.js';
import {
  TEXT_DEFAULTS,
  TEXT_OPTIONS,
  generate,
  loadTextModel,
  trainText,
  withModel,
  writeTextCurves,
} from '../../models/text/index.js';
import { describeSettings } from '../../models/options.js';
import { noteOnStderr } from '../../cli/common.js';
import type { DemoContext, DemoEntry } from '../demo.js';

export async function textDemo(ctx: DemoContext, minutes: number): Promise<DemoEntry> {
  const { seed, say } = ctx;
  say(`text: training the book's LSTM(128) on builtin:sotu for ${minutes.toFixed(1)} minutes`);
  const t0 = Date.now();
  const textRun = path.join(ctx.runs, 'text');
  // The demo shows the book's system: its LSTM, not the transformer that `text train` defaults to.
  const textCfg = { ...TEXT_DEFAULTS, model: 'lstm' as const, minutes, seed, sampleLength: 200, logEvery: 100 };
  const tr = await trainText(textCfg, textRun, {}, { shouldStop: ctx.stop, onNote: noteOnStderr });
  const textModel = loadTextModel(textRun);
  const rng = new Rng(seed);
  const prime = textModel.primes[0] ?? '\n';
  const texts = [0.2, 0.5, 1.0, 1.2].map((temperature) => ({
    label: `temperature ${temperature}`,
    text: prime + generate(textModel.model, textModel.vocab, { length: 400, prime, temperature }, rng)[0],
  }));
  textModel.model.dispose();
  const images: string[] = [];
  if (await writeTextCurves(textRun)) {
    copyFileSync(path.join(textRun, 'curves.png'), path.join(ctx.out, 'text-curves.png'));
    images.push('text-curves.png');
  }
  return {
    system: 'text',
    title: 'Character-level LSTM on 233 State of the Union addresses',
    settings: `the book's LSTM with RMSprop: ${describeSettings(TEXT_OPTIONS, withModel(textCfg), ['units', 'maxlen', 'step', 'batch', 'lr', 'schedule'])}; ${tr.steps} steps`,
    seconds: (Date.now() - t0) / 1000,
    images,
    texts,
    note: `held-out ${tr.valBpc === null ? 'n/a' : tr.valBpc.toFixed(3)} bits per character; the first 60 characters of each sample are the prime`,
  };
}
