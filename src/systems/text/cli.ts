// `loom text train` (the shared train verb over textTrainer) and `loom text generate`.
import { Rng } from '../../util/random.js';
import { checkGenerateOptions, generate, loadTextModel } from '../../models/text/index.js';
import { COMMON, parseCommand, type CommandHelp, type OptSpecs } from '../../cli/args.js';
import { UserError } from '../../cli/errors.js';
import { applyCommon } from '../../cli/common.js';
import { trainCommand } from '../../cli/train.js';
import { runVerb } from '../../cli/verbs.js';
import { textSystem } from './system.js';

const GEN_OPTS: OptSpecs = {
  length: { type: 'int', help: 'characters to generate', default: 400 },
  temperature: { type: 'numbers', help: 'one sample set per temperature; 0 is greedy', default: [0.2, 0.5, 1.0, 1.2] },
  'top-k': { type: 'int', help: 'sample only from the K most likely characters' },
  'top-p': { type: 'number', help: 'sample only from the most likely characters that make up probability P' },
  prime: { type: 'string', help: 'text to start from (default: a stretch of the training text)' },
  count: { type: 'int', help: 'samples per temperature, generated together as one batch', default: 1 },
  ...COMMON,
};

const GEN_OPTS_HELP: CommandHelp = {
  usage: 'loom text generate <run folder | checkpoint> [options]',
  about:
    "Samples text from a trained char model, carrying the LSTM's state or the transformer's key/value cache from character to character.",
  options: GEN_OPTS,
};

export const textCommand = (args: string[]): Promise<void> =>
  runVerb(
    'text',
    {
      train: {
        what: "train a character-level transformer (or, with --model lstm, the book's LSTM) on a text",
        run: (a) => trainCommand(textSystem, a),
      },
      generate: { what: 'sample text from a trained model', run: textGenerate },
    },
    args,
  );

async function textGenerate(args: string[]): Promise<void> {
  const parsed = parseCommand(args, GEN_OPTS_HELP);
  if (!parsed) return;
  const { values: o, positionals } = parsed;
  if (positionals.length !== 1) throw new UserError('give one run folder or checkpoint to generate from');
  applyCommon(o);
  const { model, vocab, primes } = loadTextModel(positionals[0]);
  const seed = o.seed ?? Math.floor(Math.random() * 2 ** 31);
  const rng = new Rng(seed);
  const prime: string = o.prime ?? (primes.length ? primes[rng.int(primes.length)] : '\n');
  const stream = o.count === 1 && !o.json;
  try {
    // Every flag, for every temperature, before the first sample is printed.
    const asked = (temperature: number) => ({
      length: o.length,
      prime,
      temperature,
      topK: o.topK,
      topP: o.topP,
      count: o.count,
    });
    for (const temperature of o.temperature as number[]) checkGenerateOptions(vocab, asked(temperature));
    for (const temperature of o.temperature as number[]) {
      if (stream) process.stdout.write(`--- temperature ${temperature} ---\n${prime}`);
      const t0 = performance.now();
      const texts = generate(
        model,
        vocab,
        { ...asked(temperature), onChars: stream ? (c) => process.stdout.write(c[0]) : undefined },
        rng,
      );
      const cps = (o.length * o.count * 1000) / (performance.now() - t0);
      for (const text of texts) {
        if (o.json) console.log(JSON.stringify({ temperature, prime, text, chars_per_sec: cps, seed }));
        else if (stream) process.stdout.write('\n\n');
        else console.log(`--- temperature ${temperature} ---\n${prime}${text}\n`);
      }
    }
  } finally {
    model.dispose();
  }
}
