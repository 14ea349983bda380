// Style's part of `loom demo`: a built-in photo in the style of Munch's Scream (Gatys, L-BFGS).
import path from 'node:path';
import { lineChartSpec, writeChart } from '../../io/chart.js';
import { readImage, writeImage } from '../../io/images.js';
import { resolveImage } from '../../io/builtin-images.js';
import { STYLE_DEFAULTS, transferStyle } from '../../models/style/index.js';
import { deadline, type DemoContext, type DemoEntry } from '../demo.js';

export async function styleDemo(ctx: DemoContext, cap: number): Promise<DemoEntry | null> {
  const { seed, say } = ctx;
  const backbone = ctx.backbone();
  const height = ctx.minutes >= 6 ? 256 : ctx.minutes >= 2 ? 160 : 96;
  say(`style: builtin:horses in the style of builtin:scream at height ${height} for at most ${cap.toFixed(1)} minutes`);
  const t0 = Date.now();
  const content = await readImage(resolveImage('builtin:horses'));
  const painting = await readImage(resolveImage('builtin:scream'));
  const styleCfg = { ...STYLE_DEFAULTS, height, seed };
  let iterations = 0;
  let lastLoss = NaN;
  const terms = { total: [] as number[], content: [] as number[], style: [] as number[], colour: [] as number[] };
  const styled = await transferStyle(backbone, content, [{ image: painting, weight: 1 }], styleCfg, {
    shouldStop: deadline(ctx, cap),
    onIteration: (it) => {
      iterations++;
      lastLoss = it.loss;
      terms.total.push(it.loss);
      terms.content.push(it.content_loss);
      terms.style.push(it.style_loss);
      terms.colour.push(it.colour_loss);
    },
  });
  await writeImage(path.join(ctx.out, 'style-painting.png'), painting);
  await writeImage(path.join(ctx.out, 'style.png'), styled);
  const styleImages = ['style-painting.png', 'style.png'];
  if (iterations > 1) {
    const x = terms.total.map((_, i) => i + 1);
    const curves = Object.entries(terms).map(([name, y]) => ({ name, x, y, smooth: 1 }));
    await writeChart(
      path.join(ctx.out, 'style-losses.png'),
      lineChartSpec(curves, { x: 'L-BFGS iteration', y: 'loss (log scale)', log: true }),
    );
    styleImages.push('style-losses.png');
  }
  for (const t of [content, painting, styled]) t.dispose();
  return {
    system: 'style',
    title: "Neural style transfer: a built-in photo in the style of Munch's Scream",
    settings: `Gatys et al. on the built-in InceptionV3 (content, relative sliced-Wasserstein style on 7 layers from Conv2d_1a to mixed4, colour-statistics and total-variation losses, from the photo in the painting's colours; L-BFGS with ${styleCfg.maxEvals} evaluations per iteration); height ${height}; ${iterations} iterations`,
    seconds: (Date.now() - t0) / 1000,
    images: styleImages,
    texts: [],
    note: `final loss ${Number.isFinite(lastLoss) ? lastLoss.toExponential(3) : 'n/a'}; left: the painting, then the result and its losses per iteration (the total weighted, the terms as they are)`,
  };
}
