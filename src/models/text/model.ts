// The seed's char model: one-hot characters -> LSTM (any depth) -> dense logits over characters.
import * as T from '../../torch/index.js';
import { Tensor, keep } from '../../torch/index.js';
import { Module, LSTM, Linear, type LSTMState } from '../../nn/index.js';

export interface CharModelConfig {
  vocabSize: number;
  units: number;
  layers: number;
  dropout: number;
}

export class CharLSTM extends Module {
  readonly lstm: LSTM;
  readonly head: Linear;
  /** Identity rows: embedding() of it is the one-hot encoding, built per batch, never whole. */
  private readonly eye: Tensor;

  constructor(readonly config: CharModelConfig) {
    super();
    this.lstm = this.registerModule('lstm', new LSTM(config.vocabSize, config.units, { numLayers: config.layers, dropout: config.dropout, batchFirst: true }));
    this.head = this.registerModule('head', new Linear(config.units, config.vocabSize));
    this.eye = keep(T.eye(config.vocabSize));
  }

  /** One-hot encoding of indices [B, L] -> [B, L, V]. */
  oneHot(ids: Tensor): Tensor {
    return T.embedding(this.eye, ids);
  }

  /** The LSTM's top-layer outputs [B, L, units] for indices [B, L], and the state after. */
  hidden(ids: Tensor, state?: LSTMState): [Tensor, LSTMState] {
    return this.lstm.forward(this.oneHot(ids), state);
  }

  /** Logits [B, L, V] at every position, and the state after. */
  forward(ids: Tensor, state?: LSTMState): [Tensor, LSTMState] {
    const [h, s] = this.hidden(ids, state);
    return [this.head.forward(h), s];
  }

  override dispose(): void {
    super.dispose();
    this.eye.dispose();
  }
}
