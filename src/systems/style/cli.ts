// `loom style <content> <style>[:weight] ...`, `loom style train`, `loom style apply`.
// Thin over src/models/style.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import * as T from '../../torch/index.js';
import { readImage, writeImage } from '../../io/images.js';
import { resolveImage } from '../../io/builtin-images.js';
import {
  STYLE_MAX_SIDE,
  STYLE_OPTIONS,
  checkMasks,
  checkStyleConfig,
  checkStyleOptions,
  loadStyleNet,
  transferStyle,
  COLOUR_MATCHES,
  colourMatch,
  type ColourMatch,
  type StyleConfig,
  type StyleImage,
} from '../../models/style/index.js';
import { cliSpecs, configFromCli } from '../../models/options.js';
import { wholeNumber } from '../../models/checks.js';
import { COMMON, helpText, parseCommand, parseOptions, type CommandHelp, type OptSpecs } from '../../cli/args.js';
import { BACKBONE, applyCommon, backboneFromOptions, noteOnStderr, onInterrupt } from '../../cli/common.js';
import { UserError } from '../../cli/errors.js';
import { Progress } from '../../cli/progress.js';
import { makeFolder, prepareOutputFile } from '../../io/files.js';
import { VIDEO_EXT, transformVideo } from '../../io/video.js';
import { trainCommand } from '../../cli/train.js';
import { styleSystem } from './system.js';

const COLOR_MATCH: OptSpecs = cliSpecs({ colorMatch: STYLE_OPTIONS.colorMatch });

/** --color-match's value, checked; null when not given. */
function colorMatchOf(v: string | undefined): ColourMatch | null {
  if (v === undefined) return null;
  if (!(COLOUR_MATCHES as readonly string[]).includes(v))
    throw new UserError(`--color-match takes ${COLOUR_MATCHES.join(', ')}; got '${v}'`);
  return v as ColourMatch;
}

const STYLE: OptSpecs = {
  out: { type: 'string', help: 'output image', default: 'style.png', meta: 'FILE' },
  ...cliSpecs(STYLE_OPTIONS),
  'save-every': { type: 'int', help: 'also write the image every N iterations (0: only the end)', default: 0 },
  force: { type: 'bool', help: 'overwrite --out if it exists' },
  ...BACKBONE,
  ...COMMON,
};
const APPLY: OptSpecs = {
  out: { type: 'string', help: 'output file (one image) or folder', meta: 'PATH' },
  height: {
    type: 'int',
    help: "scale each image to this height first (the net's strokes are a fixed number of pixels, so a smaller image gets bolder ones); default: as it is",
    meta: 'PX',
  },
  ...COLOR_MATCH,
  force: { type: 'bool', help: 'overwrite existing outputs' },
  ...COMMON,
};

const APPLY_HELP: CommandHelp = {
  usage: 'loom style apply <run or checkpoint> <image...> --out PATH',
  about: 'Stylises photos with a trained style network, one forward pass each.',
  options: APPLY,
};

/**
 * "scream.jpg:0.7:sky.png" → the style's file, its weight (1 unless given) and its mask (an
 * image file after the last colon, if any); a Windows-free world, so colons split.
 */
export function styleSpec(spec: string): { file: string; weight: number; mask: string | null } {
  const withMask = /^(.*):([^:]+\.(?:png|jpe?g|gif|webp|bmp|tiff?))$/i.exec(spec);
  const rest = withMask ? withMask[1] : spec;
  const mask = withMask ? withMask[2] : null;
  const m = /^(.*):([0-9.eE+-]+)$/.exec(rest);
  if (!m) return { file: rest, weight: 1, mask };
  const w = Number(m[2]);
  if (!(w > 0)) throw new UserError(`style weight in '${spec}' must be a number > 0`);
  return { file: m[1], weight: w, mask };
}

/** A mask image as one channel in [0, 1] (its luminance; white: the style goes here). */
async function readMask(file: string): Promise<T.Tensor> {
  const img = await readImage(file);
  const m = T.tidy(() => img.mean({ dim: 1, keepdim: true }));
  img.dispose();
  return m;
}

