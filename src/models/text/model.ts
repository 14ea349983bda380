// The book's char model: one-hot characters -> LSTM (any depth) -> dense logits over characters.
import * as T from '../../torch/index.js';
import { Tensor, keep } from '../../torch/index.js';
import { Module, LSTM, Linear, crossEntropy, type LSTMState } from '../../nn/index.js';
import type { CharModel, Objective, Scored, TextStepper } from './char-model.js';
import { charStepGraph } from './onnx.js';

export interface CharModelConfig {
  vocabSize: number;
  units: number;
  layers: number;
  dropout: number;
}

export class CharLSTM extends Module implements CharModel {
  readonly lstm: LSTM;
  readonly head: Linear;
  /** Identity rows: embedding() of it is the one-hot encoding, built per batch, never whole. */
  private readonly eye: Tensor;

  constructor(readonly config: CharModelConfig) {
    super();
    this.lstm = this.registerModule(
      'lstm',
      new LSTM(config.vocabSize, config.units, { numLayers: config.layers, dropout: config.dropout, batchFirst: true }),
    );
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
  override forward(ids: Tensor, state?: LSTMState): [Tensor, LSTMState] {
    const [h, s] = this.hidden(ids, state);
    return [this.head.forward(h), s];
  }

  loss(batch: Tensor, objective: Objective = 'all'): Tensor {
    const len = batch.size(1) - 1;
    const x = batch.narrow(1, 0, len);
    if (objective === 'all') {
      const [logits] = this.forward(x);
      return crossEntropy(logits.reshape([-1, this.config.vocabSize]), batch.narrow(1, 1, len).reshape([-1]));
    }
    const [h] = this.hidden(x);
    return crossEntropy(this.head.forward(h.select(1, -1)), batch.select(1, len));
  }

  /** The stream as `streams` parallel pieces read `length` units at a time, the state carried. */
  heldOutNats(ids: Int32Array, { length: maxlen, streams }: { length: number; streams: number }): Scored | null {
    const b = Math.max(1, Math.min(streams, Math.floor((ids.length - 1) / maxlen)));
    const len = Math.floor((ids.length - 1) / b);
    if (len < 1) return null;
    const wasTraining = this.training;
    this.eval();
    let total = 0;
    T.noGrad(() => {
      let state: LSTMState | undefined;
      for (let start = 0; start < len; start += maxlen) {
        const l = Math.min(maxlen, len - start);
        const x = new Int32Array(b * l);
        const y = new Int32Array(b * l);
        for (let j = 0; j < b; j++) {
          x.set(ids.subarray(j * len + start, j * len + start + l), j * l);
          y.set(ids.subarray(j * len + start + 1, j * len + start + l + 1), j * l);
        }
        const next = T.tidy(() => {
          const [logits, s] = this.forward(T.tensor(x, { shape: [b, l] }), state);
          total += crossEntropy(logits.reshape([b * l, -1]), T.tensor(y).long(), { reduction: 'sum' }).item();
          return s;
        });
        state?.forEach((t) => t.dispose());
        state = next;
      }
      state?.forEach((t) => t.dispose());
    });
    this.train(wasTraining);
    return { nats: total, count: b * len }; // stream j scored units j·len + 1 .. (j + 1)·len
  }

  /** The prime in one pass of the fused LSTM; then one cheap cell step per unit (CharStepper). */
  startGeneration(prime: Int32Array, n: number): [Tensor, TextStepper] {
    const first = new Int32Array(n * prime.length);
    for (let j = 0; j < n; j++) first.set(prime, j * prime.length);
    const [logits, state] = T.tidy(() => {
      const [y, st] = this.forward(T.tensor(first, { shape: [n, prime.length] }));
      return [y.select(1, -1), st] as const;
    });
    const stepper = new CharStepper(this, state as LSTMState);
    state.forEach((t) => t.dispose());
    return [logits, stepper];
  }

  /** One step with the state as inputs and outputs (a page carries it from unit to unit). */
  exportGraph(vocab: string[]) {
    return charStepGraph(this, vocab);
  }

  override dispose(): void {
    super.dispose();
    this.eye.dispose();
  }
}

/**
 * One character at a time, without aten::lstm's per-call set-up (which dominates a single
 * step of a small LSTM): the first layer's input projection is a table lookup (one-hot times
 * W_ih is a column of W_ih), the rest is the LSTM cell written out. For one sample it works
 * on vectors, because OpenBLAS's gemv beats a 1-row gemm (docs/benchmarks.md). Same
 * mathematics as CharLSTM.forward; used for generation, under noGrad.
 */
export class CharStepper {
  private readonly table: Tensor; // [V, 4H]: W_ih^T + b_ih + b_hh of layer 0
  private readonly whh: Tensor[]; // per layer: [4H, H] for vectors, [H, 4H] (transposed) for batches
  private readonly wih: Tensor[]; // layers >= 1, laid out as whh
  private readonly bias: Tensor[]; // layers >= 1: [4H]
  private readonly head: Tensor; // [V, H] or [H, V]
  private readonly headB: Tensor;
  private h: Tensor[] = [];
  private c: Tensor[] = [];
  private readonly single: boolean;

