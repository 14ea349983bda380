// The GAN's training images: a built-in set, CIFAR-10 batches, or a folder of images.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  loadBuiltin,
  loadCifarBinary,
  loadCifarPython,
  loadImageFolder,
  sliceDataset,
  balancedSubset,
  builtinClass,
  builtinSetClasses,
  classSubset,
  findClass,
  CIFAR_CLASSES,
  type ImageDataset,
} from '../../io/datasets.js';

/**
 * builtin:mnist / builtin:fashion-mnist[:<class>] (training split), cifar10:<folder>[:<class>]
 * (binary or Python batches), or a folder of images (resized to --size, with --channels).
 */
export async function loadGanData(
  spec: string,
  c: { size: number; channels: 1 | 3; limit: number | null },
): Promise<ImageDataset> {
  let ds: ImageDataset;
  const one = builtinClass(spec);
  if (one) {
    const all = loadBuiltin(one.set, 'train');
    ds = classSubset(all, one.index);
    all.dispose();
  } else if (spec.startsWith('builtin:')) ds = loadBuiltin(spec, 'train');
  else if (spec.startsWith('cifar10:')) {
    const [, dir, cls] = spec.match(/^cifar10:(.+?)(?::([^:/]+))?$/) ?? [];
    if (!dir || !existsSync(dir) || !statSync(dir).isDirectory())
      throw new Error(`cannot read CIFAR-10 folder ${dir ?? spec}: no such folder`);
    const only = cls === undefined ? undefined : [findClass(cls, CIFAR_CLASSES, 'CIFAR-10')];
    const files = readdirSync(dir).sort();
    const bins = files.filter((f) => /^data_batch_\d+\.bin$/.test(f)).map((f) => path.join(dir, f));
    const pys = files.filter((f) => /^data_batch_\d+$/.test(f)).map((f) => path.join(dir, f));
    if (bins.length) ds = loadCifarBinary(bins, only);
    else if (pys.length) ds = loadCifarPython(pys, only);
    else throw new Error(`${dir} holds no CIFAR-10 batches (data_batch_N.bin or data_batch_N)`);
  } else {
    ds = await loadImageFolder(spec, { size: [c.size, c.size], channels: c.channels });
  }
  if (c.limit !== null && ds.images.size(0) > c.limit) {
    // Labelled data keeps every class in the subset: the conditional grid has a column for each.
    const part = labelledClasses(spec) ? balancedSubset(ds, c.limit) : sliceDataset(ds, 0, c.limit);
    ds.dispose();
    ds = part;
  }
  return ds;
}

/**
 * The classes of data whose images each carry one as a label, which a conditional GAN can
 * learn: the built-in sets, all of CIFAR-10, a folder of two or more class folders (named in
 * the order loadImageFolder numbers them); null for one class of a set (builtin:mnist:7,
 * cifar10:<folder>:frog) or loose images.
 */
export function labelledClasses(spec: string): string[] | null {
  const builtin = builtinSetClasses(spec);
  if (builtin) return builtin;
  if (spec.startsWith('cifar10:')) return /:[^:/]+$/.test(spec.slice('cifar10:'.length)) ? null : [...CIFAR_CLASSES];
  if (spec.startsWith('builtin:') || !existsSync(spec) || !statSync(spec).isDirectory()) return null;
  const folders = readdirSync(spec)
    .filter((e) => !e.startsWith('.') && statSync(path.join(spec, e)).isDirectory())
    .sort();
  return folders.length >= 2 ? folders : null;
}
