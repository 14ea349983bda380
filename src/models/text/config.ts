// The settings of a text run: the option table, what each model kind sets when the user does
// not, and what each kind is (its network, optimiser, sequence length and own settings), so
// the loops look a kind up here instead of asking which one they hold.
import { AdamW, RMSprop, type Optimizer } from '../../optim/index.js';
import { CharLSTM } from './model.js';
import { CharGPT, checkHeads } from './gpt.js';
import { MAX_MERGES } from './vocab.js';
import type { CharModel } from './char-model.js';
import {
  MINUTES_OPTION,
  PRECISION_OPTION,
  SEED_OPTION,
  checkOptions,
  defaultsOf,
  fillUnset,
  kebab,
  type ConfigOf,
  type OptionTable,
} from '../options.js';

/**
 * The transformer's subword units when --merges is unset: 400 merges on a large text, where
 * they lower held-out bits per character; characters on a small one, which the units would
 * let it memorise. The comparison on builtin:sotu and builtin:moby-dick is in docs/benchmarks.md.
 */
export const SUBWORD_MERGES = 400;
export const SUBWORD_MIN_CHARS = 4_000_000;

/** The merges a run learns: the user's --merges, else the size rule above (the LSTM's table sets 0). */
export function mergesFor(merges: number | null, trainingChars: number): number {
  return merges ?? (trainingChars >= SUBWORD_MIN_CHARS ? SUBWORD_MERGES : 0);
}

/** Every setting of a text training run, declared once (see models/options.ts). */
export const TEXT_OPTIONS = {
  corpus: {
    type: 'string',
    default: 'builtin:sotu',
    help: 'a text file, a folder of text files, builtin:sotu or builtin:moby-dick',
    meta: 'SRC',
    studio: 'corpus',
  },
  maxlen: { type: 'int', default: 60, min: 1, help: 'LSTM: characters per training sequence', studio: true },
  step: {
    type: 'int',
    default: null,
    min: 1,
    help: 'a new sequence starts every STEP characters (lstm 3; gpt 1, or its positions learn the phase)',
  },
  model: {
    type: 'choice',
    // The transformer: lower held-out bits per character than the LSTM at the same budget
    // (docs/benchmarks.md); the book's LSTM is --model lstm.
    default: 'gpt',
    choices: ['lstm', 'gpt'],
    help: "gpt: a decoder-only transformer; lstm: the book's LSTM (unset settings take each model's defaults, see --help)",
    studio: true,
  },
  units: { type: 'int', default: 128, min: 1, help: 'LSTM units per layer', studio: true },
  merges: {
    type: 'int',
    default: null,
    min: 0,
    help: `subword units: learn N byte-pair merges from the training text (0: characters; unset: the transformer takes ${SUBWORD_MERGES} on texts of ${SUBWORD_MIN_CHARS.toLocaleString('en')} characters or more, else characters; the LSTM characters)`,
    studio: true,
  },
  layers: { type: 'int', default: null, min: 1, help: 'LSTM layers or transformer blocks', studio: true },
  embed: { type: 'int', default: null, min: 1, help: 'transformer: embedding width', studio: true },
  heads: { type: 'int', default: null, min: 1, help: 'transformer: attention heads (dividing --embed)', studio: true },
  block: {
    type: 'int',
    default: null,
    min: 2,
    help: 'transformer: context length in units, characters unless --merges (its training sequences are this long)',
    studio: true,
  },
  dropout: { type: 'number', default: null, range: [0, 1], help: 'dropout (between LSTM layers; in every block)' },
  batch: { type: 'int', default: null, min: 1, help: 'sequences per step', studio: true },
  epochs: { type: 'int', default: null, min: 1, help: 'passes over the corpus' },
  steps: { type: 'int', default: null, min: 1, help: 'training steps (instead of --epochs)', studio: true },
  minutes: MINUTES_OPTION,
  precision: PRECISION_OPTION,
  lr: {
    type: 'number',
    default: null,
    positive: true,
    help: 'learning rate (RMSprop for lstm, AdamW for gpt)',
    studio: true,
  },
  schedule: {
    type: 'choice',
    default: 'model',
    choices: ['model', 'constant', 'cosine', 'anneal'],
    help: "learning rate schedule; cosine falls to 0 where the run ends (--steps, --epochs, or --minutes if sooner); anneal holds the rate, then falls linearly to 0 over the last 20% of the run; model: the model's default",
  },
  warmup: { type: 'int', default: null, min: 0, help: 'steps of linear learning-rate warm-up' },
  weightDecay: { type: 'number', default: null, atLeast: 0, help: "transformer: AdamW's weight decay (on matrices)" },
  clip: { type: 'number', default: null, atLeast: 0, help: 'clip the gradient norm to this (0: off)' },
  objective: {
    type: 'choice',
    default: 'all',
    choices: ['all', 'last'],
    help: "all: every position predicts the next character; last: the book's way",
  },
  valFraction: {
    type: 'number',
    default: 0.05,
    range: [0, 0.5],
    flag: 'val',
    help: 'fraction of the corpus (its end) held out for bits per character',
  },
  sampleLength: {
    type: 'int',
    default: 400,
    min: 0,
    help: 'characters sampled at each temperature after each epoch',
    studio: true,
  },
  temperatures: {
    type: 'numbers',
    default: [0.2, 0.5, 1.0, 1.2],
    flag: 'temperature',
    help: 'temperatures of the epoch samples',
  },
  logEvery: { type: 'int', default: 20, min: 1, help: 'log a line every N steps', studio: true },
  saveEvery: {
    type: 'int',
    default: 500,
    min: 1,
    help: 'write a checkpoint every N steps (and after every epoch)',
    studio: true,
  },
  evalEvery: {
    type: 'int',
    default: 0,
    min: 0,
    help: 'also score the held-out text every N steps (0: at epoch ends only)',
    studio: true,
  },
  seed: SEED_OPTION,
} as const satisfies OptionTable;

