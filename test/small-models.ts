// Small models and data shared by tests: narrow random backbones, random photos.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import { writeImage } from '../src/io/images.js';
import { VGG19 } from '../src/vision/vgg.js';
import { InceptionV3 } from '../src/vision/inception.js';
import type { Backbone } from '../src/vision/weights.js';
import { FAST_DEFAULTS } from '../src/models/style/index.js';

/** A VGG19 at a sixteenth of its width with random weights: a backbone built in milliseconds. */
export function tinyVgg(): Backbone {
  T.manualSeed(5);
  const net = new VGG19({ width: 1 / 16 }).freeze();
  return {
    net,
    info: { arch: 'vgg19', head: 'none', pool: 'keras', preprocess: 'caffe', source: 'test', width: 1 / 16 },
    file: '',
  };
}

/** Random photos (n of 40 x w) and a random style image in `dir`; fast training settings for 32-pixel crops. */
export async function fastFixture(dir: string, n: number, w: number) {
  const photos = path.join(dir, 'photos');
  mkdirSync(photos);
  T.manualSeed(8);
  for (let i = 0; i < n; i++) await writeImage(path.join(photos, `p${i}.png`), T.rand([1, 3, 40, w]));
  const style = path.join(dir, 'style.png');
  await writeImage(style, T.rand([1, 3, 40, 40]));
  return { ...FAST_DEFAULTS, style, images: photos, size: 32 };
}

/** InceptionV3 at an eighth of its width, random weights scaled so that deep layers stay alive. */
export function tinyInception(): Backbone {
  T.manualSeed(1);
  const net = new InceptionV3({ width: 1 / 8, poolIncludesPadding: false });
  // PyTorch's default init shrinks activations layer by layer; He's scale keeps them alive deep down.
  T.noGrad(() => {
    for (const [n, p] of net.namedParameters()) if (n.endsWith('conv.weight')) p.mul_(Math.sqrt(6));
  });
  net.freeze();
  return {
    net,
    info: { arch: 'inception', head: 'none', pool: 'keras', preprocess: 'inception', source: 'test', width: 1 / 8 },
    file: '',
  };
}
