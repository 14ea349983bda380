// Images and datasets, on small files that the tests write in each format.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import * as T from '../src/torch/index.js';
import { chartSvg, lineChartSpec, writeChart } from '../src/io/chart.js';
import { GifStream } from '../src/io/gif-stream.js';
import { imageGrid, readImage, writeAnimation, writeImage } from '../src/io/images.js';
import {
  balancedSubset,
  loadCifarBinary,
  loadCifarPython,
  loadIdxPair,
  loadImageFolder,
  readIdx,
} from '../src/io/datasets.js';
import { loadGanData } from '../src/models/gan/data.js';
import { DataLoader } from '../src/io/loader.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'loom-data-'));

function idx(shape: number[], data: Uint8Array): Buffer {
  const head = Buffer.alloc(4 + 4 * shape.length);
  head.writeUInt8(0x08, 2);
  head.writeUInt8(shape.length, 3);
  shape.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(data)]);
}

test('idx files, raw and gzip, load as [N, 1, H, W] in [0, 1] with labels; bad ones are refused clearly', () => {
  const dir = tmp();
  const pixels = Uint8Array.from({ length: 3 * 2 * 2 }, (_, i) => i * 20);
  writeFileSync(path.join(dir, 'img'), idx([3, 2, 2], pixels));
  writeFileSync(path.join(dir, 'lab.gz'), gzipSync(idx([3], new Uint8Array([7, 0, 2]))));
  const ds = loadIdxPair(path.join(dir, 'img'), path.join(dir, 'lab.gz'));
  assert.deepEqual(ds.images.shape, [3, 1, 2, 2]);
  assert.deepEqual(
    ds.images.toFlatArray().map((x) => Math.round(x * 255)),
    [...pixels],
  );
  assert.deepEqual(ds.labels.toFlatArray(), [7, 0, 2]);
  writeFileSync(path.join(dir, 'short'), idx([3, 2, 2], pixels).subarray(0, 20));
  assert.throws(
    () => readIdx(path.join(dir, 'short')),
    /short is not an idx file: it holds 4 bytes of data, its header says 12/,
  );
  writeFileSync(path.join(dir, 'junk'), 'hello');
  assert.throws(() => readIdx(path.join(dir, 'junk')), /not an idx file: wrong magic number/);
  writeFileSync(path.join(dir, 'lab2'), idx([2], new Uint8Array([1, 2])));
  assert.throws(() => loadIdxPair(path.join(dir, 'img'), path.join(dir, 'lab2')), /2 labels for 3 images/);
});

test('CIFAR-10 binary batches load channel-planar pixels, with a class filter', () => {
  const dir = tmp();
  const rec = (label: number, v: number) => Buffer.concat([Buffer.from([label]), Buffer.alloc(3072, v)]);
  writeFileSync(path.join(dir, 'data_batch_1.bin'), Buffer.concat([rec(6, 10), rec(2, 20), rec(6, 30)]));
  const all = loadCifarBinary([path.join(dir, 'data_batch_1.bin')]);
  assert.deepEqual(all.images.shape, [3, 3, 32, 32]);
  assert.deepEqual(all.labels.toFlatArray(), [6, 2, 6]);
  const frogs = loadCifarBinary([path.join(dir, 'data_batch_1.bin')], [6]);
  assert.deepEqual(frogs.labels.toFlatArray(), [6, 6]);
  assert.equal(Math.round(frogs.images.select(0, 1).mean().item() * 255), 30);
  writeFileSync(path.join(dir, 'bad.bin'), Buffer.alloc(100));
  assert.throws(() => loadCifarBinary([path.join(dir, 'bad.bin')]), /not a CIFAR-10 binary batch/);
});

/** A CIFAR-10 Python batch as Python 2's cPickle writes it (protocol 2, numpy array). */
function cifarPickle(labels: number[], pixels: Buffer): Buffer {
  const s = (t: string) => Buffer.concat([Buffer.from([0x55, t.length]), Buffer.from(t, 'latin1')]);
  const g = (m: string, n: string) => Buffer.from(`c${m}\n${n}\n`, 'latin1');
  const i1 = (n: number) => Buffer.from([0x4b, n]);
  const i2 = (n: number) => Buffer.from([0x4d, n & 255, n >> 8]);
  const binstr = Buffer.alloc(5);
  binstr.writeUInt8(0x54, 0);
  binstr.writeUInt32LE(pixels.length, 1);
  const parts = [
    Buffer.from([0x80, 0x02, 0x7d, 0x28]),
    s('data'),
    g('numpy.core.multiarray', '_reconstruct'),
    g('numpy', 'ndarray'),
    i1(0),
    Buffer.from([0x85]),
    s('b'),
    Buffer.from([0x87, 0x52, 0x28]),
    i1(1),
    i1(labels.length),
    i2(3072),
    Buffer.from([0x86]),
    g('numpy', 'dtype'),
    s('u1'),
    i1(0),
    i1(1),
    Buffer.from([0x87, 0x52, 0x28]),
    i1(3),
    s('|'),
    Buffer.from([0x4e, 0x4e, 0x4e]),
    Buffer.from([0x4a, 255, 255, 255, 255, 0x4a, 255, 255, 255, 255]),
    i1(0),
    Buffer.from([0x74, 0x62]),
    Buffer.from([0x89]),
    binstr,
    pixels,
    Buffer.from([0x74, 0x62]),
    s('labels'),
    Buffer.from([0x5d, 0x28]),
    ...labels.map(i1),
    Buffer.from([0x65]),
    Buffer.from([0x75, 0x2e]),
  ];
  return Buffer.concat(parts);
}

