// The GAN generators' ONNX graphs (batch norm in evaluation mode): latent points, and a
// conditional generator's one-hot class, to images in [-1, 1]. Each generator writes its
// own layers; the input, the tanh and the metadata are the same for every recipe.
import { OnnxGraph, type Exported } from '../../export/onnx-graph.js';
import type { DcganGenerator, GanGenerator, Generator } from './model.js';

/** The graph of any generator: it asks the generator for its own. */
export function generatorGraph(gen: GanGenerator): Exported {
  return gen.exportGraph();
}

/**
 * The frame every generator's graph shares: `layers` adds the generator's operators from the
 * latent input (and the label input, for a conditional one) to the value before the tanh.
 */
function framed(gen: GanGenerator, layers: (g: OnnxGraph, z: string) => string): Exported {
  const { latent, channels: c, height: h, width: w } = gen.config;
  const g = new OnnxGraph('loom_gan_generator');
  const z = g.input('z', ['batch', latent]);
  g.output(g.op('Tanh', [layers(g, z)]), 'image', ['batch', c, h, w]);
  return {
    graph: g,
    metadata: {
      'loom.kind': 'gan-generator',
      'loom.latent': String(latent),
      'loom.input':
        `z: float32 [batch, ${latent}] from N(0, I)` +
        (gen.classes
          ? `; label: float32 [batch, ${gen.classes}], one-hot over the classes ${JSON.stringify(gen.classNames)}`
          : ''),
      'loom.output': `image: float32 [batch, ${c}, ${h}, ${w}] in [-1, 1] (x / 2 + 0.5 for [0, 1])`,
      ...(gen.classes ? { 'loom.classes': JSON.stringify(gen.classNames) } : {}),
    },
    doc: "Loom's GAN generator",
  };
}

/** The book's generator: LeakyReLU 0.3 after every layer but the last. */
export function kerasGeneratorGraph(gen: Generator): Exported {
  const { height: h, width: w } = gen.config;
  return framed(gen, (g, z) => {
    const lrelu = (x: string) => g.op('LeakyRelu', [x], { alpha: { float: 0.3 } });
    let y = lrelu(g.layer(gen.fc, z, 'fc'));
    y = g.op('Reshape', [y, g.ints('first_shape', [-1, gen.config.gFilters / 2, h / 2, w / 2])]);
    const layers = [
      ['conv1', gen.conv1],
      ['up', gen.up],
      ['conv2', gen.conv2],
      ['conv3', gen.conv3],
    ] as const;
    return g.layer(gen.out, g.chain(y, layers, lrelu), 'out');
  });
}

/** Radford et al.'s generator; a conditional one reads its class as a one-hot row beside the latent point. */
export function dcganGeneratorGraph(gen: DcganGenerator): Exported {
  return framed(gen, (g, z) => {
    const k = gen.classes;
    const input = k ? g.op('Concat', [z, g.input('label', ['batch', k])], { axis: 1 }) : z;
    let y = g.op('Reshape', [g.layer(gen.fc, input, 'fc'), g.ints('first_shape', [-1, ...gen.first])]);
    y = g.op('Relu', [g.layer(gen.norm0, y, 'norm0')]);
    gen.ups.forEach((up, i) => {
      y = g.layer(up, y, `up${i}`);
      if (i < gen.norms.length) y = g.op('Relu', [g.layer(gen.norms[i], y, `norm${i + 1}`)]);
    });
    return y;
  });
}
