// The training harness every system's trainer stands on: the run folder (new or resumed),
// the config (a resumed run keeps its own, but for how long to go on), the checkpoint's
// restore, the loop's stop conditions (total steps, --minutes, Ctrl-C, a non-finite loss),
// the log lines (trimmed on resume), checkpoints, and disposal in one place. What the
// caller passes in is in ./run-options.ts; the loop's pacing and step meter in ./pacing.ts.
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../io/files.js';
import * as T from '../torch/index.js';
import { ProcessGroup, distEnv } from '../distributed/index.js';
import { RunFolder } from '../io/run-folder.js';
import { canonicalConfig } from '../models/options.js';
import {
  loadCheckpoint,
  restoreCheckpoint,
  saveCheckpoint,
  type Checkpoint,
  type CheckpointParts,
} from '../io/checkpoint.js';
import { Breather, StepMeter, fitThreadsBetweenSteps, type DistributedLog, type StepMeans } from './pacing.js';
import { keptOnResume, type TrainingOptions } from './run-options.js';
import { stepPrecision, type StepPrecision } from './precision.js';

export interface Disposer {
  dispose(): void;
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

  /**
   * Settles the run's --precision for a largest matrix product of [m, k] x [k, n]. A resumed
   * run goes on in what it started in, and every rank of a group computes in rank 0's choice,
   * so a probe that timing tips differently cannot split one run's numbers.
   */
  precision(shape: [number, number, number]): StepPrecision {
    const setting = (this.cfg as { precision?: T.PrecisionSetting }).precision ?? 'fp32';
    const recorded = this.ck ? this.run.readConfig()?.precisionUsed : undefined;
    const startedIn = recorded === 'bf16' || recorded === 'fp32' ? recorded : undefined;
    const own = stepPrecision(setting, shape, startedIn);
    if (!this.group || setting !== 'auto') return own;
    const flag = T.tensor([own.used === 'bf16' ? 1 : 0]);
    try {
      this.group.broadcast(flag, 0);
      const main = flag.item() === 1 ? 'bf16' : 'fp32';
      return main === own.used ? own : stepPrecision(main, shape);
    } finally {
      flag.dispose();
    }
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
      for (const opt of Object.values(parts.optimizers ?? {})) opt.gradientSync = group.gradientSync();
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
      gradients: g.gradientPath,
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
