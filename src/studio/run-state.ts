// What the runs list says of one run folder: its settings, its state (training, stopped, done,
// failed), its headline figure, its age and its thumbnail. Read from the folder alone, so runs
// that the CLI, `loom launch` or `loom demo` write show as well as the studio's own; each file
// is read again only when it has changed. Nothing here follows a link.
import { closeSync, constants, openSync, readSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { processAlive } from '../io/files.js';
import { loadCheckpoint } from '../io/checkpoint.js';
import { systemOfCheckpoint } from '../systems/registry.js';
import { ownStat, readPlain } from './http.js';
import { imagesUnder, type JobStatus } from './jobs.js';

export type RunState = 'training' | 'stopped' | 'done' | 'failed';

/** A figure of a run's headline: the log field, what people call it, its unit and its latest value. */
export interface Headline {
  field: string;
  label: string;
  unit: string;
  value: number;
}

/**
 * The figures each system is judged by, from what its trainer logs: text its held-out bits
 * per character, the VAE its test -ELBO, the GAN the judge's share (a fraction: the page
 * shows a percentage) and the Fréchet distance, a fast style net its loss. A system not named
 * here shows its latest loss.
 */
export const HEADLINES: Record<string, [field: string, label: string, unit: string][]> = {
  text: [['val_bpc', 'held-out', 'bits per character']],
  vae: [['test_elbo_nats', 'test −ELBO', 'nats']],
  gan: [
    ['confident', "judge's share", ''],
    ['fd', 'Fréchet distance', ''],
  ],
  style: [['loss', 'loss', '']],
};
const headlineFields = (system: string) =>
  Object.hasOwn(HEADLINES, system) ? HEADLINES[system] : [['loss', 'loss', ''] as const];

/** A run's log, one record per line; lines cut short by a kill are skipped. */
export type Metrics = Record<string, unknown>[];

/** A file's identity as it is now (size, time, inode), or null when it is not a plain file. */
function identity(file: string): string | null {
  const st = ownStat(file);
  return st?.isFile() ? `${st.size}:${st.mtimeMs}:${st.ino}` : null;
}

export function parseMetrics(text: string): Metrics {
  const out: Metrics = [];
  for (const l of text.split('\n')) {
    if (!l.trim()) continue;
    try {
      const r: unknown = JSON.parse(l);
      if (r && typeof r === 'object' && !Array.isArray(r)) out.push(r as Record<string, unknown>);
    } catch {
      // a line cut short by a kill or a full disk
    }
  }
  return out;
}

/** A file's bytes from `from` up to `to` (never through a link), or null when it cannot be read. */
function readFrom(file: string, from: number, to: number): Buffer | null {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return null;
  }
  try {
    const buf = Buffer.alloc(Math.max(0, to - from));
    const n = readSync(fd, buf, 0, buf.length, from);
    return buf.subarray(0, n);
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** The pid in a run's run.lock (what a writer holds while it trains), or null without one. */
function lockPid(dir: string): number | null {
  const pid = Number((readPlain(path.join(dir, 'run.lock')) ?? '').trim().split(/\s/)[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/** The last numeric value of `field` in the log, or null. */
export function lastValue(metrics: Metrics, field: string): number | null {
  for (let i = metrics.length - 1; i >= 0; i--) {
    const v = metrics[i][field];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return null;
}

/**
 * Whether a run that has ended went as far as its settings asked: its steps, its epochs, or
 * its minutes. The minutes are read from the time between writing config.json and its last
 * log line, which misses the loading before it: 90% of them counts. A resumed run's time
 * counts from its first start, so it may read as done early.
 */
function reachedItsEnd(config: Record<string, unknown>, metrics: Metrics, spentS: number): boolean {
  const { steps, epochs, minutes } = config;
  const step = lastValue(metrics, 'step');
  const epoch = lastValue(metrics, 'epoch');
  if (typeof steps === 'number' && step !== null && step >= steps) return true;
  if (typeof epochs === 'number' && epoch !== null && epoch >= epochs - 1e-9) return true;
  return typeof minutes === 'number' && minutes > 0 && spentS >= minutes * 60 * 0.9;
}

/** Where the studio's own job for the run stands, where it started the run. */
export type JobOutcome = JobStatus | undefined;

export interface RunSummary {
  config: Record<string, unknown>;
  /** config.json's system, else the one its checkpoint tells; null for a folder of pictures. */
  system: string | null;
  state: RunState;
  /** Whether it has a checkpoint to generate from or resume. */
  checkpoint: boolean;
  /** Its latest step, where it logs one. */
  step: number | null;
  headline: Headline[];
  /** When the run last wrote (ms since the epoch). */
  updated: number;
  /** When it started: when its config.json was written (else its folder's time). */
  started: number;
  /** The newest image under samples/ (else anywhere in the folder), relative to the run folder. */
  thumbnail: string | null;
}

/** One run folder's summary, re-read per file only when that file has changed. */
export class RunReader {
  private configs = new Map<string, { id: string; value: Record<string, unknown> }>();
  private logs = new Map<string, { ino: number; size: number; mtimeMs: number; read: number; records: Metrics }>();
  private thumbs = new Map<string, { id: string; value: string | null }>();
  private recognised = new Map<string, { id: string; value: string | null }>();

  /** config.json as an object ({} when absent or damaged: dream and style outputs have none). */
  config(dir: string): Record<string, unknown> {
    const file = path.join(dir, 'config.json');
    return this.cached(this.configs, file, identity(file), () => {
      try {
        const c: unknown = JSON.parse(readPlain(file) ?? '{}');
        return c && typeof c === 'object' && !Array.isArray(c) ? (c as Record<string, unknown>) : {};
      } catch {
        return {};
      }
    });
  }

  /**
   * metrics.jsonl's records (none when absent). A log that has grown (runs append to it) is
   * read from where it was left; one replaced (a resume trims it, whole) is read again.
   */
  metrics(dir: string): Metrics {
    const file = path.join(dir, 'metrics.jsonl');
    const st = ownStat(file);
    const had = this.logs.get(file);
    if (!st?.isFile()) {
      this.logs.delete(file);
      return [];
    }
    const [ino, size, mtimeMs] = [Number(st.ino), Number(st.size), Number(st.mtimeMs)];
    if (had && had.ino === ino && had.size === size && had.mtimeMs === mtimeMs) return had.records;
    const from = had && had.ino === ino && size >= had.read ? had.read : 0;
    const records = had && from ? had.records : [];
    const chunk = readFrom(file, from, size);
    // Whole lines only: a line being written is read the next time.
    const end = chunk ? chunk.lastIndexOf(0x0a) + 1 : 0;
    for (const r of parseMetrics(chunk ? chunk.subarray(0, end).toString('utf8') : '')) records.push(r);
    this.logs.set(file, { ino, size, mtimeMs, read: from + end, records });
    return records;
  }

  /**
   * The system of a run whose config.json names none (saved before runs recorded it), told
   * from its checkpoint as the export tells it; null for a folder without one (a picture's) or
   * with one that no system knows. The checkpoint is read again only when it changes.
   */
  systemByCheckpoint(dir: string): string | null {
    const file = path.join(dir, 'checkpoint.safetensors');
    const id = identity(file);
    if (id === null) return null;
    return this.cached(this.recognised, dir, id, () => {
      try {
        using ck = loadCheckpoint(file);
        return systemOfCheckpoint(ck, null)?.name ?? null;
      } catch {
        return null; // not a checkpoint Loom can read: the folder shows as pictures
      }
    });
  }

  /** The newest picture: samples/ is looked at again only when an entry there comes or goes. */
  thumbnail(dir: string): string | null {
    const samples = ownStat(path.join(dir, 'samples'));
    const top = ownStat(dir);
    const id = `${samples?.isDirectory() ? samples.mtimeMs : '-'}:${top?.mtimeMs}`;
    return this.cached(this.thumbs, dir, id, () => {
      const inSamples = samples?.isDirectory() ? imagesUnder(dir, 'samples') : [];
      const pics = inSamples.length ? inSamples : imagesUnder(dir, '.');
      return pics.length ? pics[pics.length - 1] : null;
    });
  }

  private cached<V>(map: Map<string, { id: string; value: V }>, key: string, id: string | null, read: () => V): V {
    const had = map.get(key);
    if (had && had.id === id) return had.value;
    const value = read();
    map.set(key, { id: id ?? '', value });
    return value;
  }

  /** Forgets what was read of folders no longer listed. */
  keepOnly(dirs: Set<string>): void {
    for (const map of [this.configs, this.logs, this.thumbs, this.recognised])
      for (const key of map.keys()) if (!dirs.has(key) && !dirs.has(path.dirname(key))) map.delete(key);
  }

  summary(dir: string, job: JobOutcome): RunSummary {
    const config = this.config(dir);
    const metrics = this.metrics(dir);
    const system = typeof config.system === 'string' ? config.system : this.systemByCheckpoint(dir);
    const times = ['config.json', 'metrics.jsonl', 'checkpoint.safetensors', 'run.lock', '.'].map((f) =>
      Number(ownStat(path.join(dir, f))?.mtimeMs ?? 0),
    );
    const updated = Math.max(...times);
    const checkpoint = ['checkpoint.safetensors', 'best.safetensors'].some((f) => ownStat(path.join(dir, f))?.isFile());
    const thumbnail = this.thumbnail(dir);
    const pid = lockPid(dir);
    const live = pid !== null && processAlive(pid);
    let state: RunState;
    if (live || job === 'running' || job === 'queued') state = 'training';
    else if (job === 'failed') state = 'failed';
    else if (job === 'cancelled') state = checkpoint ? 'stopped' : 'failed';
    else if (system === null)
      state = thumbnail || job === 'done' ? 'done' : 'failed'; // a picture's folder
    else if (!checkpoint)
      state = 'failed'; // it ended before its first checkpoint
    else if (pid !== null)
      state = 'stopped'; // its writer was killed: the lock is stale
    else if (job === 'done') state = 'done';
    else state = reachedItsEnd(config, metrics, (times[1] - times[0]) / 1000) ? 'done' : 'stopped';
    const headline: Headline[] = [];
    for (const [field, label, unit] of headlineFields(system ?? '')) {
      const value = lastValue(metrics, field);
      if (value !== null) headline.push({ field, label, unit, value });
    }
    const started = times[0] || times[4];
    return {
      config,
      system,
      state,
      checkpoint,
      step: lastValue(metrics, 'step'),
      headline,
      updated,
      started,
      thumbnail,
    };
  }
}

/** The folder names in `dir` that are folders themselves (a link is no run), sorted. */
export function runFolderNames(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((d) => !d.startsWith('.') && ownStat(path.join(dir, d))?.isDirectory()).sort();
}
