// Images through sharp. Tensors are NCHW float32 in [0, 1]; sharp speaks HWC uint8. The
// layout changes here, at the edge, and nowhere else.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { prepareOutputFolder, writeFileAtomic } from './files.js';
import path from 'node:path';
import sharp from 'sharp';
import * as T from '../torch/index.js';
import { Tensor, tidy } from '../torch/index.js';

export interface ReadImageOptions {
  /** 1 (grayscale) or 3 (RGB); default: 3. Transparency is flattened onto white. */
  channels?: 1 | 3;
  /** Resize to exactly [height, width]. */
  size?: [number, number];
  /** Or scale so the longer side is at most this (keeping the aspect ratio). */
  maxSide?: number;
  /** Or scale to this height, keeping the aspect ratio (the book's style transfer does). */
  height?: number;
}

/**
 * The pixel budget. A file over MAX_INPUT_PIXELS is not decoded at all (a 249 KB PNG can say
 * 16000x16000); an image is held as a tensor only up to MAX_TENSOR_PIXELS after the resize
 * the caller asked for (24 megapixels: 288 MB as float32 RGB). Past either, one sentence.
 */
export const MAX_INPUT_PIXELS = 100_000_000;
export const MAX_TENSOR_PIXELS = 24_000_000;

/** The size readImage would give, from the file's header alone. */
async function plannedSize(file: string, opts: ReadImageOptions): Promise<{ width: number; height: number }> {
  let meta: sharp.Metadata;
  try {
    meta = await sharp(file, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw new Error(`cannot read image ${file}: ${(e as Error).message.split('\n')[0]}`, { cause: e });
  }
  let { width = 0, height = 0 } = meta;
  if ((meta.orientation ?? 1) >= 5) [width, height] = [height, width];
  const mp = (n: number) => `${(n / 1e6).toFixed(0)} megapixels`;
  if (width * height > MAX_INPUT_PIXELS) {
    throw new Error(
      `${file} is ${width}x${height} (${mp(width * height)}); Loom reads images of at most ${mp(MAX_INPUT_PIXELS)}: shrink it first`,
    );
  }
  if (opts.size) return { height: opts.size[0], width: opts.size[1] };
  if (opts.maxSide) {
    const f = Math.min(1, opts.maxSide / Math.max(width, height));
    return { width: Math.round(width * f), height: Math.round(height * f) };
  }
  if (opts.height) return { height: opts.height, width: Math.round((width * opts.height) / height) };
  return { width, height };
}

/** Reads a PNG, JPEG, WebP (or anything sharp decodes) into a [1, C, H, W] float tensor in [0, 1]. */
export async function readImage(file: string, opts: ReadImageOptions = {}): Promise<Tensor> {
  if (!existsSync(file)) throw new Error(`cannot read image ${file}: no such file`);
  if (statSync(file).isDirectory()) throw new Error(`cannot read image ${file}: it is a folder`);
  const planned = await plannedSize(file, opts);
  if (planned.width * planned.height > MAX_TENSOR_PIXELS) {
    throw new Error(
      `${file} would be ${planned.width}x${planned.height}, over Loom's budget of ${MAX_TENSOR_PIXELS / 1e6} megapixels for one image; ` +
        'shrink it (dream: --max-side, style: --height)',
    );
  }
  const channels = opts.channels ?? 3;
  let img = sharp(file, { failOn: 'error', limitInputPixels: MAX_INPUT_PIXELS }).rotate(); // honour EXIF orientation
  if (opts.size) img = img.resize(opts.size[1], opts.size[0], { fit: 'fill' });
  else if (opts.maxSide) img = img.resize(opts.maxSide, opts.maxSide, { fit: 'inside', withoutEnlargement: true });
  else if (opts.height) img = img.resize({ height: opts.height });
  img = img.flatten({ background: '#ffffff' });
  img = channels === 1 ? img.grayscale() : img.toColourspace('srgb');
  let raw: { data: Buffer; info: sharp.OutputInfo };
  try {
    raw = await img.raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new Error(`cannot read image ${file}: ${(e as Error).message.split('\n')[0]}`, { cause: e });
  }
  const { width, height } = raw.info;
  const c = raw.info.channels;
  return tidy(() => {
    let t = T.tensor(new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.length), {
      shape: [height, width, c],
    });
    if (c !== channels) t = t.narrow(2, 0, channels);
    return t.permute([2, 0, 1]).unsqueeze(0).float().div(255).contiguous();
  });
}

/** HWC uint8 bytes of one image: [1, C, H, W] or [C, H, W], values in [0, 1] (clamped). */
export function toBytes(t: Tensor): { data: Buffer; width: number; height: number; channels: 1 | 3 } {
  const s = t.shape;
  const chw = s.length === 4 ? s.slice(1) : s;
  if (chw.length !== 3 || (s.length === 4 && s[0] !== 1) || (chw[0] !== 1 && chw[0] !== 3)) {
    throw new Error(`an image tensor must be [1, C, H, W] or [C, H, W] with 1 or 3 channels, got [${s}]`);
  }
  const [c, h, w] = chw;
  const bytes = tidy(() =>
    t.reshape(chw).clamp(0, 1).mul(255).round().permute([1, 2, 0]).contiguous().to('uint8').data(),
  );
  return {
    data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    width: w,
    height: h,
    channels: c as 1 | 3,
  };
}

