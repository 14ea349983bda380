// `loom text train` and `loom text generate`: thin over src/models/text.
import { Rng } from '../util/random.js';
import {
  TEXT_KINDS,
  TEXT_MODELS,
  TEXT_OPTIONS,
  foreignSetting,
  checkGenerateOptions,
  generate,
  loadTextModel,
  trainText,
  writeTextCurves,
  type TextStartLog,
} from '../models/text/index.js';
import { cliSpecs, configFromCli, kebab } from '../models/options.js';
import { COMMON, helpText, parseOptions, type OptSpecs } from './args.js';
import { UserError } from './errors.js';
import { Progress, distributedNote } from './progress.js';
import { applyCommon, noteOnStderr, onInterrupt } from './common.js';

const TRAIN_OPTS: OptSpecs = {
  ...cliSpecs(TEXT_OPTIONS),
  out: {
    type: 'string',
    help: 'run folder (config.json, metrics.jsonl, samples/, checkpoints)',
    default: 'runs/text',
    meta: 'DIR',
  },
  resume: { type: 'bool', help: 'continue the run in --out exactly where its checkpoint left it' },
  force: { type: 'bool', help: 'replace a run already in --out' },
  ...COMMON,
};

const GEN_OPTS: OptSpecs = {
  length: { type: 'int', help: 'characters to generate', default: 400 },
  temperature: { type: 'numbers', help: 'one sample set per temperature; 0 is greedy', default: [0.2, 0.5, 1.0, 1.2] },
  'top-k': { type: 'int', help: 'sample only from the K most likely characters' },
  'top-p': { type: 'number', help: 'sample only from the most likely characters that make up probability P' },
  prime: { type: 'string', help: 'text to start from (default: a stretch of the training text)' },
  count: { type: 'int', help: 'samples per temperature, generated together as one batch', default: 1 },
  ...COMMON,
};

export async function textCommand(args: string[]): Promise<void> {
  const [verb, ...rest] = args;
  if (verb === 'train') return textTrain(rest);
  if (verb === 'generate') return textGenerate(rest);
  if (verb === undefined || verb === '--help' || verb === '-h') {
    console.log(
      "usage: loom text <train|generate> [options]\n\n  train      train a character-level transformer (or, with --model lstm, the book's LSTM) on a text\n  generate   sample text from a trained model",
    );
    return;
  }
  throw new UserError(`unknown text command '${verb}'; use train or generate`);
}

/** The --help lines that say what each model sets when the user does not. */
function modelDefaults(): string {
  return Object.entries(TEXT_MODELS)
    .map(
      ([name, d]) =>
        `  ${name}: ` +
        Object.entries(d)
          .filter(([, v]) => v !== null)
          .map(([k, v]) => `--${kebab(k)} ${v}`)
          .join(' '),
    )
    .join('\n');
}

