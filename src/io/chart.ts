// Charts as Vega-Lite specifications (plain JSON): rendered to SVG in Node by Vega, with no
// browser or canvas, and rasterised by sharp for run folders and the gallery. A web page can
// draw the same specification with vega-embed.
import sharp from 'sharp';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface Curve {
  name: string;
  x: number[];
  y: number[];
}

/**
 * A line chart: each curve's raw values faint, and a centred moving average over `smooth`
 * points drawn strong over them; titled axes and a legend naming the curves.
 */
export function lineChartSpec(
  curves: Curve[],
  o: { x: string; y: string; title?: string; smooth?: number; width?: number; height?: number },
): TopLevelSpec {
  const values = curves.flatMap((c) =>
    c.y.map((y, i) => ({ x: c.x[i], y: Number.isFinite(y) ? y : null, curve: c.name })),
  );
  const half = Math.floor((o.smooth ?? 9) / 2);
  const x = { field: 'x', type: 'quantitative', title: o.x } as const;
  const color = {
    field: 'curve',
    type: 'nominal',
    title: null,
    sort: curves.map((c) => c.name),
    legend: { labelLimit: 400, symbolOpacity: 1, symbolStrokeWidth: 3 },
  } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(o.title ? { title: o.title } : {}),
    width: o.width ?? 480,
    height: o.height ?? 240,
    background: 'white',
    data: { values },
    layer: [
      {
        mark: { type: 'line', opacity: 0.25 },
        encoding: { x, y: { field: 'y', type: 'quantitative', title: o.y }, color },
      },
      {
        transform: [
          {
            window: [{ op: 'mean', field: 'y', as: 'smoothed' }],
            frame: [-half, half],
            groupby: ['curve'],
            sort: [{ field: 'x' }],
          },
        ],
        mark: { type: 'line', strokeWidth: 2 },
        encoding: { x, y: { field: 'smoothed', type: 'quantitative', title: o.y }, color },
      },
    ],
  } as TopLevelSpec;
}

/**
 * A scatter plot of 2-D points [x0, y0, x1, y1, ...] coloured by label, with a legend of the
 * labels' names, square.
 */
export function scatterSpec(
  points: ArrayLike<number>,
  labels: ArrayLike<number>,
  o: { x: string; y: string; names?: string[]; size?: number },
): TopLevelSpec {
  const values = Array.from({ length: labels.length }, (_, i) => ({
    x: points[2 * i],
    y: points[2 * i + 1],
    label: o.names?.[labels[i]] ?? String(labels[i]),
  }));
  const side = o.size ?? 480;
  const names = o.names ?? [...new Set(values.map((v) => v.label))].sort();
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: side,
    height: side,
    background: 'white',
    data: { values },
    mark: { type: 'circle', size: 8, opacity: 0.6 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: o.x, scale: { zero: false } },
      y: { field: 'y', type: 'quantitative', title: o.y, scale: { zero: false } },
      color: { field: 'label', type: 'nominal', title: null, sort: names, scale: { scheme: 'tableau10' } },
    },
  } as TopLevelSpec;
}

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
  await sharp(Buffer.from(await chartSvg(spec)), { density: 144 })
    .png()
    .toFile(file);
}
