// Run folders as the browser names them: the studio's runs/ (where its jobs write) and the
// other folders it lists (the demo's gallery/runs, folders given with --runs). The browser
// names a run by its folder's name under runs/, or <label>/<name> in another folder, never by
// a path; each folder's label is looked up, and no link is followed at any depth.
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { HttpError, ownStat } from './http.js';
import type { RunCache } from './run-cache.js';
import { RunReader, runFolderNames, type JobOutcome, type RunSummary } from './run-state.js';

/** A folder given to list runs from that is not there, or not a folder. */
export class RunsFolderError extends Error {}

const NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$/;

/** A run's name from the browser: a folder name under runs/, or <label>/<name>; nothing else. */
export function runName(v: unknown): { label: string; name: string } {
  const m = typeof v === 'string' ? /^(?:([a-z0-9-]{1,40})\/)?([^/]+)$/.exec(v) : null;
  if (!m || !NAME.test(m[2]) || m[2].includes('..'))
    throw new HttpError(
      400,
      'a run is named by its folder name under runs/, or <folder>/<name> in another runs folder',
    );
  return { label: m[1] ?? RUNS, name: m[2] };
}

/** The label of the studio's own runs/ folder (its runs are named without it). */
const RUNS = 'runs';

/**
 * A folder of runs: `base` (the studio root, or a folder given with --runs, as it really is)
 * and the parts below it, each of which must be a folder itself, never a link.
 */
export interface RunsFolder {
  label: string;
  base: string;
  parts: string[];
}

/** A label for a folder of runs: gallery/runs is "gallery", ~/exp/runs-a is "runs-a"; unique. */
function labelFor(dir: string, taken: Set<string>): string {
  const base = path.basename(dir) === 'runs' ? path.basename(path.dirname(dir)) : path.basename(dir);
  const word =
    base
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 30) || 'folder';
  let label = word;
  for (let i = 2; taken.has(label); i++) label = `${word}-${i}`;
  taken.add(label);
  return label;
}

/** A run in the list: its name as the browser names it, its folder's label, and its summary. */
export interface RunInfo extends Omit<RunSummary, 'system'> {
  name: string;
  /**
   * config.json's system, else the one its checkpoint tells (an older run's); for a folder
   * with neither (a dream's picture), its name's first word.
   */
  system: string;
  folder: string;
  /** How long ago it last wrote, in seconds. */
  age_s: number;
  /** Its thumbnail as a /files/ path, or null. */
  thumbnail: string | null;
}

/** The folders of runs the studio lists, and each run in them as the browser may name it. */
export class RunFolders {
  /** The studio's own runs/: where its jobs write. */
  readonly runs: string;
  readonly folders: RunsFolder[];
  /** Caches of what was loaded from runs: a run found gone or without a checkpoint is forgotten in each. */
  readonly caches: RunCache<any>[] = [];
  private readonly reader = new RunReader();
  /** How the studio's own newest job in a run folder (its path) stands or ended, where it started one. */
  jobOutcome: (dir: string) => JobOutcome = () => undefined;

  /**
   * `others`: the other folders to list (absolute or relative to the working directory);
   * by default the demo's gallery/runs under the root, when it is there. A folder given must
   * exist; the same folder twice, or the studio's runs/ again, is listed once.
   */
  constructor(
    readonly root: string,
    others?: string[],
  ) {
    this.runs = path.join(root, RUNS);
    const taken = new Set([RUNS, 'uploads']);
    this.folders = [{ label: RUNS, base: root, parts: [RUNS] }];
    const seen = new Set<string>([this.runs]);
    if (!others) this.folders.push({ label: labelFor('gallery/runs', taken), base: root, parts: ['gallery', 'runs'] });
    for (const given of others ?? []) {
      let real: string;
      try {
        real = realpathSync(path.resolve(given));
      } catch {
        throw new RunsFolderError(`there is no folder ${given} to list runs from`);
      }
      if (!ownStat(real)?.isDirectory()) throw new RunsFolderError(`${given} is not a folder`);
      let ownRuns = '';
      try {
        ownRuns = realpathSync(this.runs);
      } catch {
        /* the studio makes its runs/ when it starts */
      }
      if (seen.has(real) || real === ownRuns) continue;
      seen.add(real);
      this.folders.push({ label: labelFor(real, taken), base: real, parts: [] });
    }
  }

  /** A folder of runs' path, if it is there now with no link on the way; else null. */
  folderPath(label: string): string | null {
    const f = this.folders.find((x) => x.label === label);
    if (!f) return null;
    let p = f.base;
    for (const part of f.parts) {
      p = path.join(p, part);
      const st = ownStat(p);
      if (!st || st.isSymbolicLink() || !st.isDirectory()) return null;
    }
    return p;
  }

  /** A run's folder from the browser: a folder in a listed folder itself, never a link; else a 404. */
  dir(v: unknown): string {
    const { label, name } = runName(v);
    const folder = this.folderPath(label);
    const dir = folder && path.join(folder, name);
    if (!dir || !ownStat(dir)?.isDirectory()) {
      if (dir) for (const c of this.caches) c.forget(dir);
      throw new HttpError(404, `there is no run ${String(v)}`);
    }
    return dir;
  }

  /** A run's folder and its checkpoint's identity (path, size, time, inode), the key of what is cached from it. */
  checkpoint(v: unknown): { dir: string; id: string } {
    const dir = this.dir(v);
    const file = path.join(dir, 'checkpoint.safetensors');
    const st = ownStat(file);
    if (!st?.isFile()) {
      for (const c of this.caches) c.forget(dir);
      throw new HttpError(404, `the run ${String(v)} has no checkpoint`);
    }
    return { dir, id: `${file}:${st.size}:${st.mtimeMs}:${st.ino}` };
  }

  /** The name the browser uses for a run in a folder. */
  private nameOf(label: string, name: string): string {
    return label === RUNS ? name : `${label}/${name}`;
  }

  /** The metrics and settings of a run, by the browser's name; `prefix`: its folder as a /files/ path. */
  read(v: unknown): { dir: string; prefix: string; summary: RunSummary; metrics: ReturnType<RunReader['metrics']> } {
    const dir = this.dir(v);
    const { label, name } = runName(v);
    return { dir, prefix: `${label}/${name}`, summary: this.summaryOf(dir), metrics: this.reader.metrics(dir) };
  }

  private summaryOf(dir: string): RunSummary {
    return this.reader.summary(dir, this.jobOutcome(dir));
  }

  /**
   * Every run in every folder, each read on its own, so one unreadable entry or file never
   * fails the list: the studio's runs first, each folder's by name.
   */
  list(now = Date.now()): RunInfo[] {
    const out: RunInfo[] = [];
    const dirs = new Set<string>();
    for (const f of this.folders) {
      const folder = this.folderPath(f.label);
      if (!folder) continue;
      for (const name of runFolderNames(folder)) {
        if (!NAME.test(name) || name.includes('..')) continue; // a name the browser could not ask for
        const dir = path.join(folder, name);
        dirs.add(dir);
        const s = this.summaryOf(dir);
        out.push({
          ...s,
          name: this.nameOf(f.label, name),
          system: s.system ?? name.split('-')[0],
          folder: f.label,
          age_s: Math.max(0, (now - s.updated) / 1000),
          thumbnail: s.thumbnail && `${f.label}/${name}/${s.thumbnail}`,
        });
      }
    }
    this.reader.keepOnly(dirs);
    return out;
  }
}
