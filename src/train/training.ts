// The training harness every system's trainer stands on: the run folder (new or resumed),
// the config (a resumed run keeps its own, but for how long to go on), the checkpoint's
// restore, the loop's stop conditions (total steps, --minutes, Ctrl-C, a non-finite loss),
// the step meter and log lines (trimmed on resume), checkpoints, and disposal in one place.
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../io/files.js';
import * as T from '../torch/index.js';
import { ProcessGroup, distEnv } from '../distributed/index.js';
import { RunFolder } from '../io/run-folder.js';
import { canonicalConfig, type OptionTable } from '../models/options.js';
import {
  loadCheckpoint,
  restoreCheckpoint,
  saveCheckpoint,
  type Checkpoint,
  type CheckpointParts,
} from '../io/checkpoint.js';

export interface Disposer {
  dispose(): void;
}

/**
 * A new run or a resumed one (`force` replaces a finished run's folder). `given`: the settings
 * the command names; on resume, each that the run keeps its own value for gets a line on stderr.
 */
export interface RunMode {
  resume?: boolean;
  force?: boolean;
  given?: ReadonlySet<string>;
}

/**
 * How a caller stops a run and hears its notes, beside the trainer's own progress hooks.
 * Every trainer takes these.
 */
export interface RunControl {
  /** Checked between steps; true stops the run (the trainer then saves as it would at the end). */
  shouldStop?(): boolean;
  /**
   * Aborting it stops the run at the next step: the trainer saves its checkpoint as at the end
   * and resolves with a result that says it stopped early (it does not reject). The loop lets
   * the event loop run every BREATHE_MS or so, so a timer's abort() takes effect mid-run.
   */
  signal?: AbortSignal;
  /**
   * Sentences for the user that are not errors: settings a resumed run keeps, thread changes.
   * The library never prints; without this hook they are dropped (the CLI writes them to stderr).
   */
  onNote?(message: string): void;
}

/** The longest a training loop computes without letting the event loop run (timers, aborts, I/O). */
export const BREATHE_MS = 150;

export interface TrainingOptions<C> extends RunControl {
  /** The system's name, written into config.json. */
  system: string;
  config: C;
  /** Fill settings that a run from an older Loom lacks. */
  defaults: C;
  /**
   * The system's option table: former spellings of a choice, in the config given or in a
   * resumed run's, read as today's (canonicalConfig).
   */
  options?: OptionTable;
  outDir: string;
  mode: RunMode;
  /** Settings a resumed run takes from the command (how long to go on); the rest stay the run's. */
  fromCommand: readonly (keyof C)[];
  validate(c: C): void;
  /** What to advise when a loss stops being finite ("lower --lr"). */
  advice: string;
  /** The data-parallel group; by default joined when torchrun's variables name several ranks. */
  group?: ProcessGroup | null;
}

/**
 * The settings a command names that a resumed run does not take (it keeps its own), as
 * sentences: silently training on with the old learning rate when the command says another
 * would mislead. Only how long to go on (`fromCommand`) comes from the command.
 */
export function keptOnResume<C>(
  command: C,
  run: C,
  given: ReadonlySet<string>,
  fromCommand: readonly (keyof C)[],
): string[] {
  const flag = (k: string) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
  const show = (v: unknown) => (Array.isArray(v) ? v.join(',') : String(v));
  return [...given]
    .filter((k) => k in (command as object) && !fromCommand.includes(k as keyof C))
    .filter((k) => JSON.stringify(command[k as keyof C]) !== JSON.stringify(run[k as keyof C]))
    .map(
      (k) =>
        `${flag(k)} ${show(command[k as keyof C])} does not apply to a resumed run, which keeps its ${show(run[k as keyof C])} (a resumed run takes only ${fromCommand.map((f) => flag(String(f))).join(', ')} from the command)`,
    );
}

/** Why the loop ended: it reached its steps, its time ran out, or it was asked to stop. */
export type StopReason = 'done' | 'minutes' | 'asked';

export class Training<C extends { minutes?: number | null; logEvery: number }> implements Disposable {
  readonly run: RunFolder;
  readonly cfg: C;
  /** Steps taken so far (restored on resume). */
  step = 0;
  stopReason: StopReason = 'done';
  readonly started = Date.now();
  private ck: Checkpoint<C> | null;
  private parts: CheckpointParts | null = null;
  private extra: () => Record<string, unknown> = () => ({});
  private readonly owned: Disposer[] = [];
  readonly meter = new StepMeter();

