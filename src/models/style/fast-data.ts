// The fast style network's training photos: loaded once, then random crops per step.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import * as T from '../../torch/index.js';
import { Tensor } from '../../torch/index.js';
import { readImage, resize } from '../../io/images.js';
import { BUILTIN_IMAGES, resolveImage } from '../../io/builtin-images.js';
import { IMAGE_EXT } from '../../io/datasets.js';
import { Rng } from '../../util/random.js';

/** Training photos: a folder's images, or builtin:photos (the built-in photos but the painting). */
export function photoFiles(spec: string): string[] {
  if (spec === 'builtin:photos')
    return BUILTIN_IMAGES.filter((n) => n !== 'scream').map((n) => resolveImage(`builtin:${n}`));
  if (!existsSync(spec) || !statSync(spec).isDirectory())
    throw new Error(`cannot read image folder ${spec}: no such folder (or use builtin:photos)`);
  const files = readdirSync(spec)
    .filter((f) => IMAGE_EXT.test(f))
    .sort()
    .map((f) => path.join(spec, f));
  if (!files.length) throw new Error(`${spec} holds no images (png, jpg, webp, gif, tiff, avif)`);
  return files;
}

/** Photos loaded once, shorter side a little above `size`, for random crops. */
export async function loadPhotos(files: string[], size: number): Promise<Tensor[]> {
  const out: Tensor[] = [];
  try {
    for (const f of files) {
      const img = await readImage(f);
      const [, , h, w] = img.shape;
      const s = Math.round(size * 1.15) / Math.min(h, w);
      out.push(T.keep(T.tidy(() => resize(img, Math.max(size, Math.round(h * s)), Math.max(size, Math.round(w * s))))));
      img.dispose();
    }
    return out;
  } catch (e) {
    out.forEach((t) => t.dispose());
    throw e;
  }
}

/** A batch of random crops (and mirror images), drawn from a generator seeded by (seed, step). */
export function cropBatch(photos: Tensor[], size: number, batch: number, seed: number, step: number): Tensor {
  const rng = new Rng(seed, step);
  return T.tidy(() =>
    T.cat(
      Array.from({ length: batch }, () => {
        const p = photos[rng.int(photos.length)];
        const [, , h, w] = p.shape;
        const crop = p.narrow(2, rng.int(h - size + 1), size).narrow(3, rng.int(w - size + 1), size);
        return rng.next() < 0.5 ? crop : T.flip(crop, [3]);
      }),
      0,
    ),
  );
}
