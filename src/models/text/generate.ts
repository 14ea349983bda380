// Stateful generation: the model's state (the LSTM's, the transformer's key/value cache) is
// carried from unit to unit, so each new one costs one step; N samples run as one batch.
import * as T from '../../torch/index.js';
import { Tensor, noGrad } from '../../torch/index.js';
import { Rng } from '../../util/random.js';
import type { CharModel, TextStepper } from './char-model.js';
import type { Vocab } from './vocab.js';
import { draw, reweight, validateSampling, type SamplingOptions } from './sampling.js';

export interface GenerateOptions extends SamplingOptions {
  /** Characters to generate after the prime. */
  length: number;
  /** Text the model reads first; generation continues it. */
  prime: string;
  /** Samples generated together, as one batch. */
  count?: number;
  /** Called after each generated unit with the new text of every sample ('' for a sample already long enough). */
  onChars?: (chars: string[]) => void;
  /** The transformer's key/value cache (default on); off re-reads the context per character. */
  cached?: boolean;
}

/** The most samples generated as one batch, and the most characters in all (they are held as strings). */
export const TEXT_MOST_SAMPLES = 1024;
export const TEXT_MOST_CHARACTERS = 100_000_000;

/**
 * Checks everything generate() is given before any character is made (the CLI calls it for
 * every temperature first, so a bad flag is refused before a sample is printed).
 */
export function checkGenerateOptions(vocab: Vocab, opts: GenerateOptions): void {
  validateSampling(opts);
  const n = opts.count ?? 1;
  if (!(Number.isInteger(n) && n >= 1 && n <= TEXT_MOST_SAMPLES))
    throw new Error(`--count must be a whole number in 1..${TEXT_MOST_SAMPLES}, got ${n}`);
  if (!(Number.isInteger(opts.length) && opts.length >= 0 && opts.length * n <= TEXT_MOST_CHARACTERS))
    throw new Error(
      `--length must be a whole number >= 0, with --length x --count at most ${TEXT_MOST_CHARACTERS.toExponential()}, got ${opts.length}`,
    );
  if (opts.prime.length === 0) throw new Error('generation needs a prime of at least one character');
  const unknown = vocab.unknown(opts.prime);
  if (unknown.length) {
    throw new Error(
      `the prime has characters the model never saw: ${unknown.map((c) => JSON.stringify(c)).join(', ')}`,
    );
  }
}

/** Generates `count` continuations of the prime (the prime itself is not included). */
export function generate(model: CharModel, vocab: Vocab, opts: GenerateOptions, rng: Rng): string[] {
  checkGenerateOptions(vocab, opts);
  const n = opts.count ?? 1;
  const encoded = vocab.encode(opts.prime);
  // On subword units the prime's last unit is read back as the start of the first new one
  // ("token healing"): a prime ending in "brown " ends in the unit " ", which training text
  // rarely shows before "fox" (it has " f" + "ox"), so the model would skip a character.
  const heal = vocab.merges.length > 0 && encoded.length > 1 ? vocab.tokens[encoded[encoded.length - 1]] : '';
  const primeIds = heal ? encoded.subarray(0, -1) : encoded;
  const healChars = [...heal].length;
  const healed = heal ? Int8Array.from(vocab.tokens, (u) => (u.startsWith(heal) ? 1 : 0)) : null;
  const wasTraining = model.training;
  model.eval();
  const out: string[] = Array.from({ length: n }, () => '');
  // Characters each sample still needs; a unit may hold several, so the last is cut.
  const left = new Array<number>(n).fill(opts.length);
  let logits: Tensor | null = null;
  let stepper: TextStepper | null = null;
  try {
    // One BLAS thread: per character the products are tiny, and OpenBLAS's thread sync
    // costs more than it saves (docs/benchmarks.md).
    T.withBlasThreads(1, () =>
      noGrad(() => {
        [logits, stepper] = model.startGeneration(primeIds, n, { cached: opts.cached ?? true });
        const next = new Int32Array(n);
        const v = vocab.size;
        for (let first = true; left.some((l) => l > 0); first = false) {
          const lg = logits!.data() as Float32Array;
          if (first && healed) for (let k = 0; k < lg.length; k++) if (!healed[k % v]) lg[k] = -Infinity;
          const added: string[] = [];
          for (let j = 0; j < n; j++) {
            next[j] = draw(reweight(lg.subarray(j * v, (j + 1) * v), opts), rng);
            // The first unit's healed start is the prime's already.
            const unit = first && heal ? vocab.tokens[next[j]].slice(heal.length) : vocab.tokens[next[j]];
            const size = vocab.lengths[next[j]] - (first ? healChars : 0);
            const piece = left[j] <= 0 ? '' : size <= left[j] ? unit : [...unit].slice(0, left[j]).join('');
            left[j] -= size;
            out[j] += piece;
            added.push(piece);
          }
          opts.onChars?.(added);
          if (left.some((l) => l > 0)) {
            logits!.dispose();
            logits = stepper!.step(next);
          }
        }
      }),
    );
  } finally {
    (logits as Tensor | null)?.dispose();
    (stepper as TextStepper | null)?.dispose();
    model.train(wasTraining);
  }
  return out;
}
