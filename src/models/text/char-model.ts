// What training, evaluation, generation and export need of a char model, whatever its kind:
// the loops call this interface and never ask which model they hold.
import type { Tensor } from '../../torch/index.js';
import type { Module } from '../../nn/index.js';
import type { Exported } from '../../export/onnx-graph.js';

/** Total nats of units 1..count of a stream, each predicted from those before it. */
export interface Scored {
  nats: number;
  count: number;
}

/** Generation after the prime: one unit per sample in, the next unit's logits [N, V] out. */
export interface TextStepper {
  step(ids: Int32Array): Tensor;
  dispose(): void;
}

/** Which prediction a training sequence is scored on: every position, or the last (the book's). */
export type Objective = 'all' | 'last';

export interface CharModel extends Module {
  readonly config: { vocabSize: number; layers: number; dropout: number };
  /**
   * The mean cross-entropy of a batch of sequences [B, L + 1] (int64): positions 0..L-1 are
   * read, each predicting the unit after it (with 'last', only position L-1 is scored).
   */
  loss(batch: Tensor, objective?: Objective): Tensor;
  /**
   * The nats of a held-out stream, in evaluation mode without gradients: `length` units per
   * pass where the model reads in pieces of its own choosing, `streams` passes at once.
   */
  heldOutNats(ids: Int32Array, opts: { length: number; streams: number }): Scored | null;
  /**
   * Reads the prime for n samples (under noGrad, in evaluation mode): the first logits [n, V]
   * and a stepper for what follows; `cached`: the transformer keeps its keys and values.
   */
  startGeneration(prime: Int32Array, n: number, opts: { cached: boolean }): [Tensor, TextStepper];
  /** The ONNX graph a page runs to generate, with `vocab` (each unit's text) in its metadata. */
  exportGraph(vocab: string[]): Exported;
}
