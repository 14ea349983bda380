// Training the char model: windows of maxlen characters every `step` characters, encoded
// per batch; held-out bits per character each epoch; samples at four temperatures; exact
// resume from the run folder's checkpoint.
import { writeFileAtomic } from '../../io/files.js';
import * as T from '../../torch/index.js';
import { tidy } from '../../torch/index.js';
import { crossEntropy } from '../../nn/index.js';
import { AdamW, RMSprop, schedules } from '../../optim/index.js';
import { loadCorpus } from '../../io/corpus.js';
import { Rng } from '../../util/random.js';
import { RunFolder } from '../../io/run-folder.js';
import {
  PerEpoch,
  Training,
  loadFromRun,
  type DistributedLog,
  type RunControl,
  type RunMode,
} from '../../train/index.js';
import { CharLSTM } from './model.js';
import { CharGPT, checkHeads } from './gpt.js';
import { MAX_MERGES, Vocab } from './vocab.js';
import { generate, type CharModel } from './generate.js';
import {
  MINUTES_OPTION,
  SEED_OPTION,
  checkOptions,
  defaultsOf,
  fillUnset,
  type ConfigOf,
  type OptionTable,
} from '../options.js';

/**
 * The transformer's subword units when --merges is unset: 400 merges on a large text (10
 * minutes on builtin:sotu, 10.2 M training characters: 1.725 bits per character against 1.827
 * on characters), characters on a small one, which the units let it memorise (builtin:moby-dick,
 * 1.1 M: 2.061 with 400 merges, 1.985 with 100, 1.992 on characters; docs/benchmarks.md).
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
    // The transformer since session 14: 0.13 bits per character below the LSTM at 10 minutes
    // on 2 cores and at 60 (docs/benchmarks.md); the seed's LSTM is --model lstm.
    default: 'gpt',
    choices: ['lstm', 'gpt'],
    help: "gpt: a decoder-only transformer; lstm: the seed's LSTM (unset settings take each model's defaults, see --help)",
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
    help: "all: every position predicts the next character; last: the seed's way",
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
const SAVED_DEFAULTS: TextTrainConfig = { ...TEXT_DEFAULTS, model: 'lstm', merges: 0 };

/** What each model sets when the user does not (the transformer's chosen by measurement, docs/benchmarks.md). */
export const TEXT_MODELS = {
  // The seed's LSTM(128) with RMSprop; the clip and rate measured in earlier sessions. A run
  // with an end anneals the rate over its last 20% (0.04 bits better at 10 minutes).
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
  // Measured at 5 and 10 minutes on builtin:sotu (docs/benchmarks.md): at CPU budgets a
  // small, fast model that takes many steps beats the usual 4-block, 128-context shape. The
  // 1,000 warm-up steps won a GPU sweep of 130 runs at the 10-minute step count by 0.04
  // bits on three seeds (bench/text-sweep); its next best, embedding 160 at lr 3e-3, was
  // 0.01 better than 128 at 4e-3 with Loom on two seeds (1.827, 1.821 against 1.833, 1.835).
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

/** Characters per training sequence: the LSTM's --maxlen, the transformer's --block. */
const seqLength = (c: TextRunConfig): number => (c.model === 'gpt' ? c.block! : c.maxlen);

export interface StepLog extends DistributedLog {
  step: number;
  epoch: number;
  loss: number;
  bpc: number;
  lr: number;
  ms_per_step: number;
  chars_per_sec: number;
}
export interface EpochLog {
  epoch: number;
  step: number;
  train_bpc: number;
  val_bpc: number | null;
  /** Held-out characters scored, and how many there are (more when capped at HELD_OUT_LIMIT). */
  val_chars: number;
  val_total: number;
  best: boolean;
  samples: { temperature: number; prime: string; text: string }[];
}
/** What a run reads, as chosen before its first step (the units: characters, or byte-pair merges of them). */
export interface TextStartLog {
  model: 'lstm' | 'gpt';
  parameters: number;
  /** Units the model reads: the corpus's characters plus one per merge. */
  vocabSize: number;
  merges: number;
  trainChars: number;
  /** The training text's length in units (its characters when there are no merges). */
  trainUnits: number;
  heldOutChars: number;
  resumed: boolean;
}
export interface TextTrainHooks extends RunControl {
  onStart?(log: TextStartLog): void;
  onStep?(log: StepLog): void;
  onEpoch?(log: EpochLog): void;
  onEval?(log: { step: number; val_bpc: number | null }): void;
}
export interface TextTrainResult {
  steps: number;
  stepsPerEpoch: number;
  valBpc: number | null;
  bestValBpc: number | null;
  /** Stopped by shouldStop or the signal (with a checkpoint), not by its steps or minutes. */
  stoppedEarly: boolean;
}

const LN2 = Math.LN2;
/**
 * Held-out text beyond this many characters is scored on its first this-many only, so an
 * evaluation costs a bounded time whatever the corpus (and stays comparable across epochs).
 */
export const HELD_OUT_LIMIT = 200_000;

export function validateTextConfig(c: TextTrainConfig): void {
  checkOptions(TEXT_OPTIONS, c);
  const r = withModel(c);
  if (r.schedule !== 'constant' && c.steps === null && c.epochs === null && c.minutes === null)
    throw new Error(`--schedule ${r.schedule} needs --steps, --epochs or --minutes (it falls to 0 where the run ends)`);
  if (c.model === 'lstm') {
    // The LSTM's table leaves the transformer's settings null, so a value here is the user's.
    const gptOnly = (['embed', 'heads', 'block', 'weightDecay'] as const).find((k) => c[k] !== null);
    if (gptOnly)
      throw new Error(
        `--${gptOnly === 'weightDecay' ? 'weight-decay' : gptOnly} is a transformer setting; add --model gpt (the LSTM's sequence length is --maxlen)`,
      );
  } else {
    if (c.objective !== 'all')
      throw new Error("--objective last is the LSTM's (add --model lstm); the transformer predicts every position");
    checkHeads(r.embed!, r.heads!);
  }
  if (c.merges !== null && c.merges > MAX_MERGES)
    throw new Error(`--merges must be at most ${MAX_MERGES}, got ${c.merges}`);
  if (!c.temperatures.length || c.temperatures.some((t) => !(t >= 0)))
    throw new Error('--temperature takes numbers >= 0, comma-separated');
}

/** A short fingerprint of the corpus, so a resumed run can tell that it changed. */
function fingerprint(ids: Int32Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < ids.length; i++) h = Math.imul(h ^ ids[i], 0x01000193) >>> 0;
  return `${ids.length}:${h.toString(16)}`;
}

