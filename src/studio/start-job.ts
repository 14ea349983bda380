// A job from the page's form: the job's name and option values become a `loom ...` command
// line. Every option is one the system's studio job declares, each value is checked for its
// kind, and files are named as the browser may name them (built-in names, uploads, runs).
import path from 'node:path';
import { freePort } from '../distributed/index.js';
import { makeFolder } from '../io/files.js';
import type { StudioJob } from '../systems/system.js';
import { HttpError, ownStat } from './http.js';
import type { Job, JobQueue } from './jobs.js';
import type { RunSummary } from './run-state.js';
import type { RunFolders } from './runs.js';
import {
  BUILTIN_DATA,
  jobNamed,
  jobNames,
  mostProcesses,
  systemsAnswer,
  trainerTakes,
  trainJob,
} from './systems-api.js';
import { isVideo, type Uploads } from './uploads.js';

/** Kinds the CLI takes as positional arguments (after the options). */
const POSITIONAL = ['image', 'media', 'video', 'run', 'mask'];

/**
 * `loom launch ... --` for a job of several processes (at most one per core), on a free
 * loopback port; nothing for one process.
 */
async function launchArgs(job: StudioJob, processes: unknown): Promise<string[]> {
  if (processes === undefined || processes === null || processes === '' || Number(processes) === 1) return [];
  const most = mostProcesses();
  const n = Number(processes);
  if (!job.dataParallel) {
    const parallel = systemsAnswer().flatMap((s) => s.jobs.filter((j) => j.dataParallel).map((j) => j.name));
    throw new HttpError(400, `only ${parallel.join(', ')} train on several processes`);
  }
  if (!Number.isInteger(n) || n < 1 || n > most)
    throw new HttpError(400, `processes must be a whole number from 1 to ${most} (this machine's cores)`);
  return ['launch', '--nproc-per-node', String(n), '--master-port', String(await freePort()), '--'];
}

/** A plain value of an option: a word, or a number (a whole one for 'int'). */
function plainValue(k: string, kind: string, v: unknown): string {
  const s = String(v);
  const ok =
    kind === 'word'
      ? /^[A-Za-z0-9_.:,=+@-]{1,200}$/.test(s) && !s.startsWith('-') && !s.includes('..') && !s.includes('/')
      : Number.isFinite(Number(s)) && (kind !== 'int' || Number.isInteger(Number(s)));
  if (!ok) throw new HttpError(400, `option ${k} has a bad value ${JSON.stringify(v)}`);
  return s;
}

export interface JobStarter {
  root: string;
  queue: JobQueue;
  runs: RunFolders;
  uploads: Uploads;
}

const refuseWhenFull = (queue: JobQueue): void => {
  if (queue.full)
    throw new HttpError(429, `the studio holds at most ${queue.limit} waiting or running jobs; stop one or wait`);
};

