// Keras layer weights (from TF.js models or .h5 files) onto Loom's torchvision-named modules.
// Keras names layers in creation order (conv2d_1, conv2d_2, ...; newer Keras: conv2d,
// conv2d_1, ...), and InceptionV3's blocks create their convolutions in the same order as
// torchvision's, so the n-th Keras convolution is the n-th BasicConv2d. Every shape is checked.
import * as T from '../torch/index.js';
import { Tensor } from '../torch/index.js';
import { Conv2d, Linear } from '../nn/index.js';
import { BasicConv2d, InceptionV3 } from './inception.js';
import { VGG19 } from './vgg.js';

export interface KerasArray {
  shape: number[];
  data: Float32Array;
}
/** layer name → weight name (kernel, bias, beta, gamma, moving_mean, moving_variance) → array. */
export type KerasWeights = Map<string, Map<string, KerasArray>>;

/** "conv2d_7/kernel" or "model/conv2d_7/kernel:0" → ["conv2d_7", "kernel"]. */
export function splitKerasName(name: string): [string, string] {
  const parts = name.replace(/:\d+$/, '').split('/');
  if (parts.length < 2) throw new Error(`"${name}" is not a Keras weight name (layer/weight)`);
  return [parts[parts.length - 2], parts[parts.length - 1]];
}

export function addKerasArray(kw: KerasWeights, name: string, arr: KerasArray): void {
  const [layer, weight] = splitKerasName(name);
  if (!kw.has(layer)) kw.set(layer, new Map());
  kw.get(layer)!.set(weight, arr);
}

/** Layers whose name is `prefix` or `prefix_N`, in creation order. */
function layersOfKind(kw: KerasWeights, prefix: string): string[] {
  const re = new RegExp(`^${prefix}(?:_(\\d+))?$`);
  return [...kw.keys()]
    .filter((n) => re.test(n))
    .sort((a, b) => Number(re.exec(a)![1] ?? 0) - Number(re.exec(b)![1] ?? 0));
}

function fromKeras(
  arr: KerasArray | undefined,
  what: string,
  target: number[],
  kind: 'conv' | 'dense' | 'vector',
): Tensor {
  if (!arr) throw new Error(`the weights have no ${what}`);
  return T.tidy(() => {
    let t = T.tensor(arr.data, { shape: arr.shape });
    if (kind === 'conv' && arr.shape.length === 4) t = t.permute([3, 2, 0, 1]); // HWIO → OIHW
    if (kind === 'dense' && arr.shape.length === 2) t = t.t(); // [in, out] → [out, in]
    t = t.contiguous();
    if (t.shape.join() !== target.join()) {
      throw new Error(`${what} has shape [${arr.shape}] but the network needs [${target}] there`);
    }
    return t;
  });
}

function need<K, V>(m: Map<K, V>, k: K, what: string): V {
  const v = m.get(k);
  if (v === undefined) throw new Error(`the weights have no ${what}`);
  return v;
}

/** Keras InceptionV3 weights (with or without nsfwjs's head) as the model's state dict. */
export function inceptionFromKeras(kw: KerasWeights, model: InceptionV3): Map<string, Tensor> {
  const convs = [...model.namedModules()].filter(([, m]) => m instanceof BasicConv2d) as [string, BasicConv2d][];
  const kconvs = layersOfKind(kw, 'conv2d');
  const kbns = layersOfKind(kw, 'batch_normalization');
  if (kconvs.length !== convs.length || kbns.length !== convs.length) {
    throw new Error(
      `the weights have ${kconvs.length} convolutions and ${kbns.length} batch normalisations; InceptionV3 has ${convs.length} of each`,
    );
  }
  const sd = new Map<string, Tensor>();
  convs.forEach(([name, m], i) => {
    const conv = need(kw, kconvs[i], kconvs[i]);
    sd.set(`${name}.conv.weight`, fromKeras(conv.get('kernel'), `${kconvs[i]}/kernel`, m.conv.weight.shape, 'conv'));
    const bn = need(kw, kbns[i], kbns[i]);
    const n = m.bn.numFeatures;
    // Keras's InceptionV3 builds its batch normalisations with scale=False: no gamma, so 1.
    sd.set(
      `${name}.bn.weight`,
      bn.has('gamma') ? fromKeras(bn.get('gamma'), `${kbns[i]}/gamma`, [n], 'vector') : T.ones([n]),
    );
    sd.set(`${name}.bn.bias`, fromKeras(bn.get('beta'), `${kbns[i]}/beta`, [n], 'vector'));
    sd.set(`${name}.bn.running_mean`, fromKeras(bn.get('moving_mean'), `${kbns[i]}/moving_mean`, [n], 'vector'));
    sd.set(`${name}.bn.running_var`, fromKeras(bn.get('moving_variance'), `${kbns[i]}/moving_variance`, [n], 'vector'));
  });
  const dense = layersOfKind(kw, 'dense');
  const heads = [...model.namedModules()].filter(([n, m]) => m instanceof Linear && /^(fc|head\.\d+)$/.test(n)) as [
    string,
    Linear,
  ][];
  if (heads.length && dense.length !== heads.length) {
    throw new Error(`the weights have ${dense.length} dense layers; this InceptionV3's head has ${heads.length}`);
  }
  heads.forEach(([name, m], i) => {
    const d = need(kw, dense[i], dense[i]);
    sd.set(`${name}.weight`, fromKeras(d.get('kernel'), `${dense[i]}/kernel`, m.weight.shape, 'dense'));
    sd.set(`${name}.bias`, fromKeras(d.get('bias'), `${dense[i]}/bias`, m.bias!.shape, 'vector'));
  });
  return sd;
}

/** Keras VGG19 weights (block1_conv1 ...) as the model's state dict. */
export function vgg19FromKeras(kw: KerasWeights, model: VGG19): Map<string, Tensor> {
  const sd = new Map<string, Tensor>();
  // Keras's convolutions in network order, beside the torchvision-named ones in the same order.
  const kerasNames = model.endpointNames.filter((n) => !n.endsWith('_pool'));
  const convs = [...model.namedModules()].filter(([, m]) => m instanceof Conv2d) as [string, Conv2d][];
  convs.forEach(([key, conv], i) => {
    const name = kerasNames[i];
    const layer = need(kw, name, name);
    sd.set(`${key}.weight`, fromKeras(layer.get('kernel'), `${name}/kernel`, conv.weight.shape, 'conv'));
    sd.set(`${key}.bias`, fromKeras(layer.get('bias'), `${name}/bias`, conv.bias!.shape, 'vector'));
  });
  return sd;
}
