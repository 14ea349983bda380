// The pretrained network dream and style read images with, as their options name it.
import { loadBackbone, type Backbone } from '../vision/weights.js';

export interface BackboneOptions {
  /** The network whose layers are used (default inception, built in; vgg19 needs imported weights). */
  backbone?: 'inception' | 'vgg19';
  /** A weights file (imported .safetensors, torchvision .pth, Keras .h5); default: the built-in or imported one. */
  weights?: string;
}

export function backboneOf(o: BackboneOptions): Backbone {
  const arch = o.backbone ?? 'inception';
  if (arch !== 'inception' && arch !== 'vgg19') throw new Error(`--backbone must be inception or vgg19, got ${arch}`);
  return loadBackbone(arch, o.weights);
}
