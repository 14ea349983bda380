// A training run's folder: config.json, metrics.jsonl, samples/, checkpoints. Nothing a
// user made is overwritten unless they ask (resume continues it, force replaces it).
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeFolder } from './files.js';

/** What a run writes at the top of its folder; --force removes these and nothing else. */
const LOOM_FILES = [
  'config.json',
  'metrics.jsonl',
  'checkpoint.safetensors',
  'best.safetensors',
  'good.safetensors',
  'samples',
];

export class RunFolder {
  constructor(readonly dir: string) {}

  get checkpoint(): string {
    return path.join(this.dir, 'checkpoint.safetensors');
  }
  get best(): string {
    return path.join(this.dir, 'best.safetensors');
  }
  get good(): string {
    return path.join(this.dir, 'good.safetensors');
  }
  file(...parts: string[]): string {
    const p = path.join(this.scratch ?? this.dir, ...parts);
    makeFolder(path.dirname(p));
    return p;
  }

  /** The name of what a run writes at a step (samples), sorted by step: step-000120. */
  static stepTag(step: number): string {
    return `step-${String(step).padStart(6, '0')}`;
  }
  /** The name of what a run writes at the end of an epoch: epoch-003. */
  static epochTag(epoch: number): string {
    return `epoch-${String(epoch).padStart(3, '0')}`;
  }

  /** The checkpoint a user means: a run folder's latest, or the file given. */
  static checkpointOf(source: string): string {
    return existsSync(source) && statSync(source).isDirectory() ? new RunFolder(source).checkpoint : source;
  }

  /**
   * Checks the folder for a new run (refusing a folder that already holds one, unless force)
   * or, with resume, for continuing the run in it (which must exist). Creates nothing:
   * call create() once the run's input has been checked too. --force replaces a run's own
   * files and never touches anything else in the folder.
   */
  static open(dir: string, mode: { resume?: boolean; force?: boolean }): RunFolder {
    const run = new RunFolder(dir);
    if (existsSync(dir) && !statSync(dir).isDirectory())
      throw new Error(`${dir} is a file, not a folder; choose another --out`);
    if (mode.resume) {
      if (!existsSync(run.checkpoint)) throw new Error(`there is no checkpoint to resume in ${dir}`);
      return run;
    }
    if (!existsSync(dir)) return run;
    const entries = readdirSync(dir);
    const hasCheckpoint = existsSync(run.checkpoint) || existsSync(run.best);
    if (hasCheckpoint && !mode.force)
      throw new Error(`${dir} already holds a run; pass --resume to continue it or --force to replace it`);
    const ours = run.isRun();
    const clash = entries.filter((f) => LOOM_FILES.includes(f));
    if (clash.length && !ours)
      throw new Error(`${dir} holds ${clash[0]}, which Loom did not write; choose another --out`);
    // A run that failed before its first checkpoint left only its config and log: starting
    // again replaces them without --force (they would otherwise block every rerun).
    if (entries.length > clash.length && !mode.force)
      throw new Error(`${dir} is not empty; choose another --out or pass --force`);
    run.replace = ours;
    return run;
  }

  /**
   * The run as a data-parallel rank other than 0 sees it: it reads the folder (a resume's
   * checkpoint) but writes nothing there; its pictures go to a scratch folder of its own.
   */
  static muted(dir: string): RunFolder {
    const run = new RunFolder(dir);
    run.scratch = mkdtempSync(path.join(tmpdir(), 'loom-rank-'));
    return run;
  }
  /** Set for a muted rank: where its files go instead (it writes no log, config or checkpoint). */
  private scratch: string | null = null;

  /** Removes a muted rank's scratch folder (a run folder's own files are never touched). */
  removeScratch(): void {
    if (this.scratch) rmSync(this.scratch, { recursive: true, force: true });
  }

  /** Whether the folder holds a run that Loom wrote (a checkpoint, or Loom's config.json). */
  isRun(): boolean {
    if (existsSync(this.checkpoint) || existsSync(this.best)) return true;
    try {
      return typeof JSON.parse(readFileSync(path.join(this.dir, 'config.json'), 'utf8')).system === 'string';
    } catch {
      return false;
    }
  }

  private replace = false;

  /** Makes the folder; first removes the files of the run it replaces, and only those. */
  create(): void {
    if (this.scratch) return;
    if (this.replace) {
      for (const f of LOOM_FILES) rmSync(path.join(this.dir, f), { recursive: true, force: true });
    }
    makeFolder(this.dir);
  }

  writeConfig(config: unknown): void {
    if (this.scratch) return;
    writeFileSync(path.join(this.dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  }
  /** Appends one JSON line to metrics.jsonl. */
  log(record: Record<string, unknown>): void {
    if (this.scratch) return;
    appendFileSync(path.join(this.dir, 'metrics.jsonl'), JSON.stringify(record) + '\n');
  }
  /**
   * Drops the lines logged after `step`: a resumed run replays those steps, and a run
   * killed between checkpoints would otherwise list them twice. Lines without a step stay.
   */
  trimMetrics(step: number): void {
    if (this.scratch) return;
    const f = path.join(this.dir, 'metrics.jsonl');
    if (!existsSync(f)) return;
    const kept = readFileSync(f, 'utf8')
      .split('\n')
      .filter((l) => {
        if (!l) return false;
        try {
          const m = JSON.parse(l);
          return typeof m.step !== 'number' || m.step <= step;
        } catch {
          return false; // a line cut short by the kill
        }
      });
    writeFileSync(f, kept.map((l) => l + '\n').join(''));
  }
  readMetrics(): Record<string, any>[] {
    const f = path.join(this.dir, 'metrics.jsonl');
    if (!existsSync(f)) return [];
    return readFileSync(f, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  }
}