function rawImage(t: Tensor): sharp.Sharp {
  const { data, width, height, channels } = toBytes(t);
  return sharp(data, { raw: { width, height, channels } });
}

/** Writes one image as PNG (or JPEG/WebP by the extension). */
export async function writeImage(file: string, t: Tensor): Promise<void> {
  const ext = path.extname(file).toLowerCase();
  let img = rawImage(t);
  img =
    ext === '.jpg' || ext === '.jpeg'
      ? img.jpeg({ quality: 92 })
      : ext === '.webp'
        ? img.webp({ quality: 92 })
        : img.png();
  writeFileAtomic(file, await img.toBuffer());
}

/** Writes an image and frees its tensor (for pictures made only to be written). */
export async function writeOwned(file: string, img: Tensor): Promise<void> {
  try {
    await writeImage(file, img);
  } finally {
    img.dispose();
  }
}

/** Tiles a batch [N, C, H, W] into one image [1, C, rows*(H+pad)-pad, cols*(W+pad)-pad]. */
export function imageGrid(batch: Tensor, opts: { cols?: number; pad?: number; padValue?: number } = {}): Tensor {
  const [n, c, h, w] = batch.shape;
  const cols = opts.cols ?? Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const pad = opts.pad ?? 2;
  return tidy(() => {
    const H = rows * (h + pad) - pad;
    const W = cols * (w + pad) - pad;
    const out = T.full([1, c, H, W], opts.padValue ?? 1);
    for (let i = 0; i < n; i++) {
      const r = Math.floor(i / cols);
      const k = i % cols;
      out
        .narrow(2, r * (h + pad), h)
        .narrow(3, k * (w + pad), w)
        .copy_(batch.narrow(0, i, 1));
    }
    return out;
  });
}

/** Writes frames ([1, C, H, W] each, same size) as an animated GIF or WebP (by extension). */
export async function writeAnimation(
  file: string,
  frames: (Tensor | Buffer)[],
  opts: { delayMs?: number; loop?: number } = {},
): Promise<void> {
  if (frames.length === 0) throw new Error('an animation needs at least one frame');
  const pngs = await Promise.all(frames.map((f) => (Buffer.isBuffer(f) ? f : pngBytes(f))));
  const img = sharp(pngs, { join: { animated: true } });
  const common = { loop: opts.loop ?? 0, delay: opts.delayMs ?? 100 };
  writeFileAtomic(
    file,
    await (path.extname(file).toLowerCase() === '.webp' ? img.webp(common) : img.gif(common)).toBuffer(),
  );
}

/** One image [1, C, H, W] in [0, 1] as PNG bytes. */
export function pngBytes(image: Tensor): Promise<Buffer> {
  return rawImage(image).png().toBuffer();
}

/** Resizes a batch [N, C, H, W] to [h, w] (bilinear, or area-like when shrinking a lot). */
export function resize(batch: Tensor, h: number, w: number): Tensor {
  return T.upsampleBilinear2d(batch, [h, w], false);
}

/** Whether an --out names a folder (one image per file): it ends with a slash or is a folder. */
export function namesFolder(out: string): boolean {
  return /[\\/]$/.test(out) || (existsSync(out) && statSync(out).isDirectory());
}

/**
 * Writes `count` images as sample-00001.png, ... into `dir`, made `batch` at a time by
 * `make(n)` ([n, C, H, W] in [0, 1]), so any count fits in memory. A folder that already
 * holds samples is refused without `force`: nothing the user had is overwritten unasked.
 */
export async function writeImageFolder(
  dir: string,
  count: number,
  make: (n: number) => Tensor,
  opts: { force?: boolean; batch?: number } = {},
): Promise<string[]> {
  if (!(Number.isInteger(count) && count >= 1)) throw new Error(`--count must be a whole number >= 1, got ${count}`);
  const name = (i: number) =>
    path.join(dir, `sample-${String(i + 1).padStart(Math.max(5, String(count).length), '0')}.png`);
  if (!opts.force && existsSync(dir) && readdirSync(dir).some((f) => /^sample-\d+\.png$/.test(f)))
    throw new Error(`${dir} already holds samples; choose another --out or add --force`);
  prepareOutputFolder(dir);
  const files: string[] = [];
  const batch = opts.batch ?? 256;
  for (let i = 0; i < count; i += batch) {
    const images = make(Math.min(batch, count - i));
    try {
      for (let j = 0; j < images.size(0); j++) {
        files.push(name(i + j));
        await writeOwned(name(i + j), images.narrow(0, j, 1));
      }
    } finally {
      images.dispose();
    }
  }
  return files;
}