  /** The data-parallel group, or null for one process. */
  readonly group: ProcessGroup | null;

  private constructor(private readonly o: TrainingOptions<C>) {
    const env = o.group === undefined ? distEnv() : null;
    // Rank 0 alone checks and writes the run folder; the others compute beside it and keep
    // their would-be files out of it (every rank runs the same program, so they stay in step).
    const main = o.group ? o.group.isMain : env === null || env.rank === 0;
    this.run = main ? RunFolder.open(o.outDir, o.mode) : RunFolder.muted(o.outDir);
    this.ck = null;
    try {
      this.group = o.group !== undefined ? o.group : env ? this.own(ProcessGroup.join(env)) : null;
      // A resumed run keeps its own settings, but for those the command sets.
      this.ck = o.mode.resume ? loadCheckpoint<C>(this.run.checkpoint) : null;
      if (this.ck && !this.group) this.keepThreads(this.ck.threads, o.mode.given?.has('threads') ?? false);
      const fromCommand = Object.fromEntries(o.fromCommand.map((k) => [k, o.config[k]]));
      const cfg = this.ck ? { ...o.defaults, ...this.ck.config, ...fromCommand } : o.config;
      this.cfg = o.options ? canonicalConfig(o.options, cfg) : cfg;
      o.validate(this.cfg);
      if (this.ck && main)
        for (const line of keptOnResume(o.config, this.cfg, o.mode.given ?? new Set(), o.fromCommand)) this.note(line);
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /**
   * A resumed run goes on with the thread setting it trained with, so that its numbers are
   * those an uninterrupted run would give; a --threads that says otherwise wins, with a note.
   */
  private keepThreads(run: number | 'auto' | null, given: boolean): void {
    if (run === null || run === T.threadSetting()) return;
    if (given) {
      this.note(
        `this run trained with --threads ${run}; with ${T.threadSetting()} its numbers will differ from an uninterrupted run's`,
      );
    } else if (run === 'auto') T.fitThreadsToFreeCores();
    else T.setNumThreads(run);
  }

  private note(message: string): void {
    this.o.onNote?.(message);
  }

  /** Opens (or, with resume, reopens) a run; dispose it (`using`) to free what it owns. */
  static open<C extends { minutes?: number | null; logEvery: number }>(o: TrainingOptions<C>): Training<C> {
    return new Training(o);
  }

  get isMain(): boolean {
    return this.group?.isMain ?? true;
  }
  /** This process's rank and the number of processes: each takes its share of a global batch. */
  get rank(): number {
    return this.group?.rank ?? 0;
  }
  get world(): number {
    return this.group?.world ?? 1;
  }

  /** The resumed checkpoint's extra data, or null for a new run. */
  get resumed(): Record<string, unknown> | null {
    return this.ck?.extra ?? null;
  }

  /** Hands a resource to the training: it is freed when the training is, last owned first. */
  own<T extends Disposer>(x: T): T {
    this.owned.push(x);
    return x;
  }

  /**
   * Starts the steps: a resumed run gets its modules, optimizers, RNG and step back (and its
   * log loses the lines of steps it will replay); a new one gets its folder and config.json.
   */
  begin(
    parts: CheckpointParts,
    opts: { config?: Record<string, unknown>; extra?: () => Record<string, unknown> } = {},
  ): void {
    this.parts = parts;
    this.extra = opts.extra ?? this.extra;
    if (this.ck) {
      restoreCheckpoint(this.ck, parts);
      this.step = this.ck.step;
      this.run.trimMetrics(this.step);
      this.ck.dispose();
      this.ck = null;
    } else {
      this.run.create();
      this.run.writeConfig({
        system: this.o.system,
        ...this.cfg,
        ...opts.config,
        processes: this.world,
        threads: T.threadSetting(),
      });
    }
    const group = this.group;
    if (group) {
      // One start for all: rank 0's weights; then gradients averaged before every update.
      for (const m of Object.values(parts.modules)) group.broadcastTensors(m.stateDict().values());
      for (const opt of Object.values(parts.optimizers ?? {})) opt.gradientHook = (ps) => group.averageGradients(ps);
      // Each rank draws its own noise (dropout, latent points), from (seed, step, rank).
      const seed = (this.cfg as { seed?: number }).seed ?? 0;
      T.manualSeed(((seed * 1_000_003 + this.step) * 257 + this.rank) % 2 ** 52);
      this.run.log({ step: this.step, processes: this.world });
    }
  }

  /** Writes the latest checkpoint (atomically), or the one named. */
  save(file = this.run.checkpoint): void {
    if (!this.parts) throw new Error('save() before begin()');
    if (!this.isMain) return;
    saveCheckpoint(file, this.parts, {
      step: this.step,
      config: this.cfg,
      extra: this.extra(),
      threads: T.threadSetting(),
    });
  }

  /** Goes back to an earlier checkpoint of this run (state, RNG and step); returns its extra data. */
  rollBack(file: string): Record<string, unknown> {
    if (!this.parts) throw new Error('rollBack() before begin()');
    using ck = loadCheckpoint(file);
    restoreCheckpoint(ck, this.parts);
    this.step = ck.step;
    return ck.extra;
  }

  /** Copies the latest checkpoint to best.safetensors or good.safetensors (whole or not at all). */
  keepAs(which: 'best' | 'good'): void {
    if (!this.isMain) return;
    writeFileAtomic(which === 'best' ? this.run.best : this.run.good, readFileSync(this.run.checkpoint));
  }

  /**
   * The steps to take, up to `total`: yields the index of each step before it is taken and
   * stops early when the time is up or a stop was asked for (shouldStop, or the signal
   * aborted). Between steps it lets the event loop run at most every BREATHE_MS, so that
   * timers and an abort from them are seen. The body calls advance().
   */
  async *steps(total: number): AsyncGenerator<number> {
    while (this.step < total) {
      await this.breathe();
      const minutes = this.cfg.minutes;
      const asked = Boolean(this.o.shouldStop?.()) || Boolean(this.o.signal?.aborted);
      const late = minutes !== null && minutes !== undefined && Date.now() - this.started > minutes * 60000;
      // Ranks agree before every step, or one would wait forever for the others.
      if (this.group ? this.group.any(asked || late) : asked || late) {
        this.stopReason = asked || !late ? 'asked' : 'minutes';
        return;
      }
      // Data-parallel ranks have their threads set by their launch; one process fits its own.
      if (!this.group) fitThreadsBetweenSteps((m) => this.note(m));
      yield this.step;
    }
  }

  /** Lets the event loop run once BREATHE_MS have passed since it last did; else returns at once. */
  breathe(): Promise<void> {
    return this.breather.breathe();
  }
  private readonly breather = new Breather();

  /**
   * Counts one step taken with its losses: a value that is not finite stops the run with a
   * sentence (the last checkpoint stays). Returns the meter's means when a log line is due.
   */
  advance(local: Record<string, number>, total = Infinity): StepMeans | null {
    // Data-parallel: each value's mean over the ranks, so that all see (and log) the same.
    const names = Object.keys(local);
    const means = this.group?.mean(Object.values(local));
    const values = means ? Object.fromEntries(names.map((n, i) => [n, means[i]])) : local;
    for (const [name, v] of Object.entries(values)) {
      if (!Number.isFinite(v)) {
        const all = Object.values(values).join(', ');
        const what = Object.keys(values).length > 1 ? `the losses became ${all}` : `the loss became ${v}`;
        throw new Error(`${what} at step ${this.step + 1} (${name}); ${this.o.advice} (the last checkpoint is kept)`);
      }
    }
    this.step++;
    this.meter.add(values);
    return this.step % this.cfg.logEvery === 0 || this.step === total ? this.meter.flush() : null;
  }

  /**
   * How far the run is, from 0 to 1: its step over the total steps, or the share of this
   * invocation's --minutes spent when that is further (a run ends at whichever comes first).
   * In a data-parallel run every rank gets rank 0's figure, so they step with one rate.
   */
  progress(step: number, total: number): number {
    const byStep = Number.isFinite(total) ? step / total : 0;
    const minutes = this.cfg.minutes;
    const byClock = minutes ? (Date.now() - this.started) / (minutes * 60_000) : 0;
    const p = Math.min(1, Math.max(byStep, byClock));
    return this.group ? this.group.gather(p)[0] : p;
  }

  /**
   * What a log line adds in a data-parallel run: the processes, the global batch, each rank's
   * time per step and the time per step spent in collectives over the line's steps. Nothing
   * for one process. Every rank must call it at the same steps (it gathers).
   */
  distributedLog(batch: number, line: StepMeans): DistributedLog {
    const g = this.group;
    if (!g) return {};
    const ms = g.collectiveMs - this.loggedCollectiveMs;
    this.loggedCollectiveMs = g.collectiveMs;
    return {
      processes: g.world,
      global_batch: batch * g.world,
      rank_ms_per_step: g.gather(line.msPerStep),
      collective_ms_per_step: ms / Math.max(1, line.steps),
    };
  }
  private loggedCollectiveMs = 0;

  /** Frees everything the training owns, last first; safe to call twice. */
  dispose(): void {
    this.ck?.dispose();
    this.ck = null;
    while (this.owned.length) this.owned.pop()!.dispose();
    this.run.removeScratch();
    this.run.unlock();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * For a long synchronous loop in an async function: `await breather.breathe()` between steps
 * lets timers, I/O and an AbortSignal's abort run, at most once every BREATHE_MS.
 */
export class Breather {
  private last = performance.now();
  async breathe(): Promise<void> {
    if (performance.now() - this.last < BREATHE_MS) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.last = performance.now();
  }
}

/** The fields a data-parallel run's log lines add (see Training.distributedLog). */
export interface DistributedLog {
  processes?: number;
  global_batch?: number;
  /** Each rank's milliseconds per step over the line, in rank order. */
  rank_ms_per_step?: number[];
  collective_ms_per_step?: number;
}

export interface StepMeans {
  /** Each value's mean over the steps since the last line. */
  mean: Record<string, number>;
  steps: number;
  msPerStep: number;
}

/** Means of step values and the time per step, between log lines. */
export class StepMeter {
  private sums: Record<string, number> = {};
  private n = 0;
  private since = performance.now();

  add(values: Record<string, number>): void {
    for (const [k, v] of Object.entries(values)) this.sums[k] = (this.sums[k] ?? 0) + v;
    this.n++;
  }
  flush(): StepMeans {
    const n = Math.max(1, this.n);
    const mean = Object.fromEntries(Object.entries(this.sums).map(([k, v]) => [k, v / n]));
    const out = { mean, steps: this.n, msPerStep: (performance.now() - this.since) / n };
    this.sums = {};
    this.n = 0;
    this.since = performance.now();
    return out;
  }
}

/** A value computed once per epoch (the data order), recomputed when the epoch changes. */
export class PerEpoch<T> {
  private epoch = -1;
  private value: T | null = null;
  constructor(private readonly make: (epoch: number) => T) {}
  get(epoch: number): T {
    if (epoch !== this.epoch || this.value === null) {
      this.value = this.make(epoch);
      this.epoch = epoch;
    }
    return this.value;
  }
  /** Forgets the cached value (after a rollback moved the step). */
  reset(): void {
    this.epoch = -1;
    this.value = null;
  }
}

/**
 * A trained module from a run folder or a checkpoint file: `build` checks that the checkpoint
 * is the kind asked for (one sentence if not) and makes the modules its state goes into.
 */
export function loadFromRun<M, C extends object>(
  source: string,
  build: (ck: Checkpoint<Partial<C>>, file: string) => { value: M; modules: CheckpointParts['modules'] },
): M {
  const file = RunFolder.checkpointOf(source);
  using ck = loadCheckpoint<Partial<C>>(file);
  const { value, modules } = build(ck, file);
  try {
    restoreCheckpoint(ck, { modules }, { rng: false });
  } catch (e) {
    for (const m of Object.values(modules)) m.dispose();
    throw e;
  }
  return value;
}

/**
 * For any long loop, between its steps: fits the thread count to the cores other processes
 * leave free (T.fitThreads) and tells `onNote` when it changes.
 */
export function fitThreadsBetweenSteps(onNote?: (message: string) => void): void {
  const fit = T.fitThreads();
  if (fit) onNote?.(threadsNote(fit));
}

/** One sentence on a change of thread count: why, and how to fix the count instead. */
export function threadsNote(fit: { threads: number; othersBusy: number }): string {
  const busy = fit.othersBusy.toFixed(1);
  return `other processes keep ${busy} cores busy: ${fit.threads} thread${fit.threads > 1 ? 's' : ''} from here (OpenMP's threads wait for one another when one shares its core; --threads N keeps a count)`;
}
