// A training run's folder: config.json, metrics.jsonl, samples/, checkpoints. Nothing a
// user made is overwritten unless they ask (resume continues it, force replaces it).
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export class RunFolder {
  constructor(readonly dir: string) {}

  get checkpoint(): string {
    return path.join(this.dir, 'checkpoint.safetensors');
  }
  get best(): string {
    return path.join(this.dir, 'best.safetensors');
  }
  file(...parts: string[]): string {
    const p = path.join(this.dir, ...parts);
    mkdirSync(path.dirname(p), { recursive: true });
    return p;
  }

  /** The checkpoint a user means: a run folder's latest, or the file given. */
  static checkpointOf(source: string): string {
    return existsSync(source) && statSync(source).isDirectory() ? new RunFolder(source).checkpoint : source;
  }

  /**
   * Checks the folder for a new run (refusing a folder that already holds one, unless force)
   * or, with resume, for continuing the run in it (which must exist). Creates nothing:
   * call create() once the run's input has been checked too.
   */
  static open(dir: string, mode: { resume?: boolean; force?: boolean }): RunFolder {
    const run = new RunFolder(dir);
    run.force = Boolean(mode.force) && !mode.resume;
    const hasRun = existsSync(path.join(dir, 'config.json')) || existsSync(run.checkpoint);
    if (mode.resume) {
      if (!existsSync(run.checkpoint)) throw new Error(`there is no checkpoint to resume in ${dir}`);
      return run;
    }
    if (hasRun && !mode.force) throw new Error(`${dir} already holds a run; pass --resume to continue it or --force to replace it`);
    if (existsSync(dir) && !hasRun && readdirSync(dir).length > 0 && !mode.force) {
      throw new Error(`${dir} is not empty; choose another --out or pass --force`);
    }
    return run;
  }

  private force = false;

  /** Makes the folder; with force, first removes the files of the run it replaces. */
  create(): void {
    if (this.force) {
      for (const f of ['config.json', 'metrics.jsonl', 'checkpoint.safetensors', 'best.safetensors', 'samples']) {
        rmSync(path.join(this.dir, f), { recursive: true, force: true });
      }
    }
    mkdirSync(this.dir, { recursive: true });
  }

  writeConfig(config: unknown): void {
    writeFileSync(path.join(this.dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  }
  readConfig<T>(): T {
    return JSON.parse(readFileSync(path.join(this.dir, 'config.json'), 'utf8')) as T;
  }
  /** Appends one JSON line to metrics.jsonl. */
  log(record: Record<string, unknown>): void {
    appendFileSync(path.join(this.dir, 'metrics.jsonl'), JSON.stringify(record) + '\n');
  }
  readMetrics(): Record<string, any>[] {
    const f = path.join(this.dir, 'metrics.jsonl');
    if (!existsSync(f)) return [];
    return readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  }
}
