// The ONNX graphs of the networks people put into web pages: the fast style net, the VAE's
// decoder and encoder, the GAN's generator, and one step of the char-LSTM with its state as
// inputs and outputs. Each mirrors its module's forward() in evaluation mode, layer by layer.
import * as T from '../torch/index.js';
import { ConvLayer, Residual, type StyleNet } from '../models/style/fast-net.js';
import type { VAE } from '../models/vae/model.js';
import { DcganGenerator, Generator, type AnyGenerator } from '../models/gan/model.js';
import type { CharLSTM } from '../models/text/model.js';
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