export type TextTrainConfig = ConfigOf<typeof TEXT_OPTIONS>;
export const TEXT_DEFAULTS: TextTrainConfig = defaultsOf(TEXT_OPTIONS);
/** What a saved run lacks: runs from before the transformer are LSTMs; before subword units, read characters. */
export const SAVED_DEFAULTS: TextTrainConfig = { ...TEXT_DEFAULTS, model: 'lstm', merges: 0 };

/** What each model sets when the user does not (the transformer's chosen by measurement, docs/benchmarks.md). */
export const TEXT_MODELS = {
  // The book's LSTM(128) with RMSprop, with the clip and rate that trained it best. A run with
  // an end anneals the rate over its last 20%, which lowers its held-out bits
  // (docs/benchmarks.md).
  lstm: {
    step: 3,
    merges: 0,
    layers: 1,
    embed: null,
    heads: null,
    block: null,
    dropout: 0,
    batch: 128,
    lr: 0.01,
    schedule: 'anneal',
    warmup: 0,
    weightDecay: null,
    clip: 5,
  },
  // At CPU budgets a small, fast model that takes many steps beats the usual 4-block,
  // 128-context shape; the warm-up, embedding and rate are the best of a sweep
  // (bench/text-sweep). The runs and their figures are in docs/benchmarks.md.
  gpt: {
    step: 1,
    merges: null,
    layers: 2,
    embed: 160,
    heads: 4,
    block: 64,
    dropout: 0,
    batch: 16,
    lr: 3e-3,
    schedule: 'cosine',
    warmup: 1000,
    weightDecay: 0.1,
    clip: 1,
  },
} as const;

type Filled = 'step' | 'layers' | 'dropout' | 'batch' | 'lr' | 'warmup' | 'clip';
/** A config whose model has filled every setting the user left unset (the transformer's stay null for the LSTM). */
export type TextRunConfig = Omit<TextTrainConfig, Filled | 'schedule'> & { [K in Filled]: number } & {
  schedule: 'constant' | 'cosine' | 'anneal';
};

/** The config with every unset setting taken from its model's defaults. */
export function withModel(c: TextTrainConfig): TextRunConfig {
  const m = TEXT_MODELS[c.model] ?? TEXT_MODELS.lstm; // an unknown model is refused by validation
  // The model's cosine needs an end to fall to; a run without one keeps its rate.
  const ends = c.steps !== null || c.epochs !== null || c.minutes !== null;
  const schedule = c.schedule !== 'model' ? c.schedule : ends ? m.schedule : 'constant';
  return { ...fillUnset<TextRunConfig>(c, m), schedule };
}