export async function styleCommand(args: string[]): Promise<void> {
  const [verb, ...rest] = args;
  if (verb === 'train') return trainCommand(styleSystem, rest);
  if (verb === 'apply') return styleApply(rest);
  const { values: o, positionals } = parseOptions(args, STYLE);
  if (o.help || verb === undefined) {
    return void console.log(
      helpText(
        'loom style <content> <style>[:weight][:mask.png] [<style>[:weight][:mask.png] ...] [options]\n       loom style train --style IMAGE --images SRC --out DIR\n       loom style apply <run> <image...> --out PATH',
        "Neural style transfer (Gatys et al.: content, Gram style and total-variation losses, L-BFGS): the book's method with --backbone vgg19; on the built-in InceptionV3, relative style losses, a colour-statistics loss and a start in the painting's colours. Images may be files or builtin:NAME (builtin:scream is Munch's painting). A mask after a style (an image of the photo's shape; white: this style, black: not) confines it to a region: photo.jpg a.jpg:sky.png b.jpg:ground.png.",
        STYLE,
      ),
    );
  }
  if (positionals.length < 2) throw new UserError('give a content image and at least one style image');
  const cfg: StyleConfig = { ...configFromCli(STYLE_OPTIONS, o), colorMatch: colorMatchOf(o.colorMatch) };
  // The settings' own checks come before the images are read: bad input, exit 2.
  try {
    checkStyleOptions(cfg);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  if (o.device !== 'cpu') throw new UserError('style runs on the CPU only for now (--device cpu)');
  applyCommon(o);
  prepareOutputFile(o.out, o.force);
  const content = await readImage(resolveImage(positionals[0]));
  const styles: StyleImage[] = [];
  try {
    for (const spec of positionals.slice(1)) {
      const { file, weight, mask } = styleSpec(spec);
      const image = await readImage(resolveImage(file), { maxSide: 1024 });
      styles.push({ image, weight });
      if (mask) styles[styles.length - 1].mask = await readMask(mask);
    }
    checkMasks(styles, content.shape[2], content.shape[3]);
  } catch (e) {
    content.dispose();
    styles.forEach((st) => [st.image, st.mask].forEach((t) => t?.dispose()));
    throw e;
  }
  const backbone = backboneFromOptions(o);
  const resolved = checkStyleConfig(cfg, styles, backbone);
  const progress = new Progress();
  const stop = onInterrupt(() =>
    progress.line('loom: stopping; the best image so far will be written', process.stderr),
  );
  if (!o.json)
    progress.line(
      `${backbone.net.arch}: content ${resolved.content} x ${resolved.weights.content}, style ${resolved.style.map((l, i) => (resolved.styleShares[i] === 1 ? l : `${l}=${resolved.styleShares[i]}`)).join('+')} x ${resolved.weights.style}, tv x ${resolved.weights.tv}, colour x ${resolved.weights.colour}; start: ${resolved.init}`,
    );
  const ext = path.extname(o.out);
  const total = cfg.scales * (cfg.optimizer === 'lbfgs' ? resolved.iterations : resolved.iterations * cfg.maxEvals);
  let done = 0;
  const t0 = Date.now();
  try {
    const out = await transferStyle(backbone, content, styles, cfg, {
      shouldStop: stop,
      onNote: noteOnStderr,
      onIteration: async (it, img) => {
        done++;
        if (o.json) console.log(JSON.stringify(it));
        else
          progress.update(
            done,
            total,
            `scale ${it.scale + 1}/${cfg.scales} ${it.width}x${it.height}  loss ${it.loss.toExponential(3)} (content ${it.content_loss.toExponential(2)}, style ${it.style_loss.toExponential(2)}, tv ${it.tv_loss.toExponential(2)}, colour ${it.colour_loss.toExponential(2)})  ${it.ms_per_eval.toFixed(0)} ms/eval`,
          );
        if (o.saveEvery > 0 && (it.iteration + 1) % o.saveEvery === 0) {
          await writeImage(
            o.out.slice(0, o.out.length - ext.length) +
              `.s${it.scale + 1}.it${String(it.iteration + 1).padStart(3, '0')}${ext || '.png'}`,
            img,
          );
        }
      },
    });
    await writeImage(o.out, out);
    out.dispose();
  } finally {
    content.dispose();
    styles.forEach((st) => [st.image, st.mask].forEach((t) => t?.dispose()));
    backbone.net.dispose();
  }
  progress.clear();
  if (!o.json) console.log(`wrote ${o.out} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

async function styleApply(args: string[]): Promise<void> {
  const parsed = parseCommand(args, APPLY_HELP);
  if (!parsed) return;
  const { values: o, positionals } = parsed;
  if (positionals.length < 2) throw new UserError('give a trained style run (or checkpoint) and at least one image');
  if (!o.out) throw new UserError('--out is required (a file for one image, a folder for several)');
  applyCommon(o);
  if (o.height !== undefined) {
    wholeNumber('height', o.height, 16);
    if (o.height > STYLE_MAX_SIDE) throw new UserError(`--height must be at most ${STYLE_MAX_SIDE}, got ${o.height}`);
  }
  const match = colorMatchOf(o.colorMatch);
  const [source, ...images] = positionals;
  if (o.height !== undefined && images.some((f) => VIDEO_EXT.test(f)))
    throw new UserError("--height is for images; a video keeps its frames' size");
  const many = images.length > 1 || (existsSync(o.out) && statSync(o.out).isDirectory());
  if (many) makeFolder(o.out);
  // One output file: checked before the network loads and the work starts.
  else prepareOutputFile(o.out, o.force);
  using net = loadStyleNet(source);
  const stop = onInterrupt(() => console.error('loom: stopping; the frames made so far will be written'));
  for (const spec of images) {
    if (VIDEO_EXT.test(spec)) {
      // A video: frames streamed through ffmpeg, written as they come; audio kept.
      const target = many ? path.join(o.out, `${path.basename(spec, path.extname(spec))}.mp4`) : o.out;
      if (!VIDEO_EXT.test(target))
        throw new UserError(`${spec} is a video; give --out a video file (.mp4) or a folder`);
      if (existsSync(target) && !o.force) throw new UserError(`${target} exists; choose another --out or add --force`);
      if (!existsSync(spec)) throw new UserError(`cannot read video ${spec}: no such file`);
      const progress = new Progress();
      const t0 = performance.now();
      const r = await transformVideo(
        spec,
        target,
        (frame) =>
          T.noGrad(() => {
            const out = net.forward(frame);
            if (!match) return out;
            const kept = colourMatch(out, frame, match);
            out.dispose();
            return kept;
          }),
        {
          shouldStop: stop,
          onFrame: (i, total) =>
            o.json
              ? console.log(JSON.stringify({ frame: i + 1, frames: total }))
              : progress.update(i + 1, total, `frame ${i + 1}`),
        },
      );
      progress.clear();
      const ms = (performance.now() - t0) / r.frames;
      const flicker = r.flicker === null ? null : Number(r.flicker.toFixed(3));
      if (o.json)
        console.log(JSON.stringify({ video: spec, out: target, frames: r.frames, ms_per_frame: ms, flicker }));
      else
        console.log(
          `${target}: ${r.frames} frames of ${r.info.width}x${r.info.height}, ${ms.toFixed(0)} ms a frame${flicker === null ? '' : `; flicker ${flicker} (frame-to-frame change, output / input)`}`,
        );
      continue;
    }
    const file = resolveImage(spec);
    const target = many ? path.join(o.out, `${path.basename(file, path.extname(file))}.png`) : o.out;
    if (existsSync(target) && !o.force) throw new UserError(`${target} exists; choose another --out or add --force`);
    const img = await readImage(file, { height: o.height });
    const t0 = performance.now();
    const y = T.noGrad(() => {
      const out = net.forward(img);
      if (!match) return out;
      const kept = colourMatch(out, img, match);
      out.dispose();
      return kept;
    });
    const ms = performance.now() - t0;
    await writeImage(target, y);
    const [, , h, w] = img.shape;
    for (const t of [img, y]) t.dispose();
    if (o.json) console.log(JSON.stringify({ image: file, out: target, width: w, height: h, ms }));
    else console.log(`${target}: ${w}x${h} in ${ms.toFixed(0)} ms`);
  }
}
