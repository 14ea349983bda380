// `loom dream <image>`. Thin over src/models/dream and src/vision.
import path from 'node:path';
import * as T from '../../torch/index.js';
import { GifStream } from '../../io/gif-stream.js';
import { pngBytes, readImage, writeAnimation, writeImage } from '../../io/images.js';
import { resolveImage } from '../../io/builtin-images.js';
import { DREAM_OPTIONS, FrameDreamer, dream, dreamConfig, dreamZoom } from '../../models/dream/index.js';
import { cliSpecs, configFromCli } from '../../models/options.js';
import { COMMON, parseCommand, type CommandHelp, type OptSpecs } from '../../cli/args.js';
import { BACKBONE, applyCommon, backboneFromOptions, noteOnStderr, onInterrupt } from '../../cli/common.js';
import { UserError } from '../../cli/errors.js';
import { Progress } from '../../cli/progress.js';
import { prepareOutputFile } from '../../io/files.js';
import { VIDEO_EXT, transformVideo } from '../../io/video.js';
import { existsSync } from 'node:fs';
import { MAX_SIDE } from './system.js';

/** A WebP zoom keeps every frame until the end; a GIF streams them (a bound only against typos). */
const MOST_ZOOM_FRAMES = { webp: 10_000, gif: 100_000_000 };
const DREAM: OptSpecs = {
  out: {
    type: 'string',
    help: 'output image (.png, .jpg, .webp; .gif/.webp with --zoom-frames)',
    default: 'dream.png',
    meta: 'FILE',
  },
  ...cliSpecs(DREAM_OPTIONS),
  ...cliSpecs(MAX_SIDE),
  ...BACKBONE,
  'save-octaves': { type: 'bool', help: "also write each octave's image next to --out" },
  'zoom-frames': {
    type: 'int',
    help: 'write a zoom animation of this many frames (--out .gif streams each frame to the file; .webp holds them)',
  },
  zoom: { type: 'number', help: 'zoom factor between frames', default: 1.05 },
  'warm-start': {
    type: 'bool',
    default: true,
    help: "a video's frames after the first start from the previous frame's dream detail and take --frame-steps steps of one octave (--no-warm-start: each dreamed afresh)",
  },
  'frame-steps': { type: 'int', help: 'steps per video frame after the first (default: a quarter of --steps)' },
  force: { type: 'bool', help: 'overwrite --out if it exists' },
  ...COMMON,
};

const DREAM_HELP: CommandHelp = {
  usage: 'loom dream <image|builtin:NAME> [options]',
  about:
    'DeepDream: gradient ascent on the image to excite chosen layers of a pretrained convnet, over several octaves.',
  options: DREAM,
};

