// The ONNX graphs of the networks people put into web pages: the fast style net, the VAE's
// decoder and encoder, the GAN's generator, and one step of the char-LSTM with its state as
// inputs and outputs, and the character transformer over a whole context. Each mirrors its
// module's forward() in evaluation mode, layer by layer.
import * as T from '../torch/index.js';
import { ConvLayer, Residual, type StyleNet } from '../models/style/fast-net.js';
import type { VAE } from '../models/vae/model.js';
import { DcganGenerator, Generator, type AnyGenerator } from '../models/gan/model.js';
import type { CharLSTM } from '../models/text/model.js';
import { causalBias, type CharGPT } from '../models/text/gpt.js';
import { OnnxGraph } from './onnx-graph.js';

/** A graph, and what a page needs to know to feed it (written into the file's metadata). */
export interface Exported {
  graph: OnnxGraph;
  metadata: Record<string, string>;
  doc: string;
}

/** The fast style network: an image in [0, 1] to its stylised version, any batch and size. */
export function styleNetGraph(net: StyleNet): Exported {
  const g = new OnnxGraph('loom_fast_style');
  const conv = (l: ConvLayer, x: string, name: string): string => {
    let y = x;
    if (l.upsample) {
      const scales = g.floats(`${name}.scales`, [1, 1, 2, 2]);
      y = g.op('Resize', [y, '', scales], {
        mode: 'nearest',
        coordinate_transformation_mode: 'asymmetric',
        nearest_mode: 'floor',
      });
    }
    y = g.layer(l.conv, g.layer(l.pad, y, `${name}.pad`), `${name}.conv`);
    if (l.norm) y = g.layer(l.norm, y, `${name}.norm`);
    return l.relu ? g.op('Relu', [y]) : y;
  };
  let y = g.input('image', ['batch', 3, 'height', 'width']);
  net.layers.items.forEach((m, i) => {
    if (m instanceof Residual) y = g.op('Add', [conv(m.b, conv(m.a, y, `layers.${i}.a`), `layers.${i}.b`), y]);
    else if (m instanceof ConvLayer) y = conv(m, y, `layers.${i}`);
    else y = g.layer(m, y, `layers.${i}`); // names the layer it cannot write
  });
  g.output(g.op('Sigmoid', [y]), 'stylised', ['batch', 3, 'height', 'width']);
  return {
    graph: g,
    metadata: {
      'loom.kind': 'fast-style',
      'loom.input': 'image: float32 [batch, 3, height, width], RGB in [0, 1]; height and width multiples of 4',
      'loom.output': 'stylised: float32 [batch, 3, height, width], RGB in [0, 1]',
    },
    doc: "Loom's fast style network (Johnson et al., instance norm)",
  };
}

/** The VAE's decoder: latent points to images in [0, 1] (the Bernoulli means). */
export function vaeDecoderGraph(vae: VAE): Exported {
  const { channels: c, height: h, width: w, latent } = vae.config;
  const g = new OnnxGraph('loom_vae_decoder');
  let y = g.op('Relu', [g.layer(vae.decFc, g.input('z', ['batch', latent]), 'dec_fc')]);
  y = g.op('Reshape', [y, g.ints('inner_shape', [-1, ...vae.inner])]);
  y = g.op('Relu', [g.layer(vae.deconv, y, 'deconv')]);
  g.output(g.op('Sigmoid', [g.layer(vae.decOut, y, 'dec_out')]), 'image', ['batch', c, h, w]);
  return {
    graph: g,
    metadata: {
      'loom.kind': 'vae-decoder',
      'loom.latent': String(latent),
      'loom.input': `z: float32 [batch, ${latent}], latent points (the prior is N(0, I))`,
      'loom.output': `image: float32 [batch, ${c}, ${h}, ${w}] in [0, 1]`,
    },
    doc: "Loom's convolutional VAE, decoder",
  };
}