test('CIFAR-10 Python batches (pickled numpy arrays) load without running any code', () => {
  const dir = tmp();
  const px = Buffer.concat([Buffer.alloc(3072, 50), Buffer.alloc(3072, 100)]);
  writeFileSync(path.join(dir, 'data_batch_1'), cifarPickle([6, 3], px));
  const ds = loadCifarPython([path.join(dir, 'data_batch_1')]);
  assert.deepEqual(ds.labels.toFlatArray(), [6, 3]);
  assert.equal(Math.round(ds.images.select(0, 1).mean().item() * 255), 100);
  assert.deepEqual(loadCifarPython([path.join(dir, 'data_batch_1')], [6]).labels.toFlatArray(), [6]);
  writeFileSync(path.join(dir, 'trunc'), cifarPickle([6, 3], px).subarray(0, 500));
  assert.throws(() => loadCifarPython([path.join(dir, 'trunc')]), /trunc cannot be read: it ends early/);
});

test('images: read, write, grid and animation round-trip; unreadable images get one sentence', async () => {
  const dir = tmp();
  const img = T.tidy(() =>
    T.stack([T.linspace(0, 1, 8).reshape([1, 8]).expand([6, 8]), T.zeros([6, 8]), T.ones([6, 8])], 0).unsqueeze(0),
  );
  await writeImage(path.join(dir, 'a.png'), img);
  const back = await readImage(path.join(dir, 'a.png'));
  assert.deepEqual(back.shape, [1, 3, 6, 8]);
  assert.ok(back.sub(img).abs().max().item() <= 0.5 / 255 + 1e-6, 'PNG round trip within rounding');
  const gray = await readImage(path.join(dir, 'a.png'), { channels: 1, size: [3, 4] });
  assert.deepEqual(gray.shape, [1, 1, 3, 4]);
  const grid = imageGrid(T.full([5, 1, 4, 4], 0.25), { cols: 3, pad: 1, padValue: 0 });
  assert.deepEqual(grid.shape, [1, 1, 9, 14]);
  assert.equal(grid.dtype, 'float32');
  assert.equal(grid.sum().item(), 5 * 16 * 0.25);
  await writeAnimation(path.join(dir, 'walk.gif'), [img, img.mul(0.5), img.mul(0.25)], { delayMs: 50 });
  const meta = await sharp(path.join(dir, 'walk.gif'), { animated: true }).metadata();
  assert.equal(meta.pages, 3);
  writeFileSync(path.join(dir, 'broken.png'), Buffer.from('\x89PNG\r\n\x1a\nnot really'));
  await assert.rejects(readImage(path.join(dir, 'broken.png')), /cannot read image .*broken.png/);
  await assert.rejects(readImage(path.join(dir, 'none.png')), /no such file/);
});