/**
 * Bits per character of a held-out stream of units (`vocab`'s characters and merged pieces):
 * the nats of every predicted unit over the characters they spell. The LSTM reads it as
 * `streams` parallel pieces with carried state; the transformer in windows of its block that
 * overlap by half, each scoring only the units the window before did not, so every unit after
 * the first half-block is predicted from at least half a block of context.
 */
export function evaluateBpc(
  model: CharModel,
  vocab: Vocab,
  ids: Int32Array,
  maxlen: number,
  streams = 32,
): number | null {
  const scored = model instanceof CharGPT ? gptNats(model, ids, streams) : lstmNats(model, ids, maxlen, streams);
  // Units 1..count were predicted (the first has nothing before it).
  return scored && scored.nats / vocab.charsOf(ids.subarray(1, scored.count + 1)) / LN2;
}

/** Total nats of units 1..count of `ids`, each predicted from those before it. */
interface Scored {
  nats: number;
  count: number;
}

function gptNats(model: CharGPT, ids: Int32Array, batch: number): Scored | null {
  const n = ids.length - 1; // targets: unit i + 1 predicted from units 0..i
  if (n < 1) return null;
  const block = model.config.block;
  const stride = Math.max(1, Math.floor(block / 2));
  const windows: { start: number; length: number; from: number }[] = [];
  for (let start = 0, covered = 0; covered < n; start += stride) {
    const length = Math.min(block, n - start);
    windows.push({ start, length, from: covered - start });
    covered = start + length;
  }
  const wasTraining = model.training;
  model.eval();
  let total = 0;
  T.noGrad(() => {
    for (let i = 0; i < windows.length;) {
      // A batch of consecutive windows of one shape (the first and the last may differ).
      const { length, from } = windows[i];
      let j = i;
      while (j < windows.length && j - i < batch && windows[j].length === length && windows[j].from === from) j++;
      const b = j - i;
      const x = new Int32Array(b * length);
      const y = new Int32Array(b * length);
      for (let k = 0; k < b; k++) {
        const s = windows[i + k].start;
        x.set(ids.subarray(s, s + length), k * length);
        y.set(ids.subarray(s + 1, s + length + 1), k * length);
      }
      tidy(() => {
        const logits = model.forward(T.tensor(x, { shape: [b, length] }).long()).narrow(1, from, length - from);
        const targets = T.tensor(y, { shape: [b, length] })
          .long()
          .narrow(1, from, length - from);
        total += crossEntropy(logits.reshape([b * (length - from), -1]), targets.reshape([-1]), {
          reduction: 'sum',
        }).item();
      });
      i = j;
    }
  });
  model.train(wasTraining);
  return { nats: total, count: n };
}

