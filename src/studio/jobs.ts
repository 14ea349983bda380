// The studio's job queue: one job at a time, each a `loom ... --json` child process, so the
// server stays responsive and a job is cancelled like a terminal run (SIGINT: it saves first).
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IMAGE_EXT } from '../io/datasets.js';
import { VIDEO_EXT } from '../io/video.js';

export const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

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

/** Image and video files under a folder, relative to `root`, newest last (not hidden ones: a video being written). */
export function imagesUnder(root: string, folder: string): string[] {
  const abs = path.join(root, folder);
  if (!existsSync(abs)) return [];
  const out: [string, number][] = [];
  const walk = (dir: string): void => {
    for (const f of readdirSync(dir)) {
      const p = path.join(dir, f);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if ((IMAGE_EXT.test(f) || VIDEO_EXT.test(f)) && !f.startsWith('.'))
        out.push([path.relative(root, p), st.mtimeMs]);
    }
  };
  walk(abs);
  return out.sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0])).map(([p]) => p.split(path.sep).join('/'));
}

export class JobQueue extends EventEmitter {
  readonly jobs: Job[] = [];
  private child: ChildProcess | null = null;
  private current: Job | null = null;
  private seen = new Set<string>();
  private poll: NodeJS.Timeout | null = null;

  /** `history`: how many jobs the list keeps; the oldest finished ones go first. */
  constructor(
    readonly root: string,
    readonly history = 100,
  ) {
    super();
  }

  add(system: string, args: string[], folder: string): Job {
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
    this.emit('event', e);
  }

  private scanFiles(job: Job): void {
    for (const f of imagesUnder(this.root, job.folder)) {
      if (this.seen.has(f)) continue;
      this.seen.add(f);
      this.emitEvent({ type: 'file', job, file: f });
    }
  }

  private next(): void {
    if (this.current) return;
    const job = this.jobs.find((j) => j.status === 'queued');
    if (!job) return;
    this.current = job;
    job.status = 'running';
    this.emitEvent({ type: 'job', job });
    const child = spawn(process.execPath, [CLI, ...job.args], { cwd: this.root, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let buffered = '';
    let stderr = '';
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
    this.poll = setInterval(() => this.scanFiles(job), 500);
    child.on('close', (code) => {
      clearInterval(this.poll!);
      this.scanFiles(job);
      if (job.status !== 'cancelled') {
        job.status = code === 0 ? 'done' : 'failed';
        if (code !== 0)
          job.error =
            stderr
              .trim()
              .split('\n')
              .filter(Boolean)
              .pop()
              ?.replace(/^loom: /, '') ?? `exit code ${code}`;
      }
      this.current = null;
      this.child = null;
      this.emitEvent({ type: 'job', job });
      this.next();
    });
  }

  /** Stops the running job and drops the queue (the server is closing). */
  close(): void {
    for (const j of this.jobs) if (j.status === 'queued') j.status = 'cancelled';
    if (this.poll) clearInterval(this.poll);
    this.child?.kill('SIGINT');
  }
}
