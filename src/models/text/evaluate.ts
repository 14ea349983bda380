// Held-out bits per character, whatever the model: each kind scores the stream its own way
// (CharModel.heldOutNats), and the nats are divided by the characters its units spell.
import type { CharModel } from './char-model.js';
import type { Vocab } from './vocab.js';

/**
 * Held-out text beyond this many characters is scored on its first this-many only, so an
 * evaluation costs a bounded time whatever the corpus (and stays comparable across epochs).
 */
export const HELD_OUT_LIMIT = 200_000;

/**
 * Bits per character of a held-out stream of units (`vocab`'s characters and merged pieces):
 * the nats of every predicted unit over the characters they spell. The LSTM reads it as
 * `streams` parallel pieces of `maxlen` with carried state; the transformer in windows of its
 * block that overlap by half, each scoring only the units the window before did not, so every
 * unit after the first half-block is predicted from at least half a block of context.
 */
export function evaluateBpc(
  model: CharModel,
  vocab: Vocab,
  ids: Int32Array,
  maxlen: number,
  streams = 32,
): number | null {
  const scored = model.heldOutNats(ids, { length: maxlen, streams });
  // Units 1..count were predicted (the first has nothing before it).
  return scored && scored.nats / vocab.charsOf(ids.subarray(1, scored.count + 1)) / Math.LN2;
}
