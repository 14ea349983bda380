// Pretrained backbones: import weights once (TF.js/nsfwjs, torchvision .pth, Keras .h5) into
// a safetensors file in the cache folder, and build a ready network from such a file.
import { existsSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as T from '../torch/index.js';
import { Tensor } from '../torch/index.js';
import { loadPth } from '../io/pth.js';
import { loadSafetensors, loadSafetensorsMetadata, saveSafetensors } from '../io/safetensors.js';
import { readH5Weights } from './hdf5-keras.js';
import { InceptionV3 } from './inception.js';
import { inceptionFromKeras, vgg19FromKeras, type KerasWeights } from './keras-weights.js';
import { nsfwjsInceptionFolder, nsfwjsModelFolder, readTfjsModel, tfjsWeights } from './tfjs.js';
import { KerasGraph } from './keras-graph.js';
import { VGG19 } from './vgg.js';
import { makeFolder } from '../io/files.js';

export type Arch = 'inception' | 'vgg19';

/** The smallest image side each network takes: smaller inputs vanish inside it. */
export const minInputSide = (arch: Arch): number => (arch === 'inception' ? 75 : 32);
/**
 * How an RGB image in [0, 1] becomes the network's input: Inception's [-1, 1]; Caffe's BGR
 * 0..255 minus the ImageNet mean (Keras's VGG weights); torchvision's ImageNet mean/std; or
 * the image as it is ('unit': nsfwjs fine-tuned its InceptionV3, batch statistics included,
 * on [0, 1] images, and dreams with [-1, 1] input come out as flat rainbow blobs).
 */
export type Preprocess = 'inception' | 'caffe' | 'torchvision' | 'unit';

export interface WeightsInfo {
  arch: Arch;
  head: 'none' | 'imagenet' | 'nsfwjs';
  /** Keras averages 'same' pooling over real pixels only; torchvision counts the padding. */
  pool: 'keras' | 'torchvision';
  preprocess: Preprocess;
  source: string;
  /** Channel multiplier of a shrunken network (tests); 1 for the real ones. */
  width: number;
}

export interface Backbone {
  net: InceptionV3 | VGG19;
  info: WeightsInfo;
  file: string;
}

export function cacheFolder(): string {
  return process.env.LOOM_CACHE
    ? path.resolve(process.env.LOOM_CACHE)
    : path.join(os.homedir(), '.cache', 'loom', 'weights');
}

/** The network that fits `info`, with random weights. */
export function buildNetwork(info: Pick<WeightsInfo, 'arch' | 'head' | 'pool' | 'width'>): InceptionV3 | VGG19 {
  const width = info.width;
  return info.arch === 'vgg19'
    ? new VGG19({ width })
    : new InceptionV3({ head: info.head, poolIncludesPadding: info.pool === 'torchvision', width });
}

function fromKerasWeights(
  kw: KerasWeights,
  as: Arch | undefined,
  source: string,
): { sd: Map<string, Tensor>; info: WeightsInfo } {
  const arch: Arch = as ?? (kw.has('block1_conv1') ? 'vgg19' : 'inception');
  const first = kw
    .get(arch === 'vgg19' ? 'block1_conv1' : ([...kw.keys()].find((k) => /^conv2d(_1)?$/.test(k)) ?? ''))
    ?.get('kernel');
  if (!first)
    throw new Error(
      `${source} holds no ${arch === 'vgg19' ? 'VGG19 (block1_conv1)' : 'InceptionV3 (conv2d_1)'} weights`,
    );
  const width = first.shape[3] / (arch === 'vgg19' ? 64 : 32);
  if (arch === 'vgg19') {
    const info: WeightsInfo = { arch, head: 'none', pool: 'keras', preprocess: 'caffe', source, width };
    return { sd: vgg19FromKeras(kw, buildNetwork(info) as VGG19), info };
  }
  const dense = [...kw.keys()].filter((k) => /^dense(_\d+)?$/.test(k)).length;
  const head = dense === 3 ? 'nsfwjs' : dense === 1 ? 'imagenet' : 'none';
  const info: WeightsInfo = {
    arch,
    head,
    pool: 'keras',
    preprocess: head === 'nsfwjs' ? 'unit' : 'inception',
    source,
    width,
  };
  const net = buildNetwork(info) as InceptionV3;
  try {
    return { sd: inceptionFromKeras(kw, net), info };
  } finally {
    net.dispose();
  }
}

function fromTorchvision(
  sd: Map<string, Tensor>,
  as: Arch | undefined,
  source: string,
): { sd: Map<string, Tensor>; info: WeightsInfo } {
  const guessed: Arch | null = sd.has('Mixed_5b.branch1x1.conv.weight')
    ? 'inception'
    : sd.has('features.0.weight')
      ? 'vgg19'
      : null;
  const arch = as ?? guessed;
  if (!arch)
    throw new Error(
      `${source} is neither torchvision's InceptionV3 nor its VGG19 (no Mixed_5b or features.0 weights); use --as to say which`,
    );
  // The auxiliary classifier and VGG's fully connected layers are not used here.
  for (const k of [...sd.keys()]) {
    if (k.startsWith('AuxLogits.') || k.startsWith('classifier.')) {
      sd.get(k)!.dispose();
      sd.delete(k);
    }
  }
  const firstKey = arch === 'vgg19' ? 'features.0.weight' : 'Conv2d_1a_3x3.conv.weight';
  const first = sd.get(firstKey);
  if (!first) throw new Error(`${source} has no ${firstKey}, so it is not torchvision's ${arch}`);
  const width = first.shape[0] / (arch === 'vgg19' ? 64 : 32);
  const info: WeightsInfo =
    arch === 'vgg19'
      ? { arch, head: 'none', pool: 'torchvision', preprocess: 'torchvision', source, width }
      : // torchvision's pretrained InceptionV3 sets transform_input, which maps ImageNet-normalised
        // input back to [-1, 1]: so its weights expect Inception's preprocessing.
        {
          arch,
          head: sd.has('fc.weight') ? 'imagenet' : 'none',
          pool: 'torchvision',
          preprocess: 'inception',
          source,
          width,
        };
  const net = buildNetwork(info);
  try {
    const report = net.loadStateDict(sd, { strict: false });
    if (report.missing.length || report.unexpected.length) {
      const say = (what: string, l: string[]): string =>
        l.length ? ` ${what}: ${l.slice(0, 4).join(', ')}${l.length > 4 ? ` and ${l.length - 4} more` : ''}.` : '';
      throw new Error(
        `${source} does not fit torchvision's ${arch}.${say('missing', report.missing)}${say('unexpected', report.unexpected)}`,
      );
    }
  } finally {
    net.dispose();
  }
  return { sd, info };
}

function cacheName(info: WeightsInfo): string {
  if (info.source === 'nsfwjs') return 'inception-nsfwjs';
  const base = path
    .basename(info.source)
    .replace(/\.(pth|pt|h5|hdf5|json|js)$/i, '')
    .replace(/[^A-Za-z0-9_.-]/g, '_');
  return `${info.arch}-${base}`;
}

/** Converts weights once into the cache folder; returns the safetensors file. */
export function importWeights(source: string, opts: { as?: Arch; cache?: string } = {}): string {
  const cache = opts.cache ?? cacheFolder();
  const converted = T.tidy(() => {
    let r: { sd: Map<string, Tensor>; info: WeightsInfo };
    if (source === 'nsfwjs') {
      r = fromKerasWeights(tfjsWeights(readTfjsModel(nsfwjsInceptionFolder())), 'inception', 'nsfwjs');
    } else if (!existsSync(source)) {
      throw new Error(`cannot import weights from ${source}: no such file`);
    } else if (statSync(source).isDirectory() || /\.(json|js)$/i.test(source)) {
      r = fromKerasWeights(tfjsWeights(readTfjsModel(source)), opts.as, source);
    } else if (/\.(h5|hdf5|keras)$/i.test(source)) {
      r = fromKerasWeights(readH5Weights(source), opts.as, source);
    } else if (/\.(pth|pt|bin)$/i.test(source)) {
      r = fromTorchvision(loadPth(source), opts.as, source);
    } else {
      throw new Error(
        `cannot import weights from ${source}: expected a torchvision .pth, a Keras .h5 or a TF.js model folder`,
      );
    }
    for (const t of r.sd.values()) T.keep(t);
    return r;
  });
  const file = path.join(cache, `${cacheName(converted.info)}.safetensors`);
  makeFolder(cache);
  try {
    saveSafetensors(file, converted.sd, { ...converted.info, width: String(converted.info.width) });
  } finally {
    for (const t of converted.sd.values()) t.dispose();
  }
  return file;
}

export function readWeightsInfo(meta: Record<string, string>, file: string): WeightsInfo {
  const { arch, head, pool, preprocess, source, width } = meta;
  if ((arch !== 'inception' && arch !== 'vgg19') || !preprocess) {
    throw new Error(`${file} is not a Loom backbone (import weights with: loom weights import <file>)`);
  }
  return {
    arch,
    head: (head ?? 'none') as WeightsInfo['head'],
    pool: (pool ?? 'torchvision') as WeightsInfo['pool'],
    preprocess: preprocess as Preprocess,
    source: source ?? file,
    width: Number(width ?? 1),
  };
}

/**
 * Every .safetensors file in the cache folder: the imported backbones (with `info`) and the
 * other files Loom keeps there, such as the GAN's digit judges (`info` null, `about` says what).
 */
export function listCache(
  cache = cacheFolder(),
): { file: string; info: WeightsInfo | null; about: string; bytes: number }[] {
  if (!existsSync(cache)) return [];
  return readdirSync(cache)
    .filter((f) => f.endsWith('.safetensors'))
    .sort()
    .map((f) => {
      const file = path.join(cache, f);
      const bytes = statSync(file).size;
      let meta: Record<string, string>;
      try {
        meta = loadSafetensorsMetadata(file);
      } catch (e) {
        return { file, info: null, about: `unreadable: ${(e as Error).message.split('\n')[0]}`, bytes };
      }
      if (meta.arch === 'inception' || meta.arch === 'vgg19') {
        const info = readWeightsInfo(meta, file);
        return { file, info, about: info.source, bytes };
      }
      const judge = /^judge-(.+)\.safetensors$/.exec(f);
      const about = judge ? `digit judge for builtin:${judge[1]} (GAN scores)` : 'not a backbone';
      return { file, info: null, about, bytes };
    });
}

/** Imported backbones in the cache folder. */
export function listWeights(cache = cacheFolder()): { file: string; info: WeightsInfo; bytes: number }[] {
  return listCache(cache).flatMap((w) => (w.info ? [{ file: w.file, info: w.info, bytes: w.bytes }] : []));
}

/**
 * A ready, frozen network in eval mode. `weights` is a safetensors file made by importWeights,
 * or any file importWeights reads (imported on first use); without it, the built-in InceptionV3
 * (nsfwjs) or an already imported VGG19.
 */
export function loadBackbone(arch: Arch, weights?: string, cache = cacheFolder()): Backbone {
  let file: string;
  if (weights && weights.endsWith('.safetensors')) file = weights;
  else if (weights) file = importWeights(weights, { as: arch, cache });
  else if (arch === 'inception') {
    file = path.join(cache, 'inception-nsfwjs.safetensors');
    if (!existsSync(file)) file = importWeights('nsfwjs', { cache });
  } else {
    const found = listWeights(cache).find((w) => w.info.arch === arch);
    if (!found) {
      throw new Error(
        `VGG19 needs pretrained weights, which do not install from the registries: get torchvision's vgg19-*.pth or Keras's vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 and run: loom weights import <file>`,
      );
    }
    file = found.file;
  }
  const c = loadSafetensors(file);
  const info = readWeightsInfo(c.metadata, file);
  const net = buildNetwork(info);
  try {
    const missing = net
      .loadStateDict(c.tensors, { strict: false })
      .missing.filter((k) => !k.endsWith('num_batches_tracked'));
    if (missing.length)
      throw new Error(`${file} lacks ${missing.length} of the ${info.arch} weights (first: ${missing[0]})`);
  } finally {
    for (const t of c.tensors.values()) t.dispose();
  }
  net.freeze();
  net.eval();
  return { net, info, file };
}

/** The network's input from an RGB image batch in [0, 1]; differentiable. */
export function preprocess(x: Tensor, kind: Preprocess): Tensor {
  return T.tidy(() => {
    if (kind === 'unit') return x.mul(1);
    if (kind === 'inception') return x.mul(2).sub(1);
    if (kind === 'torchvision') {
      const mean = T.tensor([0.485, 0.456, 0.406], { shape: [1, 3, 1, 1] });
      const std = T.tensor([0.229, 0.224, 0.225], { shape: [1, 3, 1, 1] });
      return x.sub(mean).div(std);
    }
    const bgr = T.flip(x, [1]).mul(255);
    return bgr.sub(T.tensor([103.939, 116.779, 123.68], { shape: [1, 3, 1, 1] }));
  });
}

/**
 * nsfwjs's MobileNetV2 (ImageNet-initialised, fine-tuned on 5 classes like its InceptionV3;
 * [0, 1] input), as a layer graph: a second network, never used for optimising, that judges.
 */
export function loadMobileNetV2(): KerasGraph {
  const m = readTfjsModel(nsfwjsModelFolder('mobilenet_v2'));
  return new KerasGraph(m.topology, tfjsWeights(m));
}
