// Exploring a trained VAE's latent space: samples, walks between images, concept vectors,
// and a scatter plot of the test set's latent means.
import { existsSync } from 'node:fs';
import * as T from '../../torch/index.js';
import { Tensor, noGrad, tidy } from '../../torch/index.js';
import { imageGrid, readImage } from '../../io/images.js';
import type { ImageDataset } from '../../io/datasets.js';
import type { VAE } from './model.js';
import { interpolate } from './latent.js';

/** Decodes `count` points drawn from the prior N(0, I) into one grid. */
export function sampleGrid(model: VAE, count: number): Tensor {
  if (!(Number.isInteger(count) && count >= 1)) throw new Error(`--count must be a whole number >= 1, got ${count}`);
  return noGrad(() => tidy(() => imageGrid(model.decode(T.randn([count, model.config.latent])))));
}

/** An image given as a file, or as an index into the test set ("#12" or "12"). */
export async function resolveImage(model: VAE, spec: string, test: ImageDataset | null): Promise<Tensor> {
  const [c, h, w] = [model.config.channels, model.config.height, model.config.width];
  if (/^#?\d+$/.test(spec) && !existsSync(spec)) {
    if (!test) throw new Error(`'${spec}' is an index, but the run's test set is not available`);
    const i = Number(spec.replace('#', ''));
    if (i >= test.images.size(0)) throw new Error(`index ${i} is past the test set's ${test.images.size(0)} images`);
    return tidy(() => test.images.narrow(0, i, 1).clone());
  }
  return readImage(spec, { channels: c as 1 | 3, size: [h, w] });
}

/** The latent means [N, d] of images. */
export function encodeMeans(model: VAE, x: Tensor): Tensor {
  return noGrad(() => tidy(() => model.encode(x)[0]));
}

/** Decoded points between the codes of two images, as frames [steps, C, H, W]. */
export function walk(model: VAE, a: Tensor, b: Tensor, steps: number, spherical: boolean): Tensor {
  if (!(Number.isInteger(steps) && steps >= 2)) throw new Error(`--steps must be a whole number >= 2, got ${steps}`);
  return noGrad(() =>
    tidy(() => {
      const za = model.encode(a)[0].toFlatArray();
      const zb = model.encode(b)[0].toFlatArray();
      const pts = interpolate(za, zb, steps, spherical);
      return model.decode(T.tensor(Float32Array.from(pts.flat()), { shape: [steps, za.length] }));
    }),
  );
}

/** The mean latent difference between two sets of images (to minus from). */
export function conceptVector(model: VAE, from: Tensor, to: Tensor): Tensor {
  if (from.size(0) === 0 || to.size(0) === 0) throw new Error('a concept vector needs images in both sets');
  return noGrad(() => tidy(() => model.encode(to)[0].mean({ dim: 0 }).sub(model.encode(from)[0].mean({ dim: 0 }))));
}

/** An image's decoded code moved along a concept vector at several strengths: [k, C, H, W]. */
export function applyConcept(model: VAE, image: Tensor, vector: Tensor, strengths: number[]): Tensor {
  return noGrad(() =>
    tidy(() => {
      const z = model.encode(image)[0];
      return model.decode(T.cat(strengths.map((s) => z.add(vector.mul(s))), 0));
    }),
  );
}

const PALETTE = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
  [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
];

/** A scatter plot [1, 3, size, size] of 2-D points coloured by label, on white with a frame. */
export function scatterPlot(points: Float32Array, labels: ArrayLike<number>, size = 512): Tensor {
  const n = labels.length;
  const px = new Uint8Array(size * size * 3).fill(255);
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < n; i++) {
    x0 = Math.min(x0, points[2 * i]);
    x1 = Math.max(x1, points[2 * i]);
    y0 = Math.min(y0, points[2 * i + 1]);
    y1 = Math.max(y1, points[2 * i + 1]);
  }
  const m = 16;
  const sx = (v: number) => Math.round(m + ((v - x0) / (x1 - x0 || 1)) * (size - 2 * m - 1));
  const sy = (v: number) => Math.round(size - m - 1 - ((v - y0) / (y1 - y0 || 1)) * (size - 2 * m - 1));
  const put = (x: number, y: number, c: number[]) => {
    if (x < 0 || y < 0 || x >= size || y >= size) return;
    px.set(c, (y * size + x) * 3);
  };
  for (let k = m - 4; k < size - m + 4; k++) {
    for (const [x, y] of [[k, m - 4], [k, size - m + 3], [m - 4, k], [size - m + 3, k]]) put(x, y, [0, 0, 0]);
  }
  for (let i = 0; i < n; i++) {
    const c = PALETTE[Math.abs(Math.round(labels[i])) % PALETTE.length];
    const x = sx(points[2 * i]);
    const y = sy(points[2 * i + 1]);
    for (let dx = -1; dx <= 1; dx++) for (let dy = -1; dy <= 1; dy++) put(x + dx, y + dy, c);
  }
  return tidy(() => T.tensor(px, { shape: [size, size, 3] }).permute([2, 0, 1]).unsqueeze(0).float().div(255));
}
