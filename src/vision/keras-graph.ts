// Runs a Keras functional model (a TF.js LayersModel's topology and weights) layer by layer
// up to the layers asked for: enough of Keras's layer set for MobileNetV2, which Loom uses as
// a second, independent ImageNet network (a judge of style transfer that the optimisation
// never saw). Inference only; activations are NCHW as everywhere else in Loom.
import * as T from '../torch/index.js';
import { Tensor } from '../torch/index.js';
import type { KerasWeights } from './keras-weights.js';

interface KerasLayer {
  class_name: string;
  name: string;
  config: any;
  /** Names of the layers whose outputs feed this one. */
  inputs: string[];
}

/** TF's 'same' padding: the extra pixel, when the total is odd, goes to the bottom/right. */
function samePadding(size: number, kernel: number, stride: number): [number, number] {
  const total = Math.max((Math.ceil(size / stride) - 1) * stride + kernel - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

const pair = (v: number | number[]): [number, number] => (Array.isArray(v) ? [v[0], v[1]] : [v, v]);

export class KerasGraph {
  private readonly layers: KerasLayer[];
  /** Per layer: its parameters in torch layout, kept for the graph's life. */
  private readonly params = new Map<string, Record<string, Tensor>>();

  constructor(topology: any, weights: KerasWeights) {
    const config = (topology.model_config ?? topology).config;
    if (!Array.isArray(config?.layers)) throw new Error('the Keras model has no layer list (not a functional model)');
    this.layers = config.layers.map((l: any) => ({
      class_name: l.class_name,
      name: l.config.name ?? l.name,
      config: l.config,
      inputs: (l.inbound_nodes?.[0] ?? []).map((n: any[]) => n[0] as string),
    }));
    for (const l of this.layers) this.params.set(l.name, this.paramsOf(l, weights.get(l.name)));
  }

  get layerNames(): string[] {
    return this.layers.map((l) => l.name);
  }

  private paramsOf(
    l: KerasLayer,
    w: Map<string, { shape: number[]; data: Float32Array }> | undefined,
  ): Record<string, Tensor> {
    const get = (k: string): Tensor => {
      const a = w?.get(k);
      if (!a) throw new Error(`the weights have no ${l.name}/${k}`);
      return T.tensor(a.data, { shape: a.shape });
    };
    const out: Record<string, Tensor> = {};
    T.tidy(() => {
      if (l.class_name === 'Conv2D') {
        out.weight = get('kernel').permute([3, 2, 0, 1]).contiguous(); // HWIO → OIHW
        if (l.config.use_bias) out.bias = get('bias');
      } else if (l.class_name === 'DepthwiseConv2D') {
        // [kh, kw, C, multiplier] → [C·multiplier, 1, kh, kw], grouped per input channel.
        const k = get('depthwise_kernel');
        const [kh, kw, c, m] = k.shape;
        out.weight = k
          .permute([2, 3, 0, 1])
          .reshape([c * m, 1, kh, kw])
          .contiguous();
        if (l.config.use_bias) out.bias = get('bias');
      } else if (l.class_name === 'BatchNormalization') {
        // Folded into one affine map per channel: y = x·scale + shift.
        const mean = get('moving_mean');
        const invStd = get('moving_variance').add(l.config.epsilon).rsqrt();
        const gamma = l.config.scale === false ? T.onesLike(mean) : get('gamma');
        const beta = l.config.center === false ? T.zerosLike(mean) : get('beta');
        const scale = gamma.mul(invStd);
        out.scale = scale.reshape([1, -1, 1, 1]);
        out.shift = beta.sub(mean.mul(scale)).reshape([1, -1, 1, 1]);
      }
      for (const t of Object.values(out)) T.keep(t);
    });
    return out;
  }

  /** The outputs of the named layers for input `x` ([N, C, H, W]); computes no further than needed. */
  endpoints(x: Tensor, names: string[]): Map<string, Tensor> {
    for (const n of names) {
      if (!this.params.has(n))
        throw new Error(
          `unknown layer "${n}"; this network's layers include ${this.layerNames.slice(0, 8).join(', ')}, ...`,
        );
    }
    const wanted = new Set(names);
    const values = new Map<string, Tensor>();
    const out = new Map<string, Tensor>();
    for (const l of this.layers) {
      if (out.size === wanted.size) break;
      const ins = l.inputs.map((n) => values.get(n)!);
      const y = l.class_name === 'InputLayer' ? x : this.apply(l, ins);
      values.set(l.name, y);
      if (wanted.has(l.name)) out.set(l.name, y);
    }
    return out;
  }

  private apply(l: KerasLayer, ins: Tensor[]): Tensor {
    const c = l.config;
    const p = this.params.get(l.name)!;
    const x = ins[0];
    switch (l.class_name) {
      case 'ZeroPadding2D': {
        const [[t, b], [left, r]] = c.padding;
        return T.constantPad(x, [left, r, t, b]);
      }
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        const [kh, kw] = pair(c.kernel_size);
        const [sh, sw] = pair(c.strides);
        let input = x;
        if (c.padding === 'same') {
          const [t, b] = samePadding(x.shape[2], kh, sh);
          const [left, r] = samePadding(x.shape[3], kw, sw);
          input = T.constantPad(x, [left, r, t, b]);
        }
        const groups = l.class_name === 'DepthwiseConv2D' ? x.shape[1] : 1;
        const y = T.conv2d(input, p.weight, p.bias ?? null, [sh, sw], 0, pair(c.dilation_rate ?? 1), groups);
        return activate(y, c.activation);
      }
      case 'BatchNormalization':
        return x.mul(p.scale).add(p.shift);
      case 'ReLU':
        return c.max_value == null ? x.relu() : x.clamp(0, c.max_value);
      case 'Activation':
        return activate(x, c.activation);
      case 'Add':
        return ins.slice(1).reduce((a, b) => a.add(b), x);
      case 'Dropout':
        return x;
      default:
        throw new Error(`Keras layer ${l.class_name} (${l.name}) is not supported by this reader`);
    }
  }

  dispose(): void {
    for (const p of this.params.values()) for (const t of Object.values(p)) t.dispose();
    this.params.clear();
  }
}

function activate(x: Tensor, activation: string | undefined): Tensor {
  if (!activation || activation === 'linear') return x;
  if (activation === 'relu') return x.relu();
  if (activation === 'relu6') return x.clamp(0, 6);
  throw new Error(`Keras activation ${activation} is not supported by this reader`);
}
