// Exploring a trained VAE's latent space: samples, walks between images, concept vectors,
// and a scatter plot of the test set's latent means.
import { existsSync } from 'node:fs';
import * as T from '../../torch/index.js';
import { Tensor, noGrad, tidy } from '../../torch/index.js';
import { imageGrid, readImage } from '../../io/images.js';
import type { ImageDataset } from '../../io/datasets.js';
import type { VAE } from './model.js';
import { interpolate } from './latent.js';

/** The most images one call decodes (in one batch) and the most frames of a walk. */
export const VAE_MOST_SAMPLES = 4096;
export const VAE_MOST_WALK_STEPS = 1000;

/** Decodes `count` points drawn from the prior N(0, I) into one grid. */
export function sampleGrid(model: VAE, count: number): Tensor {
  checkSampleCount(count);
  return noGrad(() => tidy(() => imageGrid(model.decode(T.randn([count, model.config.latent])))));
}

export function checkSampleCount(count: number): void {
  if (!(Number.isInteger(count) && count >= 1 && count <= VAE_MOST_SAMPLES))
    throw new Error(`--count must be a whole number in 1..${VAE_MOST_SAMPLES}, got ${count}`);
}

export function checkWalkSteps(steps: number): void {
  if (!(Number.isInteger(steps) && steps >= 2 && steps <= VAE_MOST_WALK_STEPS))
    throw new Error(`--steps must be a whole number in 2..${VAE_MOST_WALK_STEPS}, got ${steps}`);
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
  checkWalkSteps(steps);
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
  return noGrad(() =>
    tidy(() =>
      model
        .encode(to)[0]
        .mean({ dim: 0 })
        .sub(model.encode(from)[0].mean({ dim: 0 })),
    ),
  );
}

/** An image's decoded code moved along a concept vector at several strengths: [k, C, H, W]. */
export function applyConcept(model: VAE, image: Tensor, vector: Tensor, strengths: number[]): Tensor {
  return noGrad(() =>
    tidy(() => {
      const z = model.encode(image)[0];
      return model.decode(
        T.cat(
          strengths.map((s) => z.add(vector.mul(s))),
          0,
        ),
      );
    }),
  );
}
