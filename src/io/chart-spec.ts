// Charts as Vega-Lite specifications (plain JSON), with no imports at run time, so that the
// studio's page loads this very module and draws its live charts from the same specification
// that run folders, the gallery and the docs are rendered from (src/io/chart.ts).
import type { TopLevelSpec } from 'vega-lite';

export interface Curve {
  name: string;
  x: number[];
  y: number[];
  /** Points in this curve's moving average (the chart's `smooth` when unset; 1: none). */
  smooth?: number;
  /** The strong line's values, where the caller smooths them itself (the studio's slider); else the moving average. */
  smoothed?: (number | null)[];
}

/** The centred moving average of the finite values over `k` points (fewer at the ends). */
function movingAverage(y: number[], k: number): (number | null)[] {
  const half = Math.floor(k / 2);
  return y.map((_, i) => {
    const part = y.slice(Math.max(0, i - half), i + half + 1).filter(Number.isFinite);
    return part.length ? part.reduce((a, b) => a + b, 0) / part.length : null;
  });
}

/**
 * A line chart: each curve's raw values faint, and a centred moving average over `smooth`
 * points (per curve if it says) drawn strong over them; titled axes and a legend naming the
 * curves.
 */
export function lineChartSpec(
  curves: Curve[],
  o: { x: string; y: string; title?: string; smooth?: number; width?: number; height?: number; log?: boolean },
): TopLevelSpec {
  const values = curves.flatMap((c) => {
    const smoothed = c.smoothed ?? movingAverage(c.y, c.smooth ?? o.smooth ?? 9);
    // A curve of a few points (evaluations, not thousands of steps) shows its points too.
    const few = c.x.length <= 60;
    return c.y.map((y, i) => ({
      x: c.x[i],
      y: Number.isFinite(y) ? y : null,
      smoothed: smoothed[i],
      curve: c.name,
      few,
    }));
  });
  const x = { field: 'x', type: 'quantitative', title: o.x } as const;
  const scale = o.log ? { type: 'log' } : {};
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
        encoding: { x, y: { field: 'y', type: 'quantitative', title: o.y, scale }, color },
      },
      {
        mark: { type: 'line', strokeWidth: 2 },
        encoding: { x, y: { field: 'smoothed', type: 'quantitative', title: o.y, scale }, color },
      },
      {
        transform: [{ filter: 'datum.few' }],
        mark: { type: 'point', filled: true, size: 16 },
        encoding: { x, y: { field: 'smoothed', type: 'quantitative', title: o.y, scale }, color },
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
