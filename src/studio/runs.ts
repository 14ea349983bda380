// Run folders as the browser names them: one folder name under runs/, never a path or a link;
// and the run list.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { HttpError, ownStat, readPlain } from './http.js';
import { imagesUnder } from './jobs.js';
import type { RunCache } from './run-cache.js';

/** A run's name from the browser: one folder name under runs/, nothing else. */
export function runName(v: unknown): string {
  if (typeof v !== 'string' || !/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$/.test(v) || v.includes('..'))
    throw new HttpError(400, 'a run is named by its folder name under runs/');
  return v;
}

/** The runs/ folder of a studio root, as the browser may name its runs. */
export class RunFolders {
  readonly runs: string;
  /** Caches of what was loaded from runs: a run found gone or without a checkpoint is forgotten in each. */
  readonly caches: RunCache<any>[] = [];
  constructor(readonly root: string) {
    this.runs = path.join(root, 'runs');
  }

  /** A run's folder from the browser: a folder under runs/ itself, never a link; else a 404. */
  dir(v: unknown): string {
    const name = runName(v);
    const dir = path.join(this.runs, name);
    if (!ownStat(dir)?.isDirectory()) {
      for (const c of this.caches) c.forget(dir);
      throw new HttpError(404, `there is no run ${name}`);
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
      throw new HttpError(404, `the run ${path.basename(dir)} has no checkpoint`);
    }
    return { dir, id: `${file}:${st.size}:${st.mtimeMs}:${st.ino}` };
  }

  /**
   * The run folders: folders under runs/ themselves (a link, to elsewhere or nowhere, is no
   * run), each read on its own, so one unreadable entry or file never fails the list.
   */
  list() {
    let names: string[];
    try {
      names = readdirSync(this.runs);
    } catch {
      return [];
    }
    return names
      .filter((d) => ownStat(path.join(this.runs, d))?.isDirectory())
      .sort()
      .map((name) => {
        const dir = path.join(this.runs, name);
        let config: Record<string, unknown> = {};
        try {
          const c = JSON.parse(readPlain(path.join(dir, 'config.json')) ?? '{}');
          if (c && typeof c === 'object' && !Array.isArray(c)) config = c;
        } catch {
          /* dream and style outputs have no config */
        }
        const metrics = (readPlain(path.join(dir, 'metrics.jsonl')) ?? '')
          .trim()
          .split('\n')
          .filter(Boolean)
          .slice(-200)
          .map((l) => {
            try {
              return JSON.parse(l);
            } catch {
              return null;
            }
          })
          .filter(Boolean);
        return {
          name,
          system: typeof config.system === 'string' ? config.system : name.split('-')[0],
          config,
          metrics,
          images: imagesUnder(this.root, `runs/${name}`),
          checkpoint: ownStat(path.join(dir, 'checkpoint.safetensors'))?.isFile() ?? false,
        };
      });
  }
}