/** The VAE's encoder: images in [0, 1] to z_mean and z_log_var. */
export function vaeEncoderGraph(vae: VAE): Exported {
  const { channels: c, height: h, width: w, latent } = vae.config;
  const g = new OnnxGraph('loom_vae_encoder');
  let y = g.input('image', ['batch', c, h, w]);
  for (const [name, conv] of [
    ['conv1', vae.conv1],
    ['conv2', vae.conv2],
    ['conv3', vae.conv3],
    ['conv4', vae.conv4],
  ] as const)
    y = g.op('Relu', [g.layer(conv, y, name)]);
  y = g.op('Relu', [g.layer(vae.fc, g.op('Flatten', [y], { axis: 1 }), 'fc')]);
  g.output(g.layer(vae.zMean, y, 'z_mean'), 'z_mean', ['batch', latent]);
  g.output(g.layer(vae.zLogVar, y, 'z_log_var'), 'z_log_var', ['batch', latent]);
  return {
    graph: g,
    metadata: {
      'loom.kind': 'vae-encoder',
      'loom.latent': String(latent),
      'loom.input': `image: float32 [batch, ${c}, ${h}, ${w}] in [0, 1]`,
      'loom.output': `z_mean, z_log_var: float32 [batch, ${latent}]; z = z_mean + exp(z_log_var / 2) * eps`,
    },
    doc: "Loom's convolutional VAE, encoder",
  };
}

/** The GAN's generator (either recipe, batch norm in evaluation mode): latent points to images in [-1, 1]. */
export function generatorGraph(gen: AnyGenerator): Exported {
  const { latent, channels: c, height: h, width: w } = gen.config;
  const g = new OnnxGraph('loom_gan_generator');
  const z = g.input('z', ['batch', latent]);
  let y: string;
  if (gen instanceof Generator) {
    const lrelu = (x: string) => g.op('LeakyRelu', [x], { alpha: { float: 0.3 } });
    y = lrelu(g.layer(gen.fc, z, 'fc'));
    y = g.op('Reshape', [y, g.ints('first_shape', [-1, gen.config.gFilters / 2, h / 2, w / 2])]);
    for (const [name, m] of [
      ['conv1', gen.conv1],
      ['up', gen.up],
      ['conv2', gen.conv2],
      ['conv3', gen.conv3],
    ] as const)
      y = lrelu(g.layer(m, y, name));
    y = g.layer(gen.out, y, 'out');
  } else if (gen instanceof DcganGenerator) {
    // A conditional generator reads its class as a one-hot row beside the latent point.
    const k = gen.classes;
    const input = k ? g.op('Concat', [z, g.input('label', ['batch', k])], { axis: 1 }) : z;
    y = g.op('Reshape', [g.layer(gen.fc, input, 'fc'), g.ints('first_shape', [-1, ...gen.first])]);
    y = g.op('Relu', [g.layer(gen.norm0, y, 'norm0')]);
    gen.ups.forEach((up, i) => {
      y = g.layer(up, y, `up${i}`);
      if (i < gen.norms.length) y = g.op('Relu', [g.layer(gen.norms[i], y, `norm${i + 1}`)]);
    });
  } else throw new Error(`cannot export a generator of class ${(gen as object).constructor.name} to ONNX`);
  g.output(g.op('Tanh', [y]), 'image', ['batch', c, h, w]);
  return {
    graph: g,
    metadata: {
      'loom.kind': 'gan-generator',
      'loom.latent': String(latent),
      'loom.input':
        `z: float32 [batch, ${latent}] from N(0, I)` +
        (gen instanceof DcganGenerator && gen.classes
          ? `; label: float32 [batch, ${gen.classes}], one-hot over the classes ${JSON.stringify(gen.config.classNames)}`
          : ''),
      'loom.output': `image: float32 [batch, ${c}, ${h}, ${w}] in [-1, 1] (x / 2 + 0.5 for [0, 1])`,
    },
    doc: "Loom's GAN generator",
  };
}

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
  // The model's causal bias, its -inf as -1e9 (the same softmax, and no inf in the file).
  const causal = T.tidy(() => causalBias(block).clamp(-1e9));
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
