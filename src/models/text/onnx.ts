// The text models' ONNX graphs: one step of the char-LSTM with its state as inputs and
// outputs, and the character transformer over a whole context. Each mirrors its module's
// forward() in evaluation mode.
import * as T from '../../torch/index.js';
import { OnnxGraph, type Exported } from '../../export/onnx-graph.js';
import type { CharLSTM } from './model.js';
import type { CharGPT } from './gpt.js';

/**
 * One step of the char-LSTM: a character index per sample and the state [layers, batch,
 * units] in, the next character's logits and the new state out, so a page can generate one
 * character at a time. The LSTM cell is written out (PyTorch's gate order i, f, g, o); the
 * first layer's input projection is a row lookup, as in CharStepper.
 */
export function charStepGraph(model: CharLSTM, vocab: string[]): Exported {
  const { units: H, layers: L, vocabSize: V } = model.config;
  const g = new OnnxGraph('loom_char_lstm_step');
  const ids = g.input('char', ['batch'], 'int64');
  const h = g.input('h', [L, 'batch', H]);
  const c = g.input('c', [L, 'batch', H]);
  const p = model.lstm.flat; // per layer: w_ih, w_hh, b_ih, b_hh
  const weight = (name: string, f: () => T.Tensor) => T.noGrad(() => T.tidy(() => g.weight(name, f())));
  const split = g.ints('gate_sizes', [H, H, H, H]);
  const axis0 = g.ints('axis0', [0]);
  const hs: string[] = [];
  const cs: string[] = [];
  let below = '';
  for (let l = 0; l < L; l++) {
    const index = g.ints(`layer${l}`, [l], []);
    const hl = g.op('Gather', [h, index], { axis: 0 });
    const cl = g.op('Gather', [c, index], { axis: 0 });
    const x =
      l === 0
        ? g.op('Gather', [weight('table', () => p[0].t().add(p[2]).add(p[3])), ids], { axis: 0 })
        : g.op(
            'Gemm',
            [below, weight(`w_ih_l${l}`, () => p[4 * l]), weight(`b_l${l}`, () => p[4 * l + 2].add(p[4 * l + 3]))],
            {
              transB: 1,
            },
          );
    const gates = g.op('Gemm', [hl, weight(`w_hh_l${l}`, () => p[4 * l + 1]), x], { transB: 1 });
    const [i, f, gg, o] = g.opN('Split', [gates, split], 4, { axis: 1 });
    const cNext = g.op('Add', [
      g.op('Mul', [g.op('Sigmoid', [f]), cl]),
      g.op('Mul', [g.op('Sigmoid', [i]), g.op('Tanh', [gg])]),
    ]);
    const hNext = g.op('Mul', [g.op('Sigmoid', [o]), g.op('Tanh', [cNext])]);
    hs.push(g.op('Unsqueeze', [hNext, axis0]));
    cs.push(g.op('Unsqueeze', [cNext, axis0]));
    below = hNext;
  }
  g.output(g.layer(model.head, below, 'head'), 'logits', ['batch', V]);
  g.output(g.op('Concat', hs, { axis: 0 }), 'h_out', [L, 'batch', H]);
  g.output(g.op('Concat', cs, { axis: 0 }), 'c_out', [L, 'batch', H]);
  return {
    graph: g,
    metadata: {
      'loom.kind': 'text-lstm-step',
      'loom.vocabulary': JSON.stringify(vocab),
      'loom.units': String(H),
      'loom.layers': String(L),
      'loom.input':
        'char: int64 [batch], an index into loom.vocabulary; h, c: float32 [layers, batch, units], zeros at the start',
      'loom.output':
        'logits: float32 [batch, vocabulary]; sample from softmax(logits / temperature); h_out, c_out: the next state',
    },
    doc: "Loom's char-LSTM, one step",
  };
}

/**
 * The character transformer over a context: indices [batch, length] (length at most the
 * block) to logits at every position. No key/value cache: a page re-reads the context per
 * character, as `generate(..., { cached: false })` does.
 */
