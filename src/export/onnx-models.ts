// The ONNX graphs of the networks people put into web pages: the fast style net, the VAE's
// decoder and encoder, the GAN's generator, and one step of the char-LSTM with its state as
// inputs and outputs, and the character transformer over a whole context. Each mirrors its
// module's forward() in evaluation mode, layer by layer.
import { ConvLayer, Residual, type StyleNet } from '../models/style/fast-net.js';
import type { VAE } from '../models/vae/model.js';
import { DcganGenerator, Generator, type AnyGenerator } from '../models/gan/model.js';
import { OnnxGraph, type Exported } from './onnx-graph.js';

// The text models' graphs live beside the models, which write their own (CharModel.exportGraph).
export { charGptGraph, charStepGraph } from '../models/text/onnx.js';

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
