// The pictures of a VAE: reconstructions beside originals, random samples, and the book's
// grid of decoded points over two latent dimensions.
import * as T from '../../torch/index.js';
import { Tensor, noGrad, tidy } from '../../torch/index.js';
import { RunFolder } from '../../io/run-folder.js';
import { imageGrid, writeOwned } from '../../io/images.js';
import type { ImageDataset } from '../../io/datasets.js';
import { VAE } from './model.js';
import { gridCoordinates } from './latent.js';

/** Reconstructions beside originals, random samples, and (2-D latent) the latent grid. */
export async function writeEpochPictures(
  run: RunFolder,
  model: VAE,
  test: ImageDataset,
  epoch: number,
  step: number,
): Promise<void> {
  const tag = Number.isInteger(epoch) ? RunFolder.epochTag(epoch) : RunFolder.stepTag(step);
  const [recon, samples, grid] = noGrad(() =>
    tidy(() => {
      model.eval();
      const x = test.images.narrow(0, 0, Math.min(16, test.images.size(0)));
      const [mean] = model.encode(x);
      const pairs = T.stack([x, model.decode(mean)], 1).reshape([-1, ...x.shape.slice(1)]);
      const out: [Tensor, Tensor, Tensor | null] = [
        imageGrid(pairs, { cols: 8 }),
        imageGrid(model.decode(T.randn([64, model.config.latent])), { cols: 8 }),
        model.config.latent === 2 ? latentGrid(model, 15) : null,
      ];
      model.train();
      return out;
    }),
  );
  await writeOwned(run.file('samples', `${tag}-reconstructions.png`), recon);
  await writeOwned(run.file('samples', `${tag}-samples.png`), samples);
  if (grid) await writeOwned(run.file('samples', `${tag}-grid.png`), grid);
}

export const LATENT_GRID_MOST = 64;

/** The book's n×n grid of decoded points at Gaussian quantiles, over latent dims (a, b). */
export function latentGrid(model: VAE, n: number, dims: [number, number] = [0, 1]): Tensor {
  // n * n decodes in one batch: beyond this the batch and the image outgrow memory.
  if (n > LATENT_GRID_MOST) throw new Error(`--size must be at most ${LATENT_GRID_MOST} points per side, got ${n}`);
  const q = gridCoordinates(n);
  const d = model.config.latent;
  if (dims.some((k) => !(Number.isInteger(k) && k >= 0 && k < d)) || dims[0] === dims[1]) {
    throw new Error(`--dims must name two different latent dimensions below ${d}`);
  }
  const z = new Float32Array(n * n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      // rows go down the second dimension from high to low, as the book's plot does
      z[(i * n + j) * d + dims[0]] = q[j];
      z[(i * n + j) * d + dims[1]] = q[n - 1 - i];
    }
  }
  return noGrad(() => tidy(() => imageGrid(model.decode(T.tensor(z, { shape: [n * n, d] })), { cols: n, pad: 0 })));
}