test('a GIF stream writes frame by frame, reads back close to its frames, and replaces the target only on close', async () => {
  const dir = tmp();
  const file = path.join(dir, 'zoom.gif');
  writeFileSync(file, 'the user had this');
  T.manualSeed(3);
  const frames = [0, 1, 2].map((i) =>
    T.tidy(() =>
      T.rand([1, 3, 12, 16])
        .mul(0.5)
        .add(0.25 * i),
    ),
  );
  const gif = new GifStream(file, { delayMs: 40 });
  gif.add(frames[0]);
  gif.add(frames[1]);
  assert.equal(readFileSync(file, 'utf8'), 'the user had this', 'the target is untouched while frames come');
  assert.throws(() => gif.add(T.rand([1, 3, 10, 16])), /share one size: 16x12, then 16x10/);
  gif.add(T.tidy(() => frames[2].mean({ dim: 1, keepdim: true }))); // a grey frame joins the colour ones
  gif.close();
  const meta = await sharp(file, { animated: true }).metadata();
  assert.equal(meta.pages, 3);
  assert.deepEqual(meta.delay, [40, 40, 40]);
  for (let i = 0; i < 2; i++) {
    const { data } = await sharp(file, { page: i }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const back = T.tidy(() =>
      T.tensor(new Uint8Array(data), { shape: [12, 16, 3] })
        .to('float32')
        .div(255)
        .permute([2, 0, 1]),
    );
    // At most 256 colours for 192 random pixels: nearly every pixel keeps its own colour.
    const err = T.tidy(() =>
      back
        .sub(frames[i].reshape([3, 12, 16]))
        .abs()
        .mean()
        .item(),
    );
    assert.ok(err < 0.01, `frame ${i} reads back within ${err}`);
    back.dispose();
  }
  const empty = new GifStream(path.join(dir, 'none.gif'));
  empty.close();
  assert.deepEqual(readdirSync(dir).sort(), ['zoom.gif'], 'no frames, no file, and no temp file left');
  frames.forEach((f) => f.dispose());
});

test('a line chart has titled axes, a legend naming each curve, raw and smoothed lines, and renders to PNG', async () => {
  const x = Array.from({ length: 40 }, (_, i) => (i + 1) * 10);
  const spec = lineChartSpec(
    [
      { name: 'discriminator', x, y: x.map((s) => Math.exp(-s / 100)) },
      { name: 'generator', x, y: x.map((s, i) => 1 + (i % 2) * 0.2) },
    ],
    { x: 'step', y: 'loss', smooth: 5 },
  );
  // The smoothed line is the centred moving average (5 points here; 1, none, where a curve says so).
  type Point = { curve: string; y: number; smoothed: number };
  const points = (sp: unknown, curve: string) =>
    (sp as { data: { values: Point[] } }).data.values.filter((v) => v.curve === curve);
  assert.ok(Math.abs(points(spec, 'generator')[10].smoothed - 1.08) < 1e-12);
  const unsmoothed = lineChartSpec([{ name: 'held-out', x, y: x.map((s) => s % 7), smooth: 1 }], { x: 'step', y: 'b' });
  for (const p of points(unsmoothed, 'held-out')) assert.equal(p.smoothed, p.y);
  const svg = await chartSvg(spec);
  for (const text of ['step', 'loss', 'discriminator', 'generator', '400'])
    assert.match(svg, new RegExp(`<text[^>]*>${text}</text>`), `the chart says "${text}"`);
  // Two curves, each drawn raw (layer 0) and smoothed (layer 1).
  assert.equal((svg.match(/class="mark-line role-mark layer_0_marks"/g) ?? []).length, 2);
  assert.equal((svg.match(/class="mark-line role-mark layer_1_marks"/g) ?? []).length, 2);
  // Curves of at most 60 points show their points as well (40 each here).
  assert.equal((svg.match(/class="mark-symbol role-mark layer_2_marks"/g) ?? []).length, 1);
  const file = path.join(tmp(), 'chart.png');
  await writeChart(file, spec);
  const meta = await sharp(file).metadata();
  assert.ok(meta.format === 'png' && meta.width! > 2 * 480, `a ${meta.width}-pixel-wide PNG at double density`);
});

test('image folders: class subfolders give labels; a loader batches in a seeded order', async () => {
  const dir = tmp();
  for (const [cls, v] of [
    ['cats', 0],
    ['dogs', 255],
  ] as const) {
    mkdirSync(path.join(dir, cls));
    for (let i = 0; i < 3; i++) {
      await sharp(Buffer.alloc(5 * 7 * 3, v), { raw: { width: 7, height: 5, channels: 3 } })
        .png()
        .toFile(path.join(dir, cls, `${i}.png`));
    }
  }
  const ds = await loadImageFolder(dir, { size: [4, 4], channels: 3 });
  assert.deepEqual(ds.classes, ['cats', 'dogs']);
  assert.deepEqual(ds.images.shape, [6, 3, 4, 4]);
  assert.deepEqual(ds.labels.toFlatArray(), [0, 0, 0, 1, 1, 1]);
  const loader = new DataLoader(ds.images, ds.labels, 4, { seed: 3 });
  assert.equal(loader.length, 1);
  const a = loader.batch(0, 0).labels.toFlatArray();
  assert.deepEqual(loader.batch(0, 0).labels.toFlatArray(), a, 'same seed and epoch, same batch');
  assert.notDeepEqual(loader.order(0), loader.order(1), 'epochs differ');
  // A subset of 4 keeps both classes (the folder lists all cats, then all dogs), in order.
  const four = balancedSubset(ds, 4);
  assert.deepEqual(four.labels.toFlatArray(), [0, 0, 1, 1]);
  assert.deepEqual(four.images.shape, [4, 3, 4, 4]);
  four.dispose();
  // So does a GAN's --limit on such a folder.
  const limited = await loadGanData(dir, { size: 4, channels: 3, limit: 3 });
  assert.deepEqual([...new Set(limited.labels.toFlatArray())].sort(), [0, 1]);
  limited.dispose();
  await assert.rejects(loadImageFolder(path.join(dir, 'nope'), { size: [4, 4], channels: 3 }), /no such folder/);
});
