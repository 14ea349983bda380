// GET /api/runs/view?run=NAME: one run as its view shows it while it trains and after: its
// charts (the gallery's curves of its system, training beside held-out, then every other
// term it logs), how far it is and the time left, its samples by step (pictures and the texts
// of each evaluation), and the studio's job for it (to stop it) or whether it can resume.
// Read from the folder alone, so a run the CLI or `loom launch` writes shows as well.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { curvesOf, type CompareCurve } from './compare.js';
import { ownStat } from './http.js';
import { resumeRefusal } from './start-job.js';
import { imagesUnder, unfinished, type Job } from './jobs.js';
import type { RunProgress, RunView, Sample, ViewChart } from './page/api-types.js';
import { lastValue, type Metrics, type RunSummary } from './run-state.js';

export type { RunProgress, RunView, Sample, ViewChart };

/** The curves each system's gallery charts draw together; a system not named here has none. */
const GROUPS: Record<string, { y: string; curves: [field: string, name: string][]; log?: boolean }[]> = {
  text: [
    {
      y: 'bits per character',
      curves: [
        ['bpc', 'training'],
        ['train_bpc', 'training, epoch mean'],
        ['val_bpc', 'held-out'],
      ],
    },
  ],
  vae: [
    {
      y: 'nats per image',
      curves: [
        ['loss', 'training loss'],
        ['test_elbo_nats', 'held-out −ELBO'],
      ],
    },
    {
      y: 'held-out, nats per image',
      curves: [
        ['test_rec_nats', 'reconstruction'],
        ['test_kl_nats', 'KL'],
      ],
    },
  ],
  gan: [
    {
      y: 'loss (binary cross-entropy)',
      curves: [
        ['d_loss', 'discriminator'],
        ['a_loss', 'generator'],
      ],
    },
    { y: 'samples the judge reads (share)', curves: [['confident', 'read with p ≥ 0.9']] },
    {
      y: 'Fréchet distance',
      curves: [
        ['fd', 'generated against real'],
        ['real_fd', 'real against real'],
      ],
    },
    {
      y: 'diversity',
      curves: [
        ['diversity', 'generated'],
        ['real_diversity', 'real'],
      ],
    },
  ],
  // A fast style net's terms fall by orders of magnitude: one chart on a log scale, as the gallery's.
  style: [
    {
      y: 'loss',
      curves: [
        ['loss', 'total'],
        ['content_loss', 'content'],
        ['style_loss', 'style'],
        ['tv_loss', 'total variation'],
        ['stability_loss', 'stability'],
      ],
      log: true,
    },
  ],
};

/** Fields that time or count the run rather than measure it: the progress line says them. */
const NOT_TERMS = /^(ms_per_|rank_ms|collective_ms|.*_per_sec$|val_chars$|val_total$|lr$)/;

/** The system's charts, then one chart per other term its log carries. */
export function chartsOf(system: string, curves: CompareCurve[]): ViewChart[] {
  const byField = new Map(curves.map((c) => [c.field, c]));
  const used = new Set<string>();
  const charts: ViewChart[] = [];
  const add = (y: string, fields: [string, string][], log = false) => {
    const drawn = fields.flatMap(([field, name]) => {
      const c = byField.get(field);
      used.add(field);
      return c ? [{ field, name, step: c.step, y: c.y }] : [];
    });
    if (drawn.length) charts.push({ y, curves: drawn, log });
  };
  for (const g of Object.hasOwn(GROUPS, system) ? GROUPS[system] : []) add(g.y, g.curves, g.log);
  for (const c of curves)
    if (!used.has(c.field) && !NOT_TERMS.test(c.field)) add(c.field.replace(/_/g, ' '), [[c.field, c.field]]);
  return charts;
}

/**
 * How far a run is, from its settings' bounds (steps, epochs, minutes) and its log: the
 * latest step and epoch, and the time per step. Its minutes count from `since` where it is
 * given (when the training now under way took the run's lock: each start, a resume too, has
 * its minutes, loading included); else from the log's summed time per step, a floor.
 */
