// What the page shows of a job: its status, log lines, chart, pictures and time left, from the
// server's event stream, and a button that opens its run in the runs tab.
import { addPoints, resetChart, type LogRecord } from './charts.js';
import { el, fileUrl, isVideo, leftWords, optional, setStatus } from './dom.js';
import { formatRecord } from './log-format.js';
import { showRun } from './run-view.js';

export interface Job {
  id: string;
  /** The job's name (the form's): text, dream, style-video, ... */
  system: string;
  status: string;
  error?: string;
  /** Where it writes, relative to the studio's root: runs/<name> for its own runs. */
  folder?: string;
}
type ServerEvent =
  | { type: 'hello' }
  | { type: 'job'; job: Job }
  | { type: 'log'; job: Job; record: LogRecord }
  | { type: 'file'; job: Job; file: string };

/** Each form's latest job, by the job's name. */
export const jobs = new Map<string, Job>();
/**
 * What a job will do, for the time left: how many of `unit` in all (0: unknown), counted by
 * that log field ('octave-step': a dream's steps over its octaves, `octaves` of them).
 */
export interface Plan {
  total: number;
  unit: string;
  octaves: number;
}
const plans = new Map<string, Plan & { started: number }>();
/** What to do when a job has finished (the run lists change). */
const whenDone: (() => void)[] = [];
export const onJobDone = (f: () => void): void => void whenDone.push(f);

/** Clears a form's log, chart and pictures for a new job. */
export function startView(name: string, plan: Plan): void {
  resetChart(name);
  const log = optional(name + '-log');
  if (log) log.textContent = '';
  plans.set(name, { started: 0, ...plan });
  const imgs = optional(name + '-images');
  if (imgs) imgs.textContent = '';
  const bar = optional(name + '-bar') as HTMLProgressElement | null;
  if (bar) bar.hidden = true;
}

export function listen(): void {
  const events = new EventSource('/api/events');
  events.onmessage = (m: MessageEvent<string>) => {
    const e = JSON.parse(m.data) as ServerEvent;
    if (e.type === 'hello') return;
    const name = e.job.system;
    const current = jobs.get(name);
    if (current && current.id !== e.job.id) return;
    jobs.set(name, e.job);
    if (e.type === 'job') {
      setStatus(name, e.job.status + (e.job.error ? ': ' + e.job.error : ''), e.job.status);
      offerRun(name, e.job);
      if (e.job.status === 'done') for (const f of whenDone) f();
    } else if (e.type === 'log') onLog(name, e.record);
    else if (e.type === 'file') onFile(name, e.file);
  };
}

/** A button beside the form's status that opens the job's run in the runs tab (its charts, samples, resume). */
function offerRun(name: string, job: Job): void {
  const status = optional(name + '-status');
  const run = /^runs\/([^/]+)$/.exec(job.folder ?? '')?.[1];
  if (!status || !run) return;
  let open = optional(name + '-open') as HTMLButtonElement | null;
  if (!open) {
    open = el('button', '', 'open its run');
    open.id = name + '-open';
    status.before(open);
  }
  open.title = `${run} in the runs tab: its charts, progress and samples`;
  open.onclick = () => {
    document.querySelector<HTMLButtonElement>('[role=tab][data-tab=runs]')?.click();
    void showRun(run);
  };
}

const num = (r: LogRecord, k: string): number | undefined => (typeof r[k] === 'number' ? (r[k] as number) : undefined);