export function charGptGraph(model: CharGPT, vocab: string[]): Exported {
  const { embed: E, heads: H, block, vocabSize: V } = model.config;
  const g = new OnnxGraph('loom_char_gpt');
  const ids = g.input('ids', ['batch', 'length'], 'int64');
  // The context's length, as a 1-element vector, for positions and the causal mask.
  const len = g.op('Slice', [g.op('Shape', [ids]), g.ints('one', [1]), g.ints('two', [2])]);
  const positions = g.op('Range', [
    g.ints('zero', [0], []),
    g.op('Squeeze', [len, g.ints('axis0', [0])]),
    g.ints('step', [1], []),
  ]);
  let x = g.op('Add', [
    g.op('Gather', [g.weight('wte.weight', model.wte.weight), ids]),
    g.op('Gather', [g.weight('wpe.weight', model.wpe.weight), positions]),
  ]);
  // The model's causal bias (gpt.ts causalBias), its -inf as -1e9: the same softmax, and no inf in the file.
  const causal = T.noGrad(() =>
    T.tidy(() => T.zeros([block, block]).maskedFill(T.tril(T.ones([block, block])).eq(0), -1e9)),
  );
  const mask = g.op('Slice', [
    g.weight('causal', causal),
    g.ints('origin', [0, 0]),
    g.op('Concat', [len, len], { axis: 0 }),
  ]);
  causal.dispose();
  const norm = (ln: { weight: T.Tensor; bias: T.Tensor; eps: number }, v: string, name: string) =>
    g.op('LayerNormalization', [v, g.weight(`${name}.weight`, ln.weight), g.weight(`${name}.bias`, ln.bias)], {
      axis: -1,
      epsilon: { float: ln.eps },
    });
  // A Linear on [batch, length, in]: MatMul with the transposed weight, plus the bias.
  const linear = (l: { weight: T.Tensor; bias: T.Tensor | null }, v: string, name: string) => {
    const wt = T.tidy(() => l.weight.t().contiguous());
    const y = g.op('MatMul', [v, g.weight(`${name}.weight_t`, wt)]);
    wt.dispose();
    return l.bias ? g.op('Add', [y, g.weight(`${name}.bias`, l.bias)]) : y;
  };
  const headShape = g.ints('head_shape', [0, 0, H, E / H]);
  const heads = (v: string) => g.op('Transpose', [g.op('Reshape', [v, headShape])], { perm: [0, 2, 1, 3] });
  const scale = g.floats('scale', [1 / Math.sqrt(E / H)]);
  const half = g.floats('half', [0.5]);
  const oneF = g.floats('one_f', [1]);
  const rootHalf = g.floats('root_half', [Math.SQRT1_2]);
  model.blocks.items.forEach((b, i) => {
    const n = `blocks.${i}`;
    const [q, k, v] = g
      .opN(
        'Split',
        [linear(b.attn.qkv, norm(b.ln1, x, `${n}.ln1`), `${n}.attn.qkv`), g.ints(`${n}.split`, [E, E, E])],
        3,
        {
          axis: -1,
        },
      )
      .map(heads);
    const scores = g.op('Add', [
      g.op('Mul', [g.op('MatMul', [q, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })]), scale]),
      mask,
    ]);
    const y = g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), v]);
    const merged = g.op('Reshape', [g.op('Transpose', [y], { perm: [0, 2, 1, 3] }), g.ints(`${n}.merge`, [0, 0, E])]);
    x = g.op('Add', [x, linear(b.attn.proj, merged, `${n}.attn.proj`)]);
    // GELU, exactly: x/2 (1 + erf(x / sqrt 2)).
    const f = linear(b.mlp.fc, norm(b.ln2, x, `${n}.ln2`), `${n}.mlp.fc`);
    const gelu = g.op('Mul', [g.op('Mul', [f, half]), g.op('Add', [g.op('Erf', [g.op('Mul', [f, rootHalf])]), oneF])]);
    x = g.op('Add', [x, linear(b.mlp.proj, gelu, `${n}.mlp.proj`)]);
  });
  const wteT = T.tidy(() => model.wte.weight.t().contiguous());
  g.output(g.op('MatMul', [norm(model.lnF, x, 'ln_f'), g.weight('wte.weight_t', wteT)]), 'logits', [
    'batch',
    'length',
    V,
  ]);
  wteT.dispose();
  return {
    graph: g,
    metadata: {
      'loom.kind': 'text-gpt',
      'loom.vocabulary': JSON.stringify(vocab),
      'loom.block': String(block),
      'loom.input': `ids: int64 [batch, length], indices into loom.vocabulary, length at most ${block}`,
      'loom.output':
        'logits: float32 [batch, length, vocabulary]; sample the next character from softmax(logits[:, -1] / temperature)',
    },
    doc: "Loom's character transformer over a context",
  };
}
