// An animated GIF written frame by frame, so an animation of any length holds one frame in
// memory (a dream zoom for half an hour makes thousands). Each frame gets its own 256-colour
// palette. The file is written beside the target and renamed into place when it is closed:
// a crash never leaves a half-written animation under the user's name.
import { closeSync, existsSync, fsyncSync, openSync, renameSync, unlinkSync } from 'node:fs';
import { writeAll } from './files.js';
import gifenc from 'gifenc';
import type { Tensor } from '../torch/index.js';
import { toBytes } from './images.js';

export class GifStream {
  private readonly encoder = gifenc.GIFEncoder({ auto: false });
  private readonly tmp: string;
  private fd: number | null;
  private width = 0;
  private height = 0;
  frames = 0;

  constructor(
    readonly file: string,
    private readonly opts: { delayMs?: number; loop?: number } = {},
  ) {
    this.tmp = `${file}.tmp-${process.pid}`;
    this.fd = openSync(this.tmp, 'w');
  }

  /** Appends one image [1, C, H, W] in [0, 1]; every frame must have the first one's size. */
  add(frame: Tensor): void {
    if (this.fd === null) throw new Error('this GIF is already closed');
    const { data, width, height, channels } = toBytes(frame);
    if (this.frames === 0) {
      [this.width, this.height] = [width, height];
      this.encoder.writeHeader();
    } else if (width !== this.width || height !== this.height) {
      throw new Error(`a GIF's frames share one size: ${this.width}x${this.height}, then ${width}x${height}`);
    }
    const rgba = new Uint8Array(width * height * 4);
    for (let p = 0, q = 0; p < width * height; p++, q += channels) {
      rgba[4 * p] = data[q];
      rgba[4 * p + 1] = data[channels === 3 ? q + 1 : q];
      rgba[4 * p + 2] = data[channels === 3 ? q + 2 : q];
      rgba[4 * p + 3] = 255;
    }
    const palette = gifenc.quantize(rgba, 256);
    this.encoder.writeFrame(gifenc.applyPalette(rgba, palette), width, height, {
      palette,
      first: this.frames === 0,
      delay: this.opts.delayMs ?? 100,
      repeat: this.opts.loop ?? 0,
    });
    this.flush();
    this.frames++;
  }

  /** Ends the animation and puts it in place; with no frames, writes nothing. */
  close(): void {
    if (this.fd === null) return;
    if (this.frames === 0) return this.abort();
    this.encoder.finish();
    this.flush();
    fsyncSync(this.fd!);
    closeSync(this.fd!);
    this.fd = null;
    renameSync(this.tmp, this.file);
  }

  /** Drops the animation: the target file is left as it was. */
  abort(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
    unlinkSync(this.tmp);
  }

  private flush(): void {
    try {
      writeAll(this.fd!, this.encoder.bytesView());
    } catch (e) {
      this.abort();
      const full = (e as NodeJS.ErrnoException).code === 'ENOSPC' ? 'the disk is full' : (e as Error).message;
      const kept = existsSync(this.file) ? 'the previous file is unchanged' : 'nothing was written';
      throw new Error(`cannot write ${this.file}: ${full}; ${kept}`, { cause: e });
    }
    this.encoder.reset();
  }
}