function onLog(name: string, r: LogRecord): void {
  const log = optional(name + '-log');
  if (log) {
    log.textContent += formatRecord(r) + '\n';
    log.scrollTop = log.scrollHeight;
  }
  addPoints(name, r);
  const bits: string[] = [];
  if (r.step !== undefined) bits.push('step ' + r.step);
  const iteration = num(r, 'iteration');
  if (iteration !== undefined) bits.push('iteration ' + (iteration + 1));
  const octave = num(r, 'octave');
  if (octave !== undefined) bits.push('octave ' + (octave + 1));
  const msStep = num(r, 'ms_per_step');
  if (msStep) bits.push(msStep.toFixed(0) + ' ms/step');
  const msEval = num(r, 'ms_per_eval');
  if (msEval) bits.push(msEval.toFixed(0) + ' ms/eval');
  const ranks = r.rank_ms_per_step;
  if (Array.isArray(ranks)) bits.push(ranksNote(r, ranks as number[]));
  const frame = num(r, 'frame');
  const frames = num(r, 'frames');
  if (frame !== undefined) bits.push('frame ' + frame + (frames ? ' of ' + frames : ''));
  const bar = optional(name + '-bar') as HTMLProgressElement | null;
  if (bar && frame !== undefined && frames) {
    // A video: a bar per frame, and the time left from the frames done so far.
    bar.hidden = false;
    [bar.max, bar.value] = [frames, frame];
    const p = plans.get(name) ?? { started: 0, total: 0, unit: 'frame', octaves: 1 };
    plans.set(name, p);
    if (!p.started) p.started = Date.now();
    p.total = 0; // a frame's own steps say nothing of the video's time left
    if (frame < frames) bits.push(leftWords((((Date.now() - p.started) / 1000) * (frames - frame)) / frame));
  }
  const left = timeLeft(name, r);
  if (left) bits.push(left);
  if (bits.length) setStatus(name, 'running: ' + bits.join(', '), 'running');
}

/**
 * A data-parallel job in a few words: its processes, each rank's time per step (a slow rank
 * holds the others back), the time in collectives, the global batch and throughput.
 */
function ranksNote(r: LogRecord, ranks: number[]): string {
  const per = ranks.map((ms, i) => `rank ${i} ${ms.toFixed(0)}`).join(', ');
  const n = (k: string): number => num(r, k) ?? 0;
  const rate = n('chars_per_sec')
    ? Math.round(n('chars_per_sec')).toLocaleString('en') + ' chars/s'
    : Math.round(n('images_per_sec') || (n('global_batch') * 1000) / n('ms_per_step')) + ' images/s';
  return `${ranks.length} processes (ms/step: ${per}; collectives ${n('collective_ms_per_step').toFixed(0)}), global batch ${n('global_batch')}, ${rate}`;
}

/** Time left from the elapsed time and the fraction done (steps, octave steps, iterations or epochs). */
function timeLeft(name: string, r: LogRecord): string {
  const p = plans.get(name);
  if (!p || !p.total) return '';
  if (!p.started) p.started = Date.now();
  const [step, octave, iteration] = ['step', 'octave', 'iteration'].map((k) => num(r, k));
  const done =
    p.unit === 'octave-step'
      ? octave !== undefined && step !== undefined
        ? octave * (p.total / p.octaves) + step + 1
        : undefined
      : p.unit === 'iteration'
        ? iteration !== undefined
          ? iteration + 1
          : undefined
        : num(r, p.unit);
  if (done === undefined || !(done > 0) || done >= p.total) return '';
  return leftWords((((Date.now() - p.started) / 1000) * (p.total - done)) / done);
}

function onFile(name: string, file: string): void {
  const box = optional(name + '-images');
  if (!box) return;
  const a = el('a');
  a.href = fileUrl(file);
  a.download = file.split('/').pop() ?? file;
  a.title = 'download ' + a.download;
  if (isVideo(file)) {
    // A video plays in the page; the link under it downloads it.
    const v = el('video');
    [v.src, v.controls, v.loop] = [fileUrl(file), true, true];
    a.textContent = 'download ' + a.download;
    const fig = el('figure');
    fig.append(v, a);
    box.prepend(fig);
    return;
  }
  const img = el('img');
  img.src = fileUrl(file);
  // Its file's name says which picture it is (an octave's, a step's): the link's name too.
  img.alt = a.download;
  a.append(img);
  box.prepend(a);
  while (box.children.length > 8) box.lastElementChild?.remove();
}
