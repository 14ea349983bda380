// Text: train a character (or subword) model on a corpus, load it, and generate text.
import { Rng } from '../../util/random.js';
import {
  generate as generateText,
  loadTextModel,
  type EpochLog,
  type StepLog,
  type TextRunConfig,
  type TextStartLog,
  type TextTrainConfig,
} from '../../models/text/index.js';
import { runTrainer, type Control, type RunPlace } from '../common.js';
import { textTrainer, type Progress } from './trainer.js';
import { withSentences } from '../errors.js';

export type { EpochLog, Progress, StepLog, TextRunConfig, TextStartLog, TextTrainConfig };

/** The settings of `loom text train`, each optional (the table's default), and where the run goes. */
export type TrainOptions = Partial<TextTrainConfig> & RunPlace;

export interface TrainResult {
  /** The run folder (load() takes it). */
  dir: string;
  /** Steps taken in all, a resumed run's earlier ones included. */
  steps: number;
  stepsPerEpoch: number;
  /** Held-out bits per character at the end, and the best seen (null when nothing is held out). */
  heldOutBpc: number | null;
  bestHeldOutBpc: number | null;
  /** The signal stopped it; its checkpoint is saved, and `resume: true` continues it. */
  aborted: boolean;
}

/**
 * Trains (or with `resume`, continues) a text model into `options.out`. With neither steps,
 * epochs nor minutes it trains one epoch, as the CLI does. An abort resolves (see Control).
 */
export async function train(options: TrainOptions, control: Control<Progress> = {}): Promise<TrainResult> {
  return withSentences(async () => {
    const r = await runTrainer(textTrainer, options, control);
    return {
      dir: options.out,
      steps: r.steps,
      stepsPerEpoch: r.stepsPerEpoch,
      heldOutBpc: r.valBpc,
      bestHeldOutBpc: r.bestValBpc,
      aborted: r.stoppedEarly,
    };
  });
}

export interface GenerateOptions {
  /** Text the model reads first (default: one of the training text's openings, by the seed). */
  prime?: string;
  /** Characters to generate after the prime. */
  length: number;
  /** 0: always the likeliest unit; 1: the model's distribution; higher: wilder. */
  temperature: number;
  /** Keep only the k likeliest units (0 or unset: all). */
  topK?: number;
  /** Keep the fewest likeliest units whose probability reaches p (unset: all). */
  topP?: number;
  /** Samples generated together (default 1). */
  count?: number;
  /** The same seed gives the same text (default: a random one). */
  seed?: number;
}

export interface Generated {
  prime: string;
  /** One continuation per sample, without the prime. */
  texts: string[];
}

/** A trained text model; dispose() frees its tensors. */
export interface TextModel extends Disposable {
  readonly config: TextRunConfig;
  generate(options: GenerateOptions): Promise<Generated>;
  dispose(): void;
}

/** Loads a trained text model from a run folder or a checkpoint file. */
export async function load(source: string): Promise<TextModel> {
  const { model, vocab, primes, config } = await withSentences(() => loadTextModel(source));
  let disposed = false;
  const dispose = () => {
    if (!disposed) model.dispose();
    disposed = true;
  };
  return {
    config,
    generate: (o) =>
      withSentences(() => {
        if (disposed) throw new Error('this text model was disposed');
        const rng = new Rng(o.seed ?? Math.floor(Math.random() * 2 ** 31));
        const prime = o.prime ?? (primes.length ? primes[rng.int(primes.length)] : '\n');
        const sampling = { length: o.length, prime, temperature: o.temperature, topK: o.topK, topP: o.topP };
        const texts = generateText(model, vocab, { ...sampling, count: o.count ?? 1 }, rng);
        return { prime, texts };
      }),
    dispose,
    [Symbol.dispose]: dispose,
  };
}