/** POST /api/jobs: `{ system: <job name>, options: { <flag>: value } }` queued as a CLI child. */
export async function startJob({ root, queue, runs, uploads }: JobStarter, body: Record<string, any>): Promise<Job> {
  refuseWhenFull(queue);
  const spec = typeof body.system === 'string' ? jobNamed(body.system) : undefined;
  if (!spec) throw new HttpError(400, `unknown system ${JSON.stringify(body.system)}; use ${jobNames().join(', ')}`);
  const options = (body.options ?? {}) as Record<string, unknown>;
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new HttpError(400, 'options must be an object');
  const args = [...spec.verb];
  const launch = await launchArgs(spec, options.processes);
  for (const [k, v] of Object.entries(options)) {
    if (k === 'processes') continue;
    const kind = Object.hasOwn(spec.options, k) ? spec.options[k] : undefined;
    if (!kind)
      throw new HttpError(
        400,
        `${body.system} has no option ${JSON.stringify(k)}; it takes ${Object.keys(spec.options).join(', ')}`,
      );
    if (v === null || v === '' || v === undefined || POSITIONAL.includes(kind)) continue;
    if (kind === 'guide') args.push(`--${k}`, uploads.imageArg(v, k));
    else if (kind === 'bool') {
      if (v === true) args.push(`--${k}`);
    } else if (kind === 'corpus') args.push(`--${k}`, uploads.corpusArg(v));
    else if (kind === 'data') {
      if (typeof v !== 'string' || !(BUILTIN_DATA as readonly string[]).includes(v))
        throw new HttpError(400, `${k} must be one of ${BUILTIN_DATA.join(', ')}`);
      args.push(`--${k}`, v);
    } else args.push(`--${k}`, plainValue(k, kind, v));
  }
  // Runs, images and videos are positional arguments, in the CLI's order.
  const positional: string[] = [];
  for (const [k, kind] of Object.entries(spec.options)) {
    const v = options[k];
    if (kind === 'run') positional.push(path.relative(root, runs.dir(v)));
    else if (kind === 'video' || (kind === 'media' && isVideo(v))) positional.push(uploads.videoArg(v, k));
    else if (kind === 'image' || kind === 'media') positional.push(uploads.imageArg(v, k));
    // A mask confines the image before it: the CLI's STYLE:MASK.
    else if (kind === 'mask' && v !== null && v !== undefined && v !== '')
      positional[positional.length - 1] += `:${uploads.maskArg(v, k)}`;
  }
  const video = Object.entries(spec.options).some(
    ([k, kind]) => kind === 'video' || (kind === 'media' && isVideo(options[k])),
  );
  // Checked again after the awaits above, and before any folder is made for the job.
  refuseWhenFull(queue);
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  const folder = `runs/${body.system}-${stamp}-${Math.random().toString(36).slice(2, 6)}`;
  if (spec.out === 'file') {
    makeFolder(path.join(root, folder));
    args.push(...positional, '--out', `${folder}/${body.system}.${video ? 'mp4' : 'png'}`);
    args.push(...(spec.extraArgs?.(video) ?? []));
  } else {
    args.push('--out', folder);
  }
  args.push('--json');
  return queue.add(body.system, [...launch, ...args], folder);
}

/** How long a run goes on: a resumed run takes these from its command, so they are passed as the run has them. */
const BOUNDS = ['epochs', 'steps', 'minutes'];

/**
 * Why a run cannot resume from the studio (a refusal to send), or null when it can: a stopped
 * run, with a checkpoint, of a system whose training the studio starts. The run's view offers
 * its resume button by the same answer.
 */
export function resumeRefusal(name: string, dir: string, summary: RunSummary): HttpError | null {
  if (summary.system === null || !trainJob(summary.system)) {
    const trained = systemsAnswer().flatMap((s) => (trainJob(s.name) ? [s.name] : []));
    return new HttpError(400, `the studio resumes ${trained.join(', ')} runs; ${name} is no such run`);
  }
  if (summary.state === 'training') return new HttpError(409, `${name} is training already`);
  if (!ownStat(path.join(dir, 'checkpoint.safetensors'))?.isFile())
    return new HttpError(400, `${name} has no checkpoint to resume from`);
  if (summary.state !== 'stopped') return new HttpError(409, `${name} is ${summary.state}; only a stopped run resumes`);
  return null;
}

/**
 * POST /api/runs/resume: `{ run: <name> }`, a stopped run, goes on where its checkpoint left
 * it (`loom <system> train --out RUN --resume`, with its own steps, epochs or minutes) as a job
 * of its system, on as many processes as it trained on (each takes its share of the global
 * batch); it keeps its other settings itself.
 */
export async function resumeJob({ root, queue, runs }: JobStarter, body: Record<string, any>): Promise<Job> {
  refuseWhenFull(queue);
  const { dir, summary } = runs.read(body.run);
  const refused = resumeRefusal(String(body.run), dir, summary);
  if (refused) throw refused;
  const system = summary.system!;
  const job = trainJob(system)!;
  const bounds = BOUNDS.flatMap((k) => {
    const v = summary.config[k];
    return trainerTakes(system, k) && typeof v === 'number' ? [`--${k}`, plainValue(k, 'number', v)] : [];
  });
  const launch = await launchArgs(job, summary.config.processes);
  refuseWhenFull(queue);
  const folder = path.relative(root, dir);
  return queue.add(system, [...launch, ...job.verb, ...bounds, '--out', folder, '--resume', '--json'], folder);
}