export async function dreamCommand(args: string[]): Promise<void> {
  const parsed = parseCommand(args, DREAM_HELP);
  if (!parsed) return;
  const { values: o, positionals } = parsed;
  if (positionals.length !== 1) throw new UserError('give one image (a file, or builtin:dog, builtin:scream, ...)');
  if (o.device !== 'cpu') throw new UserError('dream runs on the CPU only for now (--device cpu)');
  const zoom = o.zoomFrames !== undefined;
  if (zoom && !/\.(gif|webp)$/i.test(o.out))
    throw new UserError('--zoom-frames writes an animation: give --out a .gif or .webp file');
  const most = /\.webp$/i.test(o.out) ? MOST_ZOOM_FRAMES.webp : MOST_ZOOM_FRAMES.gif;
  if (zoom && !(Number.isInteger(o.zoomFrames) && o.zoomFrames >= 1 && o.zoomFrames <= most))
    throw new UserError(
      `--zoom-frames must be a whole number in 1..${most} for a ${/\.webp$/i.test(o.out) ? 'WebP' : 'GIF'}, got ${o.zoomFrames}`,
    );
  if (zoom && !(o.zoom > 0 && o.zoom <= 4))
    throw new UserError(`--zoom must be a factor above 0 and at most 4, got ${o.zoom}`);
  const video = VIDEO_EXT.test(positionals[0]);
  if (video && !VIDEO_EXT.test(o.out)) throw new UserError('the input is a video; give --out a video file (.mp4)');
  if (video && (zoom || o.maxSide > 0))
    throw new UserError('--zoom-frames and --max-side are for a still image; scale a video before dreaming it');
  if (video && !existsSync(positionals[0])) throw new UserError(`cannot read video ${positionals[0]}: no such file`);
  applyCommon(o);
  prepareOutputFile(o.out, o.force);
  const guide = o.guide === undefined ? null : await readImage(resolveImage(o.guide), { maxSide: 1024 });
  const cfg = dreamConfig(configFromCli(DREAM_OPTIONS, o), guide);
  const image = video
    ? null
    : await readImage(resolveImage(positionals[0]), o.maxSide > 0 ? { maxSide: o.maxSide } : {});
  const backbone = backboneFromOptions(o);
  const progress = new Progress();
  const stop = onInterrupt(() => progress.line('loom: stopping; the image so far will be written', process.stderr));
  const total = cfg.octaves * cfg.steps;
  const t0 = Date.now();
  const ext = path.extname(o.out);
  const hooks = {
    shouldStop: stop,
    onNote: noteOnStderr,
    onStep: (s: { octave: number; step: number; loss: number; ms_per_step: number; height: number; width: number }) =>
      o.json
        ? console.log(JSON.stringify(s))
        : progress.update(
            s.octave * cfg.steps + s.step + 1,
            zoom ? null : total,
            `octave ${s.octave + 1}/${cfg.octaves} ${s.width}x${s.height}  loss ${s.loss.toFixed(3)}  ${s.ms_per_step.toFixed(0)} ms/step`,
          ),
    onOctave: o.saveOctaves
      ? async (i: number, img: T.Tensor) => {
          const f = o.out.slice(0, o.out.length - ext.length) + `.octave${i + 1}${zoom ? '.png' : ext}`;
          await writeImage(f, img);
          if (!o.json) progress.line(`octave ${i + 1}: ${f}`);
        }
      : undefined,
  };
  try {
    if (!image) {
      // A video: frames streamed through ffmpeg, each dreamed as it comes (audio kept).
      const frames = new FrameDreamer(backbone, cfg, { warm: o.warmStart, stepsPerFrame: o.frameSteps });
      try {
        const r = await transformVideo(
          positionals[0],
          o.out,
          (f) => frames.next(f, { shouldStop: stop, onNote: noteOnStderr }),
          {
            shouldStop: stop,
            onFrame: (i, total) =>
              o.json
                ? console.log(JSON.stringify({ frame: i + 1, frames: total }))
                : progress.line(`frame ${i + 1}${total ? ` of ${total}` : ''} dreamed`),
          },
        );
        const flicker = r.flicker === null ? null : Number(r.flicker.toFixed(3));
        if (o.json) console.log(JSON.stringify({ video: positionals[0], out: o.out, frames: r.frames, flicker }));
        else progress.line(`${r.frames} frames; flicker ${flicker} (frame-to-frame change, output / input)`);
      } finally {
        frames.dispose();
      }
    } else if (zoom && ext.toLowerCase() === '.gif') {
      // Each frame goes to the file as it is made: memory stays flat however long the zoom.
      // On an error the frames made so far are still written: they cost minutes each.
      const gif = new GifStream(o.out, { delayMs: 100 });
      try {
        await dreamZoom(backbone, image, cfg, o.zoomFrames, (f) => gif.add(f), { zoom: o.zoom }, hooks);
      } finally {
        gif.close();
      }
    } else if (zoom) {
      // An animated WebP is encoded at once (sharp): the frames wait as PNG bytes.
      const pngs: Buffer[] = [];
      const keep = async (f: T.Tensor) => void pngs.push(await pngBytes(f));
      await dreamZoom(backbone, image, cfg, o.zoomFrames, keep, { zoom: o.zoom }, hooks);
      await writeAnimation(o.out, pngs, { delayMs: 100 });
    } else {
      const out = await dream(backbone, image, cfg, hooks);
      await writeImage(o.out, out);
      out.dispose();
    }
  } finally {
    image?.dispose();
    guide?.dispose();
    backbone.net.dispose();
  }
  progress.clear();
  if (!o.json) console.log(`wrote ${o.out} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
