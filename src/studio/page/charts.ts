// Live charts: the Vega-Lite specification that run folders and the gallery are drawn from
// (src/io/chart-spec.ts, loaded as it is), drawn here by Vega; all from node_modules.
import { loadScript, optional } from './dom.js';
import { smooth } from './smoothing.js';

/** The smoothing of a form's chart: the run view's slider where it starts. */
const FORM_SMOOTHING = 0.6;

export type LogRecord = Record<string, unknown>;
export interface Curve {
  name: string;
  x: number[];
  y: number[];
  /** The strong line, smoothed by the page (else the specification's moving average). */
  smoothed?: (number | null)[];
}
/** How a chart is drawn: axis titles, size, smoothing (points in the moving average) and a log scale. */
export interface ChartLook {
  x: string;
  y: string;
  width?: number;
  height?: number;
  smooth?: number;
  log?: boolean;
}
type LineChartSpec = (curves: Curve[], o: ChartLook) => unknown;
interface Vega {
  vega: {
    parse(spec: unknown): unknown;
    View: new (
      runtime: unknown,
      o: { renderer: 'svg'; container: HTMLElement },
    ) => { runAsync(): Promise<unknown>; finalize(): void };
  };
  vegaLite: { compile(spec: unknown): { spec: unknown } };
}
interface ChartKind {
  /** The x field ('': the record's count), its title unless xTitle, the y title, and log fields drawn under names. */
  x: string;
  xTitle?: string;
  y: string;
  curves: [string, string][];
}
/** Per job: which log fields are drawn; a job not named here draws its loss by step. */
const CHARTS: Record<string, ChartKind> = {
  text: {
    x: 'step',
    y: 'bits per character',
    curves: [
      ['bpc', 'training'],
      ['val_bpc', 'held-out'],
    ],
  },
  vae: {
    x: 'step',
    y: 'nats per image',
    curves: [
      ['loss', 'training loss'],
      ['test_elbo_nats', 'test -ELBO'],
    ],
  },
  gan: {
    x: 'step',
    y: 'loss (binary cross-entropy)',
    curves: [
      ['d_loss', 'discriminator'],
      ['a_loss', 'generator'],
    ],
  },
  dream: { x: '', xTitle: 'step (all octaves)', y: 'loss', curves: [['loss', 'loss']] },
  style: { x: 'iteration', y: 'loss', curves: [['loss', 'total loss']] },
  'style-video': { x: 'frame', y: '', curves: [] },
};
const chartOf = (job: string): ChartKind =>
  Object.hasOwn(CHARTS, job) ? CHARTS[job] : { x: 'step', y: 'loss', curves: [['loss', 'loss']] };

const curves = new Map<string, Map<string, Curve>>();
const CHART_SPEC_URL = '/lib/chart-spec.js';
let chartKit: Promise<{ v: Vega; lineChartSpec: LineChartSpec }> | null = null;
function loadChartKit(): Promise<{ v: Vega; lineChartSpec: LineChartSpec }> {
  chartKit ??= (async () => {
    await loadScript('/vendor/vega/vega.min.js');
    await loadScript('/vendor/vega-lite/vega-lite.min.js');
    const { lineChartSpec } = (await import(CHART_SPEC_URL)) as { lineChartSpec: LineChartSpec };
    return { v: window as unknown as Vega, lineChartSpec };
  })();
  return chartKit;
}

/** Forgets a job's curves (a new job of that form starts) and clears its chart. */
export function resetChart(job: string): void {
  curves.set(job, new Map());
  drawChart(job);
}

/** A log record's values onto its job's curves, drawn soon. */
export function addPoints(job: string, r: LogRecord): void {
  const c = chartOf(job);
  const m = curves.get(job) ?? new Map<string, Curve>();
  curves.set(job, m);
  let added = false;
  for (const [field, name] of c.curves) {
    const y = r[field];
    if (typeof y !== 'number') continue;
    const curve = m.get(name) ?? { name, x: [], y: [] };
    m.set(name, curve);
    const x = r[c.x];
    curve.x.push(typeof x === 'number' ? x : curve.x.length);
    curve.y.push(y);
    added = true;
  }
  if (added) drawChart(job);
}

const drawn = new Map<string, { finalize(): void }>();
const chartDue = new Map<string, number>();
/** Draws the job's chart at most twice a second. */
function drawChart(job: string): void {
  if (chartDue.get(job)) return;
  chartDue.set(
    job,
    window.setTimeout(() => {
      chartDue.set(job, 0);
      void drawNow(job);
    }, 500),
  );
}
async function drawNow(job: string): Promise<void> {
  const box = optional(job + '-chart');
  const shown = [...(curves.get(job)?.values() ?? [])];
  if (!box) return;
  drawn.get(job)?.finalize();
  box.textContent = ''; // empty: its placeholder says what will appear
  if (!shown.length) return;
  const { v, lineChartSpec } = await loadChartKit();
  const c = chartOf(job);
  // Smoothed as a run's view smooths at first (TensorBoard's debiased average), so a form's
  // chart and the run's view of the same job draw the same line.
  const smoothed = shown.map((s) => ({ ...s, smoothed: smooth(s.y, FORM_SMOOTHING) }));
  const spec = lineChartSpec(smoothed, { x: c.xTitle ?? c.x, y: c.y, width: 340, height: 140 });
  const view = new v.vega.View(v.vega.parse(v.vegaLite.compile(spec).spec), { renderer: 'svg', container: box });
  drawn.set(job, view);
  await view.runAsync();
}

const views = new WeakMap<HTMLElement, { finalize(): void }>();
const drawing = new WeakMap<HTMLElement, number>();
/** Draws `shown` into `box` (a chart of its own, such as the compare view's), replacing what it held. */
export async function drawCurves(box: HTMLElement, shown: Curve[], look: ChartLook): Promise<void> {
  const turn = (drawing.get(box) ?? 0) + 1;
  drawing.set(box, turn);
  const { v, lineChartSpec } = await loadChartKit();
  if (drawing.get(box) !== turn) return; // a later call draws this box
  views.get(box)?.finalize();
  views.delete(box);
  box.textContent = ''; // empty: its placeholder says what will appear
  if (!shown.length) return;
  const spec = lineChartSpec(shown, look);
  const view = new v.vega.View(v.vega.parse(v.vegaLite.compile(spec).spec), { renderer: 'svg', container: box });
  views.set(box, view);
  await view.runAsync();
}
