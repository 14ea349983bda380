// The studio's job queue: one job at a time, each a `loom ... --json` child process, so the
// server stays responsive and a job is cancelled like a terminal run (SIGINT: it saves first).
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IMAGE_EXT } from '../io/datasets.js';
import { VIDEO_EXT } from '../io/video.js';
import { tiedToMe } from '../cli/parent.js';

export const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
/** A job that has not ended: waiting for its turn, or running. */
export const unfinished = (job: { status: JobStatus } | undefined): boolean =>
  job?.status === 'queued' || job?.status === 'running';

export interface Job {
  id: string;
  system: string;
  args: string[];
  /** The job's folder under the runs folder (relative to the studio root). */
  folder: string;
  status: JobStatus;
  error?: string;
  created: number;
}

export interface JobEvent {
  type: 'job' | 'log' | 'file';
  job: Job;
  record?: Record<string, unknown>;
  file?: string;
}

/** An entry's own status (a link is not followed), or null when it is gone or unreadable. */
function ownStat(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}

/**
 * Image and video files under a folder, relative to `root`, newest last (not hidden ones: a
 * video being written). Symbolic links are skipped, never followed (a dangling one, a loop or
 * one that leads out of the runs folder), and so is any entry that cannot be read.
 */
export function imagesUnder(root: string, folder: string): string[] {
  const out: [string, number][] = [];
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const f of names) {
      const p = path.join(dir, f);
      const st = ownStat(p);
      if (!st) continue;
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && (IMAGE_EXT.test(f) || VIDEO_EXT.test(f)) && !f.startsWith('.'))
        out.push([path.relative(root, p), st.mtimeMs]);
    }
  };
  if (ownStat(path.join(root, folder))?.isDirectory()) walk(path.join(root, folder));
  return out.sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0])).map(([p]) => p.split(path.sep).join('/'));
}

/** Jobs that may wait or run at once; past it, new jobs are refused (a 429). */
export const JOB_LIMIT = 100;
/** How long a stopping studio waits for its jobs to save (SIGINT) before it kills them. */
export const STOP_GRACE_MS = 15_000;

export class JobQueue extends EventEmitter {
  readonly jobs: Job[] = [];
  private child: ChildProcess | null = null;
  private current: Job | null = null;
  private seen = new Set<string>();
  private poll: NodeJS.Timeout | null = null;
  private closed = false;
  private stopping: Promise<void> | null = null;

  /**
   * `history`: how many jobs the list keeps; the oldest finished ones go first. `limit`: how
   * many may wait or run at once. `cli`: the script each job runs (tests give a stand-in).
   */
  constructor(
    readonly root: string,
    readonly history = 100,
    readonly limit = JOB_LIMIT,
    readonly cli = CLI,
  ) {
    super();
  }

  /** Whether another job would pass the limit of jobs waiting or running. */
  get full(): boolean {
    return this.closed || this.jobs.filter(unfinished).length >= this.limit;
  }

  add(system: string, args: string[], folder: string): Job {
    if (this.full) throw new Error(`the studio holds at most ${this.limit} waiting or running jobs`);
    const job: Job = {
      id: `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
      system,
      args,
      folder,
      status: 'queued',
      created: Date.now(),
    };
    this.jobs.push(job);
    for (let i = 0; this.jobs.length > this.history && i < this.jobs.length;) {
      if (['done', 'failed', 'cancelled'].includes(this.jobs[i].status)) this.jobs.splice(i, 1);
      else i++;
    }
    this.emitEvent({ type: 'job', job });
    this.next();
    return job;
  }

  cancel(id: string): Job | undefined {
    const job = this.jobs.find((j) => j.id === id);
    if (!job) return undefined;
    if (job.status === 'queued') {
      job.status = 'cancelled';
      this.emitEvent({ type: 'job', job });
    } else if (job.status === 'running' && this.child) {
      job.status = 'cancelled';
      this.child.kill('SIGINT'); // the CLI stops at the next step and writes what it has
    }
    return job;
  }

  private emitEvent(e: JobEvent): void {
    // A listener's fault (a browser gone mid-write) must not stop the queue or the server.
    try {
      this.emit('event', e);
    } catch {
      /* the event is lost for that listener only */
    }
  }

  private scanFiles(job: Job): void {
    for (const f of imagesUnder(this.root, job.folder)) {
      if (this.seen.has(f)) continue;
      this.seen.add(f);
      this.emitEvent({ type: 'file', job, file: f });
    }
  }

  private finish(job: Job, status: JobStatus, error?: string): void {
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
    if (job.status !== 'cancelled') {
      job.status = status;
      if (error !== undefined) job.error = error;
    }
    this.current = null;
    this.child = null;
    this.emitEvent({ type: 'job', job });
    this.emit('idle');
    this.next();
  }

  private next(): void {
    if (this.current || this.closed) return;
    const job = this.jobs.find((j) => j.status === 'queued');
    if (!job) return;
    this.current = job;
    job.status = 'running';
    this.emitEvent({ type: 'job', job });
    let child: ChildProcess;
    try {
      // Tied to this process: if the studio dies without stopping it, the job stops by itself.
      child = spawn(process.execPath, [this.cli, ...job.args], {
        cwd: this.root,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...tiedToMe() },
      });
    } catch {
      return this.finish(job, 'failed', 'the job could not be started');
    }
    this.child = child;
    let buffered = '';
    let stderr = '';
    let spawnError = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        try {
          this.emitEvent({ type: 'log', job, record: JSON.parse(line) });
        } catch {
          // not a JSON record: ignore
        }
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (c: string) => {
      stderr = (stderr + c).slice(-2000);
    });
    child.on('error', () => (spawnError = 'the job could not be started'));
    // The timer only reads the folder through imagesUnder, which never throws.
    this.poll = setInterval(() => this.scanFiles(job), 500);
    child.on('close', (code) => {
      this.scanFiles(job);
      const error =
        code === 0
          ? undefined
          : spawnError ||
            (stderr
              .trim()
              .split('\n')
              .filter(Boolean)
              .pop()
              ?.replace(/^loom: /, '') ??
              `exit code ${code}`);
      this.finish(job, code === 0 ? 'done' : 'failed', error);
    });
  }

  /**
   * Stops the queue (the studio is closing): drops the waiting jobs, asks the running one to
   * stop as on Ctrl-C (it saves a checkpoint) and, if it is still running after `graceMs`,
   * kills it. Resolves once no job runs.
   */
  close(graceMs = STOP_GRACE_MS): Promise<void> {
    if (this.stopping) return this.stopping;
    this.closed = true;
    for (const j of this.jobs) if (unfinished(j)) j.status = 'cancelled';
    const child = this.child;
    if (!child) return (this.stopping = Promise.resolve());
    return (this.stopping = new Promise((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
      this.once('idle', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGINT');
    }));
  }
}