async function textTrain(args: string[]): Promise<void> {
  const { values: o, positionals, given } = parseOptions(args, TRAIN_OPTS);
  if (o.help) {
    console.log(
      helpText(
        'loom text train [options]',
        "Trains a character-level language model: a decoder-only transformer by default, or with --model lstm the book's LSTM(128). Unset settings take the model's defaults:\n" +
          modelDefaults(),
        TRAIN_OPTS,
      ),
    );
    return;
  }
  if (positionals.length) throw new UserError(`unexpected argument '${positionals[0]}'; the corpus goes in --corpus`);
  if (o.device !== 'cpu') throw new UserError('text training runs on the CPU only for now (--device cpu)');
  applyCommon(o);
  const cfg = configFromCli(TEXT_OPTIONS, o);
  // Another model's settings (the LSTM's width and sequence length have defaults of their
  // own, so only the command line can tell that the user meant them; they would do nothing).
  const foreign = o.resume ? null : foreignSetting(cfg.model, (k) => given.has(k));
  if (foreign) throw new UserError(foreign);
  if (cfg.epochs === null && cfg.steps === null && cfg.minutes === null) cfg.epochs = 1;
  const progress = new Progress(process.stderr, cfg.minutes);
  const stop = onInterrupt(() =>
    progress.line(
      'loom: stopping after this step; a checkpoint will be saved (Ctrl-C again to quit now)',
      process.stderr,
    ),
  );
  let total: number | null = cfg.steps;
  const result = await trainText(
    cfg,
    o.out,
    { resume: o.resume, force: o.force, given },
    {
      shouldStop: stop,
      onNote: noteOnStderr,
      onStart: (s) => {
        if (!o.json) progress.line(describeStart(cfg.corpus, s));
      },
      onStep: (l) => {
        if (o.json) return console.log(JSON.stringify(l));
        progress.update(
          l.step,
          total,
          `epoch ${l.epoch.toFixed(2)}  loss ${l.loss.toFixed(4)}  ${l.bpc.toFixed(3)} bpc  ${l.ms_per_step.toFixed(1)} ms/step  ${Math.round(l.chars_per_sec).toLocaleString('en')} chars/s${distributedNote(l)}`,
        );
      },
      onEval: (e) => {
        if (o.json) return console.log(JSON.stringify(e));
        progress.line(`step ${e.step}: held-out ${e.val_bpc === null ? 'n/a' : e.val_bpc.toFixed(3) + ' bpc'}`);
      },
      onEpoch: (e) => {
        if (o.json) {
          return console.log(
            JSON.stringify({
              epoch: e.epoch,
              step: e.step,
              train_bpc: e.train_bpc,
              val_bpc: e.val_bpc,
              val_chars: e.val_chars,
              val_total: e.val_total,
              best: e.best,
              samples: e.samples,
            }),
          );
        }
        const sampled =
          e.val_chars < e.val_total
            ? ` on the first ${e.val_chars.toLocaleString('en')} of ${e.val_total.toLocaleString('en')} characters`
            : '';
        const val =
          e.val_bpc === null
            ? 'no held-out text'
            : `held-out ${e.val_bpc.toFixed(3)} bpc${sampled}${e.best ? ' (best so far)' : ''}`;
        progress.line(
          `epoch ${Number(e.epoch.toFixed(3))} (step ${e.step}): train ${e.train_bpc.toFixed(3)} bpc, ${val}`,
        );
        for (const s of e.samples) progress.line(`--- temperature ${s.temperature} ---\n${s.prime}${s.text}\n`);
      },
    },
  );
  progress.clear();
  total = null;
  // Rank 0 alone writes the run's files in a data-parallel run.
  const curves = (Number(process.env.RANK) || 0) === 0 && (await writeTextCurves(o.out));
  if (!o.json) {
    console.log(
      `${result.stoppedEarly ? 'stopped' : 'done'} after ${result.steps} steps; checkpoint in ${o.out}/checkpoint.safetensors` +
        (result.bestValBpc !== null
          ? `, best held-out ${result.bestValBpc.toFixed(3)} bpc in ${o.out}/best.safetensors`
          : '') +
        (curves ? `; learning curve in ${o.out}/curves.png` : ''),
    );
  }
}

async function textGenerate(args: string[]): Promise<void> {
  const { values: o, positionals } = parseOptions(args, GEN_OPTS);
  if (o.help) {
    console.log(
      helpText(
        'loom text generate <run folder | checkpoint> [options]',
        "Samples text from a trained char model, carrying the LSTM's state or the transformer's key/value cache from character to character.",
        GEN_OPTS,
      ),
    );
    return;
  }
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

/** One line on what the run reads: the model, the text and its units (characters or merges). */
export function describeStart(corpus: string, s: TextStartLog): string {
  const n = (x: number) => x.toLocaleString('en');
  const model = TEXT_KINDS[s.model].title;
  const units =
    s.merges === 0
      ? `as ${n(s.vocabSize)} distinct characters`
      : `as ${n(s.vocabSize)} units (${n(s.merges)} byte-pair merges, ${(s.trainChars / s.trainUnits).toFixed(2)} characters a unit)`;
  return `${s.resumed ? 'resuming' : 'training'} ${model} (${n(s.parameters)} parameters) on ${n(s.trainChars)} characters of ${corpus} ${units}; ${n(s.heldOutChars)} held out`;
}
