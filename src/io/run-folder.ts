// A training run's folder: config.json, metrics.jsonl, samples/, checkpoints. Nothing a
// user made is overwritten unless they ask (resume continues it, force replaces it).
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { appendText, makeFolder, processAlive, removeStaleTemporaries, writeAll, writeFileAtomic } from './files.js';

/** What a run writes at the top of its folder; --force removes these and nothing else. */
const LOOM_FILES = [
  'config.json',
  'metrics.jsonl',
  'checkpoint.safetensors',
  'best.safetensors',
  'good.safetensors',
  'curves.png',
  'losses.png',
  'quality.png',
  'samples',
];

/** The file that says which process writes the run: its pid. */
const LOCK = 'run.lock';

/** The names of what a run writes under samples/ (step-000120.png, epoch-003-grid.png, real.png). */
const SAMPLE = /^((step-\d{6}|epoch-\d{3})(-[a-z]+)?\.(png|txt)|real\.png)$/;

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
   * or, with resume, for continuing the run in it (which must exist), holding its lock from
   * the start (a refusal leaves no lock, nor a folder it made). Writes nothing else: call
   * create() once the run's input has been checked too. --force replaces a run's own files and
   * never touches anything else in the folder.
   */
  static open(dir: string, mode: { resume?: boolean; force?: boolean }): RunFolder {
    if (existsSync(dir) && !statSync(dir).isDirectory())
      throw new Error(`${dir} is a file, not a folder; choose another --out`);
    const run = new RunFolder(dir);
    run.lock();
    try {
      run.check(mode);
    } catch (e) {
      run.unlock();
      throw e;
    }
    return run;
  }

  private check(mode: { resume?: boolean; force?: boolean }): void {
    const { dir } = this;
    if (mode.resume) {
      if (!existsSync(this.checkpoint)) throw new Error(`there is no checkpoint to resume in ${dir}`);
      return;
    }
    const entries = readdirSync(dir).filter((f) => f !== LOCK);
    const hasCheckpoint = existsSync(this.checkpoint) || existsSync(this.best);
    if (hasCheckpoint && !mode.force)
      throw new Error(`${dir} already holds a run; pass --resume to continue it or --force to replace it`);
    const ours = this.isRun();
    const clash = entries.filter((f) => LOOM_FILES.includes(f));
    if (clash.length && !ours)
      throw new Error(`${dir} holds ${clash[0]}, which Loom did not write; choose another --out`);
    // A run that failed before its first checkpoint left only its config and log: starting
    // again replaces them without --force (they would otherwise block every rerun).
    if (entries.length > clash.length && !mode.force)
      throw new Error(`${dir} is not empty; choose another --out or pass --force`);
    this.replace = ours;
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
    return typeof this.readConfig()?.system === 'string';
  }

  /** The run's config.json as written when it started, or null where there is none to read. */
  readConfig(): Record<string, unknown> | null {
    try {
      const config: unknown = JSON.parse(readFileSync(path.join(this.dir, 'config.json'), 'utf8'));
      return config && typeof config === 'object' ? (config as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }

  private replace = false;

  /**
   * Makes the folder; first removes the files of the run it replaces, and only those: under
   * samples/, only the pictures and texts that runs write (a user's own files there stay).
   */
  create(): void {
    if (this.scratch) return;
    if (this.replace) {
      for (const f of LOOM_FILES) {
        if (f !== 'samples') rmSync(path.join(this.dir, f), { recursive: true, force: true });
      }
      const samples = path.join(this.dir, 'samples');
      if (existsSync(samples) && statSync(samples).isDirectory()) {
        const names = readdirSync(samples);
        for (const n of names) if (SAMPLE.test(n)) rmSync(path.join(samples, n), { force: true });
        if (names.every((n) => SAMPLE.test(n))) rmSync(samples, { recursive: true, force: true });
      }
    }
    makeFolder(this.dir);
  }

  /**
   * Takes the run for this process: one writer at a time. A second gets a sentence naming the
   * first; a lock whose process is gone (killed) is taken over. Released at exit.
   */
  lock(): void {
    if (this.scratch || this.locked) return;
    this.madeFolder = !existsSync(this.dir);
    makeFolder(this.dir);
    const file = path.join(this.dir, LOCK);
    for (let attempt = 0; ; attempt++) {
      let fd: number;
      try {
        fd = openSync(file, 'wx');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 2)
          throw new Error(`cannot write in ${this.dir} (${(e as NodeJS.ErrnoException).code ?? e})`, { cause: e });
        let pid: number;
        try {
          pid = Number(readFileSync(file, 'utf8').trim().split(/\s/)[0]);
        } catch {
          continue; // its writer has just given it up
        }
        if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid))
          throw new Error(
            `${this.dir} is being written by another Loom process (pid ${pid}); wait for it to end or stop it first`,
            { cause: e },
          );
        rmSync(file, { force: true }); // its writer is gone
        continue;
      }
      try {
        writeAll(fd, Buffer.from(`${process.pid}\n`));
      } finally {
        closeSync(fd);
      }
      this.locked = true;
      process.once('exit', this.unlock);
      // What a writer killed mid-checkpoint left beside the files it was replacing.
      removeStaleTemporaries(this.dir, (name) => LOOM_FILES.includes(name));
      return;
    }
  }
  private locked = false;
  private madeFolder = false;

  /** Gives the run up (at the end of the run, and at exit). */
  readonly unlock = (): void => {
    if (!this.locked) return;
    this.locked = false;
    process.off('exit', this.unlock);
    const file = path.join(this.dir, LOCK);
    try {
      if (Number(readFileSync(file, 'utf8').trim()) === process.pid) unlinkSync(file);
      // A run that failed before it wrote anything leaves no folder behind.
      if (this.madeFolder && readdirSync(this.dir).length === 0) rmdirSync(this.dir);
    } catch {
      // already gone
    }
  };

  writeConfig(config: unknown): void {
    if (this.scratch) return;
    writeFileAtomic(path.join(this.dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  }
  /** Appends one JSON line to metrics.jsonl. */
  log(record: Record<string, unknown>): void {
    if (this.scratch) return;
    appendText(path.join(this.dir, 'metrics.jsonl'), JSON.stringify(record) + '\n');
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
    writeFileAtomic(f, kept.map((l) => l + '\n').join(''));
  }
  readMetrics(): Record<string, any>[] {
    const f = path.join(this.dir, 'metrics.jsonl');
    if (!existsSync(f)) return [];
    const lines: Record<string, any>[] = [];
    for (const l of readFileSync(f, 'utf8').split('\n')) {
      try {
        if (l) lines.push(JSON.parse(l));
      } catch {
        // a line cut short by a kill or a full disk
      }
    }
    return lines;
  }
}