function lstmNats(model: CharLSTM, ids: Int32Array, maxlen: number, streams: number): Scored | null {
  const b = Math.max(1, Math.min(streams, Math.floor((ids.length - 1) / maxlen)));
  const len = Math.floor((ids.length - 1) / b);
  if (len < 1) return null;
  const wasTraining = model.training;
  model.eval();
  let total = 0;
  T.noGrad(() => {
    let state: [T.Tensor, T.Tensor] | undefined;
    for (let start = 0; start < len; start += maxlen) {
      const l = Math.min(maxlen, len - start);
      const x = new Int32Array(b * l);
      const y = new Int32Array(b * l);
      for (let j = 0; j < b; j++) {
        x.set(ids.subarray(j * len + start, j * len + start + l), j * l);
        y.set(ids.subarray(j * len + start + 1, j * len + start + l + 1), j * l);
      }
      const next = tidy(() => {
        const [logits, s] = model.forward(T.tensor(x, { shape: [b, l] }), state);
        total += crossEntropy(logits.reshape([b * l, -1]), T.tensor(y).long(), { reduction: 'sum' }).item();
        return s;
      });
      state?.forEach((t) => t.dispose());
      state = next;
    }
    state?.forEach((t) => t.dispose());
  });
  model.train(wasTraining);
  return { nats: total, count: b * len }; // stream j scored units j·len + 1 .. (j + 1)·len
}