export function progressOf(
  config: Record<string, unknown>,
  metrics: Metrics,
  curves: CompareCurve[],
  since: number | null = null,
  now = Date.now(),
): RunProgress {
  const step = lastValue(metrics, 'step');
  const epoch = lastValue(metrics, 'epoch');
  const ms = lastValue(metrics, 'ms_per_step');
  const times = curves.flatMap((c) => (c.time?.length ? [c.time[c.time.length - 1]] : []));
  const trained = times.length ? Math.max(...times) : null;
  const num = (k: string) =>
    typeof config[k] === 'number' && (config[k] as number) > 0 ? (config[k] as number) : null;
  const bounds: { unit: RunProgress['unit']; done: number; total: number; left: number | null }[] = [];
  const steps = num('steps');
  const epochs = num('epochs');
  const minutes = num('minutes');
  const perStep = ms === null ? null : ms / 1000;
  if (steps && step !== null)
    bounds.push({ unit: 'steps', done: step, total: steps, left: perStep && (steps - step) * perStep });
  if (epochs && epoch !== null && step !== null && epoch > 0)
    bounds.push({
      unit: 'epochs',
      done: epoch,
      total: epochs,
      left: perStep && (epochs - epoch) * (step / epoch) * perStep,
    });
  const spent = since !== null ? Math.max(0, (now - since) / 1000) : trained;
  if (minutes && spent !== null)
    bounds.push({ unit: 'minutes', done: spent / 60, total: minutes, left: minutes * 60 - spent });
  const nearest = bounds.sort((a, b) => b.done / b.total - a.done / a.total)[0];
  const lefts = bounds.flatMap((b) => (b.left === null ? [] : [Math.max(0, b.left)]));
  return {
    step,
    unit: nearest?.unit ?? null,
    done: nearest?.done ?? null,
    total: nearest?.total ?? null,
    fraction: nearest ? Math.min(1, nearest.done / nearest.total) : null,
    trained_s: trained,
    left_s: lefts.length ? Math.min(...lefts) : null,
  };
}

/** When the run's writer took its lock (ms since the epoch), or null without one. */
function lockTime(dir: string): number | null {
  const st = ownStat(path.join(dir, 'run.lock'));
  return st?.isFile() ? Number(st.mtimeMs) : null;
}

/** step-000120.png, epoch-003-grid.png, real.png: its step or epoch, and its kind. */
const TAG = /^(?:step-(\d+)|epoch-(\d+))(?:-([a-z]+))?\.[a-z]+$/;

/** Pictures the page shows as images (a folder's videos are played by its job's form). */
const PICTURE = /\.(png|jpe?g|webp|gif)$/i;

/**
 * The run's samples under samples/: pictures and texts, by step (an epoch's is placed at the
 * step its evaluation logged), oldest first; nothing through a link. A folder of pictures (a
 * dream's, a style transfer's: no system) shows those it holds.
 */
export function samplesOf(
  dir: string,
  prefix: string,
  metrics: Metrics,
  pictureFolder = false,
): { images: Sample[]; texts: Sample[] } {
  const stepOfEpoch = new Map<number, number>();
  for (const r of metrics)
    if (typeof r.epoch === 'number' && Number.isInteger(r.epoch) && typeof r.step === 'number')
      stepOfEpoch.set(r.epoch, r.step);
  const sample = (rel: string): Sample => {
    const name = path.basename(rel);
    const m = TAG.exec(name);
    const epoch = m?.[2] ? Number(m[2]) : null;
    const step = m?.[1] ? Number(m[1]) : epoch !== null ? (stepOfEpoch.get(epoch) ?? null) : null;
    return { file: `${prefix}/${rel}`, step, epoch, kind: m ? (m[3] ?? null) : name.replace(/\.[^.]+$/, '') };
  };
  const byStep = (a: Sample, b: Sample) =>
    (a.step ?? -1) - (b.step ?? -1) || (a.epoch ?? -1) - (b.epoch ?? -1) || a.file.localeCompare(b.file);
  const images = imagesUnder(dir, pictureFolder ? '.' : 'samples')
    .filter((f) => PICTURE.test(f))
    .map(sample)
    .sort(byStep);
  const texts = textsIn(path.join(dir, 'samples')).map((f) => sample(`samples/${f}`));
  return { images, texts: texts.sort(byStep) };
}

/** The .txt files in a folder, each a file itself (never a link). */
function textsIn(folder: string): string[] {
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return [];
  }
  return names.filter((f) => f.endsWith('.txt') && !f.startsWith('.') && ownStat(path.join(folder, f))?.isFile());
}

/** What a run's view shows, from its folder, its log and the studio's newest job for it. */
export function viewOf(
  run: { name: string; prefix: string; dir: string; summary: RunSummary; metrics: Metrics },
  job: Job | undefined,
): RunView {
  const { summary: s, metrics } = run;
  const curves = curvesOf(metrics);
  const live = job && unfinished(job);
  return {
    name: run.name,
    system: s.system,
    state: s.state,
    checkpoint: s.checkpoint,
    config: s.config,
    charts: chartsOf(s.system ?? '', curves),
    progress: progressOf(s.config, metrics, curves, s.state === 'training' ? lockTime(run.dir) : null),
    samples: samplesOf(run.dir, run.prefix, metrics, s.system === null),
    job: live ? { id: job.id, status: job.status } : null,
    resumable: resumeRefusal(run.name, run.dir, s) === null,
  };
}
