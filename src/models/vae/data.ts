// Where VAE training data come from: a built-in set, an idx images file, or a folder.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { loadBuiltin, loadIdxPair, loadImageFolder, sliceDataset, type ImageDataset } from '../../io/datasets.js';

export interface Split {
  train: ImageDataset;
  test: ImageDataset;
}

/** Splits off the last `fraction` as the test set. */
function holdOut(ds: ImageDataset, fraction: number): Split {
  const n = ds.images.size(0);
  const nTest = Math.max(1, Math.floor(n * fraction));
  if (n - nTest < 1) throw new Error(`${ds.source} has too few images (${n}) to hold some out for testing`);
  const split = { train: sliceDataset(ds, 0, n - nTest), test: sliceDataset(ds, n - nTest, nTest) };
  ds.dispose();
  return split;
}

/**
 * builtin:mnist / builtin:fashion-mnist (their own test splits), an idx images file (labels
 * from the matching "labels" file when there is one; the last 10% held out), or a folder
 * of images (resized to `size`, with `channels`; the last 10% held out).
 */
export async function loadVaeData(
  spec: string,
  opts: { size: number; channels: 1 | 3; limit?: number },
): Promise<Split> {
  let split: Split;
  if (spec.startsWith('builtin:')) split = { train: loadBuiltin(spec, 'train'), test: loadBuiltin(spec, 'test') };
  else if (!existsSync(spec)) throw new Error(`cannot read data ${spec}: no such file or folder`);
  else if (statSync(spec).isDirectory())
    split = holdOut(await loadImageFolder(spec, { size: [opts.size, opts.size], channels: opts.channels }), 0.1);
  else {
    const labels = path.join(
      path.dirname(spec),
      path.basename(spec).replace('images', 'labels').replace('idx3', 'idx1'),
    );
    split = holdOut(loadIdxPair(spec, labels !== spec && existsSync(labels) ? labels : null), 0.1);
  }
  if (opts.limit) {
    const cut = (ds: ImageDataset, n: number): ImageDataset => {
      if (ds.images.size(0) <= n) return ds;
      const part = sliceDataset(ds, 0, n);
      ds.dispose();
      return part;
    };
    split = { train: cut(split.train, opts.limit), test: cut(split.test, Math.max(100, Math.ceil(opts.limit / 6))) };
  }
  return split;
}
