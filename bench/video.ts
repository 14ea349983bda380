// Flicker of video stylisation and dreams on a static-camera clip (one photo, fresh sensor
// noise per frame, H.264): mean |out(t) - out(t-1)| / mean |in(t) - in(t-1)|, the issue's
// measure, for fast style nets trained with and without the stability loss and for dreams
// with and without the warm start; the first frame's style scores (colour, texture, content)
// show what the stability costs; a side-by-side GIF of the clips goes to the docs.
// Usage: npm run bench -- video [--steps 300] [--stability 0,1000] [--frames 24] [--gif FILE.webp or .gif]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import { imageGrid, readImage, resize, writeAnimation } from '../src/io/images.js';
import { resolveImage } from '../src/io/builtin-images.js';
import { transformVideo } from '../src/io/video.js';
import { FAST_DEFAULTS, loadStyleNet, trainFastStyle } from '../src/models/style/index.js';
import { scoreStyle } from '../src/models/style/quality.js';
import { DREAM_DEFAULTS, FrameDreamer } from '../src/models/dream/index.js';
import { loadBackbone, loadMobileNetV2 } from '../src/vision/weights.js';
import { printTable } from './util.js';

export interface VideoBenchOptions {
  steps: number;
  stabilities: number[];
  frames: number;
  gif: string;
}

/** A still photo filmed by a static camera: `frames` frames of it with fresh noise each, 12 per second. */
function staticClip(file: string, photo: string, height: number, frames: number): void {
  const r = spawnSync(
    'ffmpeg',
    [
      ...['-v', 'error', '-y', '-loop', '1', '-i', photo],
      ...['-vf', `scale=-2:${height},noise=alls=10:allf=t`, '-frames:v', String(frames), '-r', '12'],
      ...['-c:v', 'libx264', '-crf', '18', '-pix_fmt', 'yuv420p', file],
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`ffmpeg could not make the clip: ${r.stderr}`);
}

export async function videoBench(opts: VideoBenchOptions): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'loom-video-bench-'));
  try {
    const clip = path.join(dir, 'clip.mp4');
    staticClip(clip, resolveImage('builtin:horses'), 192, opts.frames);
    const backbone = loadBackbone('inception');
    const judge = loadMobileNetV2();
    const painting = await readImage(resolveImage('builtin:scream'), { maxSide: 1024 });
    // Every clip's frames, shrunk, for the side-by-side GIF.
    const panels: { name: string; frames: T.Tensor[] }[] = [];
    const thumb = (t: T.Tensor) => T.keep(T.tidy(() => resize(t, 128, Math.round((t.shape[3] * 128) / t.shape[2]))));
    const rows: string[][] = [];
    const run = async (name: string, transform: (f: T.Tensor) => T.Tensor | Promise<T.Tensor>, extra: string[]) => {
      const frames: T.Tensor[] = [];
      let first: { in: T.Tensor; out: T.Tensor } | null = null;
      const t0 = Date.now();
      const r = await transformVideo(clip, path.join(dir, `${panels.length}.mp4`), async (f) => {
        const out = await transform(f);
        frames.push(thumb(out));
        if (!first) first = { in: T.keep(f.clone()), out: T.keep(out.clone()) };
        return out;
      });
      const s = scoreStyle(judge, first!.out, first!.in, painting);
      first!.in.dispose();
      first!.out.dispose();
      rows.push([
        name,
        ...extra,
        r.flicker!.toFixed(3),
        s.colour.toFixed(2),
        s.texture.toFixed(2),
        s.content.toFixed(2),
        ((Date.now() - t0) / r.frames / 1000).toFixed(2),
      ]);
      panels.push({ name, frames });
      console.log(rows[rows.length - 1].join('  '));
    };
    // The clip itself, for the GIF's first column.
    await run('input', (f) => f.clone(), ['-']);
    for (const w of opts.stabilities) {
      const out = path.join(dir, `fast-${w}`);
      const t0 = Date.now();
      await trainFastStyle(
        backbone,
        { ...FAST_DEFAULTS, size: 128, width: 16, batch: 4, steps: opts.steps, stability: w, sampleEvery: opts.steps },
        out,
        {},
      );
      const minutes = ((Date.now() - t0) / 60000).toFixed(1);
      const net = loadStyleNet(out);
      await run(`fast style, stability ${w}`, (f) => T.noGrad(() => net.forward(f)), [`${minutes} min training`]);
      net.dispose();
    }
    const cfg = { ...DREAM_DEFAULTS, octaves: 2, steps: 12 };
    for (const warm of [false, true]) {
      const fd = new FrameDreamer(backbone, cfg, { warm });
      await run(warm ? 'dream, warm start' : 'dream, fresh frames', (f) => fd.next(f), ['octaves 2, steps 12']);
      fd.dispose();
    }
    console.log(
      `\nflicker on a static-camera clip (builtin:horses, ${opts.frames} frames at 192 px, fresh noise each)`,
    );
    printTable(['clip', 'setting', 'flicker', 'colour', 'texture', 'content', 's/frame'], rows);
    // The GIF: every clip side by side, frame by frame.
    const gifFrames = panels[0].frames.map((_, i) =>
      T.tidy(() =>
        imageGrid(
          T.cat(
            panels.map((p) => p.frames[i]),
            0,
          ),
          { cols: panels.length },
        ),
      ),
    );
    await writeAnimation(opts.gif, gifFrames, { delayMs: 83 });
    console.log(`wrote ${opts.gif}: ${panels.map((p) => p.name).join(' | ')}`);
    gifFrames.forEach((f) => f.dispose());
    panels.forEach((p) => p.frames.forEach((f) => f.dispose()));
    painting.dispose();
    backbone.net.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
