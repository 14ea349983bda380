// GET /api/runs/compare?run=A&run=B...: two or more runs of one system side by side: every
// curve each one logs (by step, and by training time where its log carries the time per
// step), and their settings with the ones that differ marked.
import { HttpError } from './http.js';
import { HEADLINES, type Metrics, type RunState } from './run-state.js';
import type { RunFolders } from './runs.js';

/** The most runs one comparison takes. */
export const COMPARE_LIMIT = 8;
/** Each curve is thinned to at most this many points (every k-th, and the last). */
export const CURVE_POINTS = 2000;

/** Log fields that place a record rather than measure the run. */
const NOT_CURVES = new Set(['step', 'epoch', 'elapsed_s', 'processes', 'global_batch', 'judge_accuracy']);

export interface CompareCurve {
  field: string;
  step: number[];
  /** Seconds of training at each point, summed from ms_per_step; null where the log has no time. */
  time: number[] | null;
  y: number[];
}

export interface CompareAnswer {
  system: string;
  /** Every field some run logs as a curve, the system's headline fields first. */
  fields: string[];
  runs: { name: string; state: RunState; curves: CompareCurve[] }[];
  /** Each setting of any of the runs (config.json), its value per run (null: not set) and whether they differ. */
  settings: { name: string; values: unknown[]; differs: boolean }[];
}

/** A log's curves: each numeric field over the records with a step. */
export function curvesOf(metrics: Metrics): CompareCurve[] {
  const curves = new Map<string, { step: number[]; time: number[]; y: number[] }>();
  let seconds = 0;
  let lastStep = 0;
  let timed = false;
  for (const r of metrics) {
    const step = r.step;
    if (typeof step !== 'number' || !Number.isFinite(step)) continue;
    // The time per step covers the steps since the last line that had one.
    if (typeof r.ms_per_step === 'number' && Number.isFinite(r.ms_per_step)) {
      seconds += (r.ms_per_step / 1000) * Math.max(0, step - lastStep);
      lastStep = step;
      timed = true;
    }
    for (const [field, v] of Object.entries(r)) {
      if (NOT_CURVES.has(field) || typeof v !== 'number' || !Number.isFinite(v)) continue;
      let c = curves.get(field);
      if (!c) curves.set(field, (c = { step: [], time: [], y: [] }));
      c.step.push(step);
      c.time.push(seconds);
      c.y.push(v);
    }
  }
  return [...curves].map(([field, c]) => {
    const k = Math.ceil(c.step.length / CURVE_POINTS);
    const keep = (_: number, i: number, a: number[]) => i % k === 0 || i === a.length - 1;
    return {
      field,
      step: c.step.filter(keep),
      time: timed ? c.time.filter(keep) : null,
      y: c.y.filter(keep),
    };
  });
}

/** Settings side by side: every key any run has (but `system`), in the order first seen. */
export function settingsOf(configs: Record<string, unknown>[]): CompareAnswer['settings'] {
  const names = [...new Set(configs.flatMap((c) => Object.keys(c)))].filter((k) => k !== 'system');
  return names.map((name) => {
    const values = configs.map((c) => (Object.hasOwn(c, name) ? c[name] : null));
    return { name, values, differs: new Set(values.map((v) => JSON.stringify(v))).size > 1 };
  });
}

export function compareRuns(runs: RunFolders, names: string[]): CompareAnswer {
  const asked = [...new Set(names)];
  if (asked.length < 2) throw new HttpError(400, 'choose two or more runs to compare');
  if (asked.length > COMPARE_LIMIT) throw new HttpError(400, `compare at most ${COMPARE_LIMIT} runs at once`);
  const read = asked.map((name) => ({ name, ...runs.read(name) }));
  const systems = read.map((r) => r.summary.system ?? 'no system');
  if (new Set(systems).size > 1)
    throw new HttpError(
      400,
      `only runs of one system compare: ${read.map((r, i) => `${r.name} is ${systems[i]}`).join(', ')}`,
    );
  const system = systems[0];
  const curves = read.map((r) => curvesOf(r.metrics));
  const headline = (Object.hasOwn(HEADLINES, system) ? HEADLINES[system] : []).map(([f]) => f);
  const logged = [...new Set(curves.flat().map((c) => c.field))];
  const fields = [...headline.filter((f) => logged.includes(f)), ...logged.filter((f) => !headline.includes(f))];
  return {
    system,
    fields,
    runs: read.map((r, i) => ({ name: r.name, state: r.summary.state, curves: curves[i] })),
    settings: settingsOf(read.map((r) => r.summary.config)),
  };
}
