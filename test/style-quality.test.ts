// The style judges (colour, texture, content) and the colour match, on images whose answers
// are known: CIE Lab's published values, flat colours, exact statistics, a flipped photo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../src/torch/index.js';
import { readImage } from '../src/io/images.js';
import { matchColours } from '../src/models/style/losses.js';
import { colourDistance, contentSimilarity, rgbToLab, scoreStyle } from '../src/models/style/quality.js';
import { loadMobileNetV2 } from '../src/vision/weights.js';

const flat = (r: number, g: number, b: number, h = 8, w = 8) =>
  T.tensor([r, g, b], { shape: [1, 3, 1, 1] })
    .expand([1, 3, h, w])
    .contiguous();

test('rgbToLab gives the published CIE Lab values of white, black and sRGB red', () => {
  const cases: [number[], number[]][] = [
    [
      [1, 1, 1],
      [100, 0, 0],
    ],
    [
      [0, 0, 0],
      [0, 0, 0],
    ],
    [
      [1, 0, 0],
      [53.24, 80.09, 67.2],
    ],
    [
      [0, 0, 1],
      [32.3, 79.19, -107.86],
    ],
  ];
  for (const [rgb, lab] of cases) {
    const got = T.tidy(() => [...(rgbToLab(flat(rgb[0], rgb[1], rgb[2], 1, 1)).data() as Float64Array)]);
    got.forEach((v, i) => assert.ok(Math.abs(v - lab[i]) < 0.05, `rgb ${rgb} → Lab ${got}, expected ${lab}`));
  }
});

test('the colour distance is the Lab distance of flat colours, relative to the photo, and 0 for the painting', () => {
  const [grey2, grey5, grey8] = [0.2, 0.5, 0.8].map((v) => flat(v, v, v));
  const lightness = (x: T.Tensor) => T.tidy(() => rgbToLab(x).narrow(0, 0, 1).mean().item() as number);
  const expected = Math.abs(lightness(grey5) - lightness(grey2)) / Math.abs(lightness(grey8) - lightness(grey2));
  const got = colourDistance(grey5, grey8, grey2);
  assert.ok(Math.abs(got - expected) < 1e-3, `got ${got}, expected ${expected}`);
  assert.ok(expected > 0.2 && expected < 0.8);
  assert.ok(colourDistance(grey2, grey8, grey2) < 1e-3);
  for (const t of [grey2, grey5, grey8]) t.dispose();
});

test("matchColours gives an image the palette's RGB mean and covariance and keeps its shapes", async () => {
  const photo = await readImage('/usr/share/darknet/data/horses.jpg', { size: [96, 128] });
  const painting = await readImage('/usr/share/darknet/data/scream.jpg', { size: [96, 96] });
  // A palette inside the unit cube, so that clamping does not bend the statistics.
  const palette = T.tidy(() => painting.mul(0.5).add(0.2));
  const out = matchColours(photo, palette);
  const stats = (x: T.Tensor) =>
    T.tidy(() => {
      const p = x.reshape([3, -1]);
      const mean = p.mean({ dim: 1, keepdim: true });
      const d = p.sub(mean);
      return [...(T.cat([mean, T.mm(d, d.t()).div(p.shape[1])], 1).data() as Float32Array)];
    });
  const [got, want, before] = [stats(out), stats(palette), stats(photo)];
  const worst = Math.max(...got.map((v, i) => Math.abs(v - want[i])));
  assert.ok(worst < 0.01, `statistics differ by ${worst}: ${got} vs ${want}`);
  assert.ok(Math.max(...before.map((v, i) => Math.abs(v - want[i]))) > 0.05, 'the photo started elsewhere');
  assert.ok(contentSimilarity(out, photo) > 0.6, 'the shapes stay');
  assert.ok(colourDistance(out, photo, palette) < 0.25);
  for (const t of [photo, painting, palette, out]) t.dispose();
});

test('content similarity: 1 for the photo, high under fine noise, low for the photo upside down', async () => {
  const photo = await readImage('/usr/share/darknet/data/horses.jpg', { size: [128, 192] });
  T.manualSeed(3);
  const noisy = T.tidy(() => photo.add(T.randn(photo.shape).mul(0.08)).clamp(0, 1));
  const flipped = T.tidy(() => T.flip(photo, [2]));
  const same = contentSimilarity(photo, photo);
  const withNoise = contentSimilarity(noisy, photo);
  const upsideDown = contentSimilarity(flipped, photo);
  assert.ok(Math.abs(same - 1) < 1e-5, `identical: ${same}`);
  assert.ok(withNoise > 0.85, `fine noise: ${withNoise}`);
  assert.ok(upsideDown < 0.5, `upside down: ${upsideDown}`);
  for (const t of [photo, noisy, flipped]) t.dispose();
});

test('the three scores: the photo is 1/1/1, the painting is 0 on colour and texture', async () => {
  const judge = loadMobileNetV2();
  const photo = await readImage('/usr/share/darknet/data/horses.jpg', { size: [128, 192] });
  const painting = await readImage('/usr/share/darknet/data/scream.jpg', { size: [128, 192] });
  const self = scoreStyle(judge, photo, photo, painting);
  assert.ok(Math.abs(self.colour - 1) < 1e-6 && Math.abs(self.texture - 1) < 1e-6 && Math.abs(self.content - 1) < 1e-5);
  const other = scoreStyle(judge, painting, photo, painting);
  assert.ok(other.colour < 1e-3 && other.texture < 1e-6, JSON.stringify(other));
  assert.ok(other.content < 0.8, `the painting does not have the photo's shapes: ${other.content}`);
  for (const t of [photo, painting]) t.dispose();
  judge.dispose();
});
