// Charts rendered in Node: a Vega-Lite specification (src/io/chart-spec.ts) to SVG by Vega,
// with no browser or canvas, and rasterised by sharp for run folders and the gallery.
import sharp from 'sharp';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from './files.js';

export * from './chart-spec.js';

/** The chart as SVG text. */
export async function chartSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Writes the chart as a PNG (twice the SVG's pixel size, for sharp lines). */
export async function writeChart(file: string, spec: TopLevelSpec): Promise<void> {
  writeFileAtomic(
    file,
    await sharp(Buffer.from(await chartSvg(spec)), { density: 144 })
      .png()
      .toBuffer(),
  );
}
