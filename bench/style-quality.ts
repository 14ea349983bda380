// Style transfer judged by what the method does not optimise: for each photo × painting, the
// defaults' result scored on colour (Lab 2-Wasserstein, relative to the photo's), texture
// (MobileNetV2 Gram distance, relative to the photo's) and content (SSIM of blurred luminance),
// with its time; the results as one contact sheet (rows: photos; columns: paintings).
// Usage: npm run bench -- style-quality [--height 256] [--paintings a.jpg,b.jpg] [--sheet FILE]
import path from 'node:path';
import sharp from 'sharp';
import * as T from '../src/torch/index.js';
import { pngBytes, readImage } from '../src/io/images.js';
import { resolveImage } from '../src/io/builtin-images.js';
import { STYLE_DEFAULTS, transferStyle } from '../src/models/style/index.js';
import { scoreStyle } from '../src/models/style/quality.js';
import { loadBackbone, loadMobileNetV2 } from '../src/vision/weights.js';
import { printTable, repoRoot } from './util.js';

const PHOTOS = ['builtin:horses', 'builtin:dog', 'builtin:giraffe', 'builtin:person'];

/** The image as a PNG `height` pixels high. */
async function png(t: T.Tensor, height: number): Promise<Buffer> {
  return sharp(await pngBytes(t))
    .resize({ height })
    .png()
    .toBuffer();
}

export async function styleQualityBench(opts: { height: number; paintings: string[]; sheet: string }): Promise<void> {
  const judge = loadMobileNetV2();
  const backbone = loadBackbone('inception');
  const paintings = ['builtin:scream', ...opts.paintings];
  const cfg = { ...STYLE_DEFAULTS, height: opts.height };
  const rows: string[][] = [];
  const tiles: Buffer[][] = [];
  const thumb = 160;
  const header: Buffer[] = [];
  for (const p of paintings) header.push(await png(await readImage(resolveImage(p), { maxSide: 1024 }), thumb));
  for (const photoName of PHOTOS) {
    const photo = await readImage(resolveImage(photoName));
    const row = [await png(photo, thumb)];
    for (const paintingName of paintings) {
      const painting = await readImage(resolveImage(paintingName), { maxSide: 1024 });
      const t0 = performance.now();
      const out = await transferStyle(backbone, photo, [{ image: painting, weight: 1 }], cfg);
      const secs = (performance.now() - t0) / 1000;
      const s = scoreStyle(judge, out, photo, painting);
      rows.push([
        path.basename(photoName).replace('builtin:', ''),
        path.basename(paintingName).replace('builtin:', ''),
        s.colour.toFixed(2),
        s.texture.toFixed(2),
        s.content.toFixed(2),
        secs.toFixed(0),
      ]);
      row.push(await png(out, thumb));
      for (const t of [out, painting]) t.dispose();
    }
    tiles.push(row);
    photo.dispose();
  }
  console.log(
    `style transfer at height ${opts.height}, the built-in InceptionV3's defaults; judged by MobileNetV2 and Lab`,
  );
  printTable(['photo', 'painting', 'colour (<=0.35)', 'texture (<=0.5)', 'content SSIM', 'seconds'], rows);
  // Contact sheet: first row the paintings, first column the photos; each column as wide as its widest tile.
  const grid: (Buffer | null)[][] = [[null, ...header], ...tiles];
  const width = async (b: Buffer | null) => (b ? (await sharp(b).metadata()).width! : 0);
  const gap = 4;
  const columns: number[] = [];
  for (const row of grid) for (const [c, b] of row.entries()) columns[c] = Math.max(columns[c] ?? 0, await width(b));
  const comp: sharp.OverlayOptions[] = [];
  grid.forEach((row, r) => {
    let x = 0;
    row.forEach((b, c) => {
      if (b) comp.push({ input: b, left: x, top: r * (thumb + gap) });
      x += columns[c] + gap;
    });
  });
  await sharp({
    create: {
      width: columns.reduce((a, w) => a + w + gap, 0),
      height: grid.length * (thumb + gap),
      channels: 3,
      background: '#ffffff',
    },
  })
    .composite(comp)
    .jpeg({ quality: 85 })
    .toFile(opts.sheet);
  console.log(`contact sheet: ${path.relative(repoRoot, opts.sheet)}`);
  judge.dispose();
  backbone.net.dispose();
}
