// Training the char model: windows of maxlen characters every `step` characters, encoded
// per batch; held-out bits per character each epoch; samples at four temperatures; exact
// resume from the run folder's checkpoint. The loop calls the model's interface (CharModel)
// and looks its kind up in TEXT_KINDS.
import { writeFileAtomic } from '../../io/files.js';
import * as T from '../../torch/index.js';
import { tidy } from '../../torch/index.js';
import { schedules } from '../../optim/index.js';
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
import { Vocab } from './vocab.js';
import { generate } from './generate.js';
import type { CharModel } from './char-model.js';
import { HELD_OUT_LIMIT, evaluateBpc } from './evaluate.js';
import {
  SAVED_DEFAULTS,
  TEXT_KINDS,
  mergesFor,
  seqLength,
  validateTextConfig,
  withModel,
  type TextRunConfig,
  type TextTrainConfig,
} from './config.js';

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
  /** What the steps compute in: --precision, settled (auto by a probe). */
  precision: 'fp32' | 'bf16';
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

/** A short fingerprint of the corpus, so a resumed run can tell that it changed. */
function fingerprint(ids: Int32Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < ids.length; i++) h = Math.imul(h ^ ids[i], 0x01000193) >>> 0;
  return `${ids.length}:${h.toString(16)}`;
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
      `the corpus is too short: it gives ${Math.max(0, windows)} windows of ${len + 1} ${vocab.merges.length ? 'units' : 'characters'}, fewer than one batch of ${batchOf}; lower --batch or --${TEXT_KINDS[cfg.model].lengthFlag}${vocab.merges.length ? ', or --merges (0: characters)' : ''}`,
    );
  }
  const stepsPerEpoch = Math.floor(windows / globalBatch);
  const totalSteps = cfg.steps ?? (cfg.epochs !== null ? cfg.epochs * stepsPerEpoch : Infinity);

  const precision = t.precision(probeShape(cfg));
  T.manualSeed(cfg.seed);
  const model = t.own(newCharModel(cfg, vocab.size));
  const opt = t.own(TEXT_KINDS[cfg.model].optimizer(model, cfg));
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
    precision: precision.used,
  });
  t.begin(
    { modules: { model }, optimizers: { opt } },
    {
      config: precision.record,
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
  const bitsPerChar = (nats: number) => nats / Math.LN2 / charsPerUnit;
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
      // The forward and the loss under autocast where bf16; the backward follows the graph's
      // dtypes, so weights, gradients and the optimizer stay float32.
      const l = precision.run(() =>
        model.loss(T.tensor(batchIds, { shape: [cfg.batch, len + 1] }).long(), cfg.objective),
      );
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

/** The run's largest matrix product, [m, k] x [k, n], for --precision auto's probe. */
function probeShape(c: TextRunConfig): [number, number, number] {
  if (c.model === 'gpt') {
    const embed = c.embed ?? 1;
    return [c.batch * (c.block ?? 1), embed, 4 * embed];
  }
  return [c.batch, c.units, 4 * c.units];
}

/** A fresh model of the config's kind, with the book's (or GPT-2's) initialisation. */
function newCharModel(c: TextRunConfig, vocabSize: number): CharModel {
  return TEXT_KINDS[c.model].create(c, vocabSize);
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
