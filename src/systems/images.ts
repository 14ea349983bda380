// Images as the library takes them: a tensor the caller owns, or a file or builtin:NAME it reads.
import type { Tensor } from '../torch/index.js';
import { readImage, type ReadImageOptions } from '../io/images.js';
import { resolveImage } from '../io/builtin-images.js';

/** RGB in [0, 1], [1, 3, H, W]; or a file, or builtin:NAME (builtin:dog, builtin:scream, ...). */
export type ImageInput = Tensor | string;

/** The image as a tensor, and whether this call made it (and so must dispose it). */
export async function imageOf(x: ImageInput, o: ReadImageOptions = {}): Promise<{ image: Tensor; made: boolean }> {
  return typeof x === 'string' ? { image: await readImage(resolveImage(x), o), made: true } : { image: x, made: false };
}

/**
 * Reads an image file, or builtin:NAME, as RGB in [0, 1], [1, 3, H, W] (the caller's to
 * dispose); `maxSide` scales it down to fit.
 */
export async function loadImage(source: string, options: ReadImageOptions = {}): Promise<Tensor> {
  return readImage(resolveImage(source), options);
}