/** What the loops need of a model kind, looked up by --model. */
export interface TextKind {
  /** How the CLI names it ("training the transformer"). */
  title: string;
  /** Its own settings: another kind refuses them (with `owner` naming whose they are). */
  settings: readonly (keyof TextTrainConfig)[];
  owner: string;
  /** Where its settings are, for the sentence that refuses another kind's. */
  hint: string;
  /** The flag that sets the length of its training sequences. */
  lengthFlag: 'block' | 'maxlen';
  /** A fresh model with its kind's initialisation. */
  create(c: TextRunConfig, vocabSize: number): CharModel;
  optimizer(model: CharModel, c: TextRunConfig): Optimizer;
  /** Checks beyond the option table's. */
  validate(c: TextTrainConfig, r: TextRunConfig): void;
}

export const TEXT_KINDS: Record<TextTrainConfig['model'], TextKind> = {
  lstm: {
    title: 'the LSTM',
    settings: ['units', 'maxlen'],
    owner: 'an LSTM setting',
    hint: "(the LSTM's sequence length is --maxlen)",
    lengthFlag: 'maxlen',
    create: (c, vocabSize) => new CharLSTM({ vocabSize, units: c.units, layers: c.layers, dropout: c.dropout }),
    optimizer: (model, c) => new RMSprop(model.parameters(), { lr: c.lr }),
    validate: () => {},
  },
  gpt: {
    title: 'the transformer',
    settings: ['embed', 'heads', 'block', 'weightDecay'],
    owner: 'a transformer setting',
    hint: "(the transformer's are --embed, --layers and --block)",
    lengthFlag: 'block',
    create: (c, vocabSize) =>
      new CharGPT({
        vocabSize,
        block: c.block!,
        embed: c.embed!,
        heads: c.heads!,
        layers: c.layers,
        dropout: c.dropout,
      }),
    optimizer: (model, c) =>
      new AdamW(model.parameters(), {
        lr: c.lr,
        beta2: 0.99,
        weightDecay: c.weightDecay!,
        // Matrices decay; biases and layer norms' gains do not (as GPT-2 and nanoGPT).
        noDecay: model.parameters().filter((p) => p.ndim < 2),
      }),
    validate: (c, r) => {
      if (c.objective !== 'all')
        throw new Error("--objective last is the LSTM's (add --model lstm); the transformer predicts every position");
      checkHeads(r.embed!, r.heads!);
    },
  },
};

/** Units per training sequence: the kind's --maxlen or --block. */
export const seqLength = (c: TextRunConfig): number => c[TEXT_KINDS[c.model].lengthFlag]!;

/**
 * The first of `keys` that belongs to a kind other than `model`, with the sentence that refuses
 * it; `keys`: the settings given (the CLI) or set (validation).
 */
export function foreignSetting(
  model: TextTrainConfig['model'],
  keys: (k: keyof TextTrainConfig) => boolean,
): string | null {
  for (const [name, kind] of Object.entries(TEXT_KINDS)) {
    if (name === model) continue;
    const k = kind.settings.find(keys);
    if (k) return `--${kebab(k)} is ${kind.owner}; add --model ${name} ${TEXT_KINDS[model].hint}`;
  }
  return null;
}

export function validateTextConfig(c: TextTrainConfig): void {
  checkOptions(TEXT_OPTIONS, c);
  const r = withModel(c);
  if (r.schedule !== 'constant' && c.steps === null && c.epochs === null && c.minutes === null)
    throw new Error(`--schedule ${r.schedule} needs --steps, --epochs or --minutes (it falls to 0 where the run ends)`);
  // Settings without a default are null unless the user set them (the CLI refuses the rest).
  const foreign = foreignSetting(c.model, (k) => TEXT_DEFAULTS[k] === null && c[k] !== null);
  if (foreign) throw new Error(foreign);
  TEXT_KINDS[c.model].validate(c, r);
  if (c.merges !== null && c.merges > MAX_MERGES)
    throw new Error(`--merges must be at most ${MAX_MERGES}, got ${c.merges}`);
  if (!c.temperatures.length || c.temperatures.some((t) => !(t >= 0)))
    throw new Error('--temperature takes numbers >= 0, comma-separated');
}
