// The ONNX graphs of the networks people put into web pages: the fast style net and the VAE's
// decoder and encoder here; the GAN's generator and the text models beside their modules
// (re-exported below). Each mirrors its module's forward() in evaluation mode, layer by layer.
import { ConvLayer, Residual, type StyleNet } from '../models/style/fast-net.js';
import type { VAE } from '../models/vae/model.js';
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
  const relu = (x: string) => g.op('Relu', [x]);
  const convs = [
    ['conv1', vae.conv1],
    ['conv2', vae.conv2],
    ['conv3', vae.conv3],
    ['conv4', vae.conv4],
  ] as const;
  let y = g.chain(g.input('image', ['batch', c, h, w]), convs, relu);
  y = relu(g.layer(vae.fc, g.op('Flatten', [y], { axis: 1 }), 'fc'));
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

// The GAN's generators write their own graphs (GanGenerator.exportGraph).
export { generatorGraph } from '../models/gan/onnx.js';