  constructor(model: CharLSTM, state: LSTMState) {
    const L = model.config.layers;
    const p = model.lstm.flat; // per layer: w_ih, w_hh, b_ih, b_hh
    this.single = state[0].size(1) === 1;
    const lay = (w: Tensor) => (this.single ? w.contiguous() : w.t().contiguous());
    const made = T.noGrad(() =>
      T.tidy(() => ({
        table: p[0].t().add(p[2]).add(p[3]).contiguous(),
        whh: Array.from({ length: L }, (_, l) => lay(p[4 * l + 1])),
        wih: Array.from({ length: L - 1 }, (_, l) => lay(p[4 * (l + 1)])),
        bias: Array.from({ length: L - 1 }, (_, l) => p[4 * (l + 1) + 2].add(p[4 * (l + 1) + 3])),
        head: lay(model.head.weight),
        headB: model.head.bias!.clone(),
        // state: [layers, N, H] -> per layer [N, H], or [H] for one sample
        h: state[0].unbind(0).map((t) => (this.single ? t.reshape([-1]) : t.clone())),
        c: state[1].unbind(0).map((t) => (this.single ? t.reshape([-1]) : t.clone())),
      })),
    );
    this.table = keep(made.table);
    this.whh = keep(made.whh);
    this.wih = keep(made.wih);
    this.bias = keep(made.bias);
    this.head = keep(made.head);
    this.headB = keep(made.headB);
    this.h = keep(made.h);
    this.c = keep(made.c);
  }

  /** Feeds one character per sample; returns the next-character logits, [N, V]. */
  step(ids: Int32Array): Tensor {
    return T.noGrad(() => {
      const next = T.tidy(() => {
        const hs: Tensor[] = [];
        const cs: Tensor[] = [];
        let below: Tensor | null = null;
        for (let l = 0; l < this.whh.length; l++) {
          let gates: Tensor;
          if (this.single) {
            const gx: Tensor =
              l === 0 ? this.table.select(0, ids[0]) : T.addmv(this.bias[l - 1], this.wih[l - 1], below!);
            gates = T.addmv(gx, this.whh[l], this.h[l]);
          } else {
            const gx: Tensor =
              l === 0 ? T.embedding(this.table, T.tensor(ids)) : T.addmm(this.bias[l - 1], below!, this.wih[l - 1]);
            gates = gx.addmm_(this.h[l], this.whh[l]);
          }
          const [i, f, g, o] = gates.unsafeChunk(4, -1);
          const c = f.sigmoid_().mul_(this.c[l]).addcmul_(i.sigmoid_(), g.tanh_());
          const h = o.sigmoid_().mul_(c.tanh());
          hs.push(h);
          cs.push(c);
          below = h;
        }
        const logits = this.single
          ? T.addmv(this.headB, this.head, below!).unsqueeze(0)
          : T.addmm(this.headB, below!, this.head);
        return { hs, cs, logits };
      });
      for (const t of [...this.h, ...this.c]) t.dispose();
      this.h = keep(next.hs);
      this.c = keep(next.cs);
      return next.logits;
    });
  }

  dispose(): void {
    for (const t of [this.table, ...this.whh, ...this.wih, ...this.bias, this.head, this.headB, ...this.h, ...this.c])
      t.dispose();
  }
}