/** Trains (or resumes) a char model into a run folder. */
export async function trainText(
  config: TextTrainConfig,
  outDir: string,
  mode: RunMode,
  hooks: TextTrainHooks = {},
): Promise<TextTrainResult> {
  using t = Training.open({
    system: 'text',
    config: withModel(config),
    defaults: SAVED_DEFAULTS,
    outDir,
    mode,
    fromCommand: ['epochs', 'steps', 'minutes'],
    validate: validateTextConfig,
    shouldStop: hooks.shouldStop,
    signal: hooks.signal,
    onNote: hooks.onNote,
    advice: 'lower --lr',
  });
  const cfg = withModel(t.cfg);
  const { run } = t;
  const len = seqLength(cfg);
  const { text } = loadCorpus(cfg.corpus);
  const saved = t.resumed ? savedVocab(t.resumed) : null;
  const chars = saved ?? Vocab.fromText(text);
  const charIds = chars.encodeChars(text);
  if (t.resumed && t.resumed.fingerprint !== fingerprint(charIds)) {
    throw new Error(`the corpus ${cfg.corpus} changed since this run started; resume needs the same text`);
  }
  // The held-out characters are split off first, so the merges are learned from the training
  // text alone and every setting scores the same characters.
  const nValChars = Math.floor(charIds.length * cfg.valFraction);
  const trainChars = charIds.subarray(0, charIds.length - nValChars);
  const valChars = charIds.subarray(charIds.length - nValChars);
  const vocab = saved ?? chars.learnMerges(trainChars, mergesFor(cfg.merges, trainChars.length));
  const train = vocab.merge(trainChars);
  const scored = vocab.merge(valChars.subarray(0, Math.min(valChars.length, HELD_OUT_LIMIT)));
  const windows = Math.floor((train.length - len - 1) / cfg.step) + 1;
  // Data-parallel: a step's global batch is --batch per process; rank r takes its r-th share.
  const globalBatch = cfg.batch * t.world;
  if (windows < globalBatch) {
    const batchOf = t.world > 1 ? `${globalBatch} (${cfg.batch} per process)` : `${cfg.batch}`;
    throw new Error(
      `the corpus is too short: it gives ${Math.max(0, windows)} windows of ${len + 1} ${vocab.merges.length ? 'units' : 'characters'}, fewer than one batch of ${batchOf}; lower --batch or --${cfg.model === 'gpt' ? 'block' : 'maxlen'}${vocab.merges.length ? ', or --merges (0: characters)' : ''}`,
    );
  }
  const stepsPerEpoch = Math.floor(windows / globalBatch);
  const totalSteps = cfg.steps ?? (cfg.epochs !== null ? cfg.epochs * stepsPerEpoch : Infinity);

  T.manualSeed(cfg.seed);
  const model = t.own(newCharModel(cfg, vocab.size));
  const opt = t.own(
    model instanceof CharGPT
      ? new AdamW(model.parameters(), {
          lr: cfg.lr,
          beta2: 0.99,
          weightDecay: cfg.weightDecay!,
          // Matrices decay; biases and layer norms' gains do not (as GPT-2 and nanoGPT).
          noDecay: model.parameters().filter((p) => p.ndim < 2),
        })
      : new RMSprop(model.parameters(), { lr: cfg.lr }),
  );
  // Cosine and anneal reach 0 where the run ends: at its last step, or when its --minutes are spent.
  const schedule = cfg.schedule;
  const rateAt = schedules.warmup(cfg.warmup, (step) =>
    schedule === 'constant' ? cfg.lr : schedules.endingAt(schedule, cfg.lr, t.progress(step, totalSteps)),
  );
  const rngPrimes = new Rng(cfg.seed, 0x7e57);
  const primes = t.resumed
    ? (t.resumed.primes as string[])
    : Array.from({ length: 16 }, () => {
        const s = rngPrimes.int(train.length - cfg.maxlen);
        return vocab.decode(train.subarray(s, s + cfg.maxlen));
      });
  let bestValBpc = (t.resumed?.bestValBpc as number | null | undefined) ?? null;
  hooks.onStart?.({
    model: cfg.model,
    parameters: model.parameterCount(),
    vocabSize: vocab.size,
    merges: vocab.merges.length,
    trainChars: trainChars.length,
    trainUnits: train.length,
    heldOutChars: valChars.length,
    resumed: t.resumed !== null,
  });
  t.begin(
    { modules: { model }, optimizers: { opt } },
    {
      extra: () => ({
        vocab: vocab.chars,
        merges: vocab.merges,
        primes,
        fingerprint: fingerprint(charIds),
        bestValBpc,
        stepsPerEpoch,
      }),
    },
  );

  // The data order is a function of (seed, epoch) alone, so resuming replays it exactly.
  const order = new PerEpoch((epoch) =>
    new Rng(cfg.seed, epoch).shuffle(Uint32Array.from({ length: windows }, (_, i) => i * cfg.step)),
  );
  const batchIds = new Int32Array(cfg.batch * (len + 1));
  // Training bits per character: the loss per unit over the training text's characters per
  // unit (what a random window's units hold on average; 1 on characters).
  const charsPerUnit = trainChars.length / train.length;
  const bitsPerChar = (nats: number) => nats / LN2 / charsPerUnit;
  let epochLossSum = 0;
  let epochLossCount = 0;
  let lastVal: number | null = null;
  const heldOut = () => (scored.length > len ? evaluateBpc(model, vocab, scored, len) : null);

  /** Held-out score, samples at each temperature, a checkpoint (and the best one). */
  const endOfEpoch = (epoch: number) => {
    const step = t.step;
    lastVal = heldOut();
    const best = lastVal !== null && (bestValBpc === null || lastVal < bestValBpc);
    if (best) bestValBpc = lastVal;
    const rng = new Rng(cfg.seed, epoch, 0x5a);
    const s = rng.int(train.length - cfg.maxlen);
    const prime = vocab.decode(train.subarray(s, s + cfg.maxlen));
    const samples = cfg.temperatures.map((temperature) => ({
      temperature,
      prime,
      text: generate(model, vocab, { length: cfg.sampleLength, prime, temperature }, rng)[0],
    }));
    writeFileAtomic(
      run.file('samples', `${Number.isInteger(epoch) ? RunFolder.epochTag(epoch) : RunFolder.stepTag(step)}.txt`),
      samples.map((x) => `--- temperature ${x.temperature} ---\n${x.prime}${x.text}\n`).join('\n'),
    );
    const trainBpc = epochLossCount ? bitsPerChar(epochLossSum / epochLossCount) : NaN;
    const line = {
      epoch,
      step,
      train_bpc: trainBpc,
      val_bpc: lastVal,
      val_chars: Math.min(valChars.length, HELD_OUT_LIMIT),
      val_total: valChars.length,
      best,
    };
    run.log(line);
    epochLossSum = 0;
    epochLossCount = 0;
    t.save();
    if (best) t.keepAs('best');
    hooks.onEpoch?.({ ...line, samples });
  };

  model.train();
  for await (const step of t.steps(totalSteps)) {
    const epoch = Math.floor(step / stepsPerEpoch);
    const perm = order.get(epoch);
    const within = step % stepsPerEpoch;
    for (let j = 0; j < cfg.batch; j++) {
      const s = perm[within * globalBatch + t.rank * cfg.batch + j];
      batchIds.set(train.subarray(s, s + len + 1), j * (len + 1));
    }
    const lr = rateAt(step);
    opt.lr = lr;
    const loss = tidy(() => {
      const all = T.tensor(batchIds, { shape: [cfg.batch, len + 1] }).long();
      const x = all.narrow(1, 0, len);
      let l: T.Tensor;
      if (model instanceof CharGPT) {
        l = crossEntropy(model.forward(x).reshape([-1, vocab.size]), all.narrow(1, 1, len).reshape([-1]));
      } else if (cfg.objective === 'all') {
        const [logits] = model.forward(x);
        l = crossEntropy(logits.reshape([-1, vocab.size]), all.narrow(1, 1, len).reshape([-1]));
      } else {
        const [h] = model.hidden(x);
        l = crossEntropy(model.head.forward(h.select(1, -1)), all.select(1, len));
      }
      opt.backwardStep(l, { clipNorm: cfg.clip });
      return l.item();
    });
    const due = t.advance({ loss }, totalSteps);
    epochLossSum += loss;
    epochLossCount++;
    if (due) {
      const log: StepLog = {
        step: t.step,
        epoch: t.step / stepsPerEpoch,
        loss: due.mean.loss,
        bpc: bitsPerChar(due.mean.loss),
        lr,
        ms_per_step: due.msPerStep,
        chars_per_sec: (globalBatch * len * charsPerUnit * 1000) / due.msPerStep,
        ...t.distributedLog(cfg.batch, due),
      };
      run.log({ ...log });
      hooks.onStep?.(log);
    }
    if (t.step % stepsPerEpoch === 0) endOfEpoch(t.step / stepsPerEpoch);
    else {
      if (cfg.evalEvery > 0 && t.step % cfg.evalEvery === 0) {
        const valBpc = heldOut();
        run.log({
          step: t.step,
          epoch: t.step / stepsPerEpoch,
          val_bpc: valBpc,
          elapsed_s: (Date.now() - t.started) / 1000,
        });
        hooks.onEval?.({ step: t.step, val_bpc: valBpc });
      }
      if (t.step % cfg.saveEvery === 0) t.save();
    }
  }
  // A run that stops between epochs still gets a checkpoint, a held-out score and samples.
  if (t.step % stepsPerEpoch !== 0 && t.step > 0) endOfEpoch(t.step / stepsPerEpoch);
  else if (t.step === 0) t.save();
  return { steps: t.step, stepsPerEpoch, valBpc: lastVal, bestValBpc, stoppedEarly: t.stopReason === 'asked' };
}

