// DeepDream's part of `loom demo`: a built-in photo dreamed on the built-in InceptionV3.
import path from 'node:path';
import { readImage, writeImage } from '../../io/images.js';
import { resolveImage } from '../../io/builtin-images.js';
import { DREAM_DEFAULTS, dream } from '../../models/dream/index.js';
import { noteOnStderr } from '../../cli/common.js';
import { deadline, type DemoContext, type DemoEntry } from '../demo.js';

export async function dreamDemo(ctx: DemoContext, cap: number): Promise<DemoEntry | null> {
  const { seed, say } = ctx;
  const backbone = ctx.backbone();
  const side = ctx.minutes >= 6 ? 500 : ctx.minutes >= 2 ? 300 : 200;
  say(`dream: DeepDream of builtin:giraffe at ${side} pixels for at most ${cap.toFixed(1)} minutes`);
  const t0 = Date.now();
  const photo = await readImage(resolveImage('builtin:giraffe'), { maxSide: side });
  const dreamCfg = { ...DREAM_DEFAULTS, octaves: side >= 300 ? 3 : 2, seed };
  let dreamSteps = 0;
  const dreamed = await dream(backbone, photo, dreamCfg, {
    shouldStop: deadline(ctx, cap),
    onNote: noteOnStderr,
    onStep: () => void dreamSteps++,
  });
  await writeImage(path.join(ctx.out, 'dream-original.png'), photo);
  await writeImage(path.join(ctx.out, 'dream.png'), dreamed);
  for (const t of [photo, dreamed]) t.dispose();
  return {
    system: 'dream',
    title: 'DeepDream of a built-in photo',
    settings: `InceptionV3 (nsfwjs's ImageNet-initialised weights), layers ${Object.entries(dreamCfg.layers)
      .map(([k, v]) => `${k}=${v}`)
      .join(
        ', ',
      )}; ${dreamCfg.octaves} octaves of scale ${dreamCfg.octaveScale}, up to ${dreamCfg.steps} steps of ${dreamCfg.stepSize}, max loss ${dreamCfg.maxLoss}, jitter ${dreamCfg.jitter}; ${dreamSteps} steps`,
    seconds: (Date.now() - t0) / 1000,
    images: ['dream-original.png', 'dream.png'],
    texts: [],
    note: "left: the photo (from Debian's darknet package), right: the dream",
  };
}
