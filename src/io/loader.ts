// Seeded shuffling and batching over a dataset held as tensors.
import * as T from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { Rng } from '../util/random.js';

export interface Batch {
  images: Tensor;
  labels: Tensor;
}

/**
 * Batches of `size` (the last, short one dropped when dropLast) in an order that depends only
 * on (seed, epoch), so a resumed run sees the same batches. Tensors are new each batch; free
 * them (tidy) per step.
 */
export class DataLoader {
  constructor(
    readonly images: Tensor,
    readonly labels: Tensor,
    readonly size: number,
    readonly opts: { seed: number; shuffle?: boolean; dropLast?: boolean } = { seed: 0 },
  ) {
    if (!(Number.isInteger(size) && size >= 1))
      throw new Error(`the batch size must be a whole number >= 1, got ${size}`);
    if (images.size(0) < size && (opts.dropLast ?? true))
      throw new Error(`the data holds ${images.size(0)} items, fewer than one batch of ${size}`);
  }
  get length(): number {
    const n = this.images.size(0);
    return (this.opts.dropLast ?? true) ? Math.floor(n / this.size) : Math.ceil(n / this.size);
  }
  order(epoch: number): Int32Array {
    const idx = Int32Array.from({ length: this.images.size(0) }, (_, i) => i);
    return this.opts.shuffle === false ? idx : new Rng(this.opts.seed, epoch, 0xda7a).shuffle(idx);
  }
  /** Batch k of an epoch, or (data-parallel) share `part.index` of `part.count` equal ones of it. */
  batch(epoch: number, k: number, order = this.order(epoch), part = { index: 0, count: 1 }): Batch {
    const share = Math.floor(this.size / part.count);
    const start = k * this.size + part.index * share;
    const sel = T.tensor(order.subarray(start, start + share)).long();
    return { images: this.images.indexSelect(0, sel), labels: this.labels.indexSelect(0, sel) };
  }
}