/** The vocabulary a checkpoint saved: its characters, and its merges (none before subword units). */
function savedVocab(extra: Record<string, unknown>): Vocab {
  const merges = extra.merges ?? [];
  if (!Array.isArray(merges) || !merges.every((m) => Array.isArray(m) && m.length === 2))
    throw new Error("the checkpoint's merges are not a list of pairs");
  try {
    return new Vocab(extra.vocab as string[], merges as [number, number][]);
  } catch (e) {
    throw new Error(`the checkpoint's merges are damaged: ${(e as Error).message}`, { cause: e });
  }
}

/** A fresh model of the config's kind, with the seed's (or GPT-2's) initialisation. */
function newCharModel(c: TextRunConfig, vocabSize: number): CharModel {
  return c.model === 'gpt'
    ? new CharGPT({
        vocabSize,
        block: c.block!,
        embed: c.embed!,
        heads: c.heads!,
        layers: c.layers,
        dropout: c.dropout,
      })
    : new CharLSTM({ vocabSize, units: c.units, layers: c.layers, dropout: c.dropout });
}

/** Loads a trained char model from a run folder or a checkpoint file. */
export function loadTextModel(source: string): {
  model: CharModel;
  vocab: Vocab;
  primes: string[];
  config: TextRunConfig;
} {
  return loadFromRun<{ model: CharModel; vocab: Vocab; primes: string[]; config: TextRunConfig }, TextTrainConfig>(
    source,
    (ck, file) => {
      if (!Array.isArray(ck.extra.vocab)) throw new Error(`${file} is not a text model checkpoint`);
      const config = withModel({ ...SAVED_DEFAULTS, ...ck.config });
      const vocab = savedVocab(ck.extra);
      const model = newCharModel(config, vocab.size);
      return { value: { model, vocab, primes: (ck.extra.primes as string[]) ?? [], config }, modules: { model } };
    },
  );
}
