// What every system's library API shares: how a call is stopped and heard, where a run goes,
// and options as a partial config over the system's option table.
import { defaultsOf, type ConfigOf, type OptionTable } from '../models/options.js';
import type { RunMode } from '../train/index.js';
import type { ExtraValues, Trainer } from './system.js';

/** How a caller follows and stops a long call. */
export interface Control<P> {
  /**
   * Aborting stops the work at its next step. A training saves its checkpoint and resolves
   * with `aborted: true` (it does not reject); a dream or transfer resolves with its image so far.
   */
  signal?: AbortSignal;
  /** Told as the work goes: the same records the CLI shows (and writes with --json). */
  onProgress?(event: P): void;
  /** Sentences for the user that are not errors (settings a resumed run keeps, thread changes). */
  onNote?(message: string): void;
}

/** Where a training's run folder is, and whether it continues or replaces one. */
export interface RunPlace {
  /** The run folder: config.json, metrics.jsonl, checkpoints and samples. */
  out: string;
  /** Continue the run in `out` from its checkpoint (it keeps its settings but for how long to go on). */
  resume?: boolean;
  /** Replace a run already in `out`. */
  force?: boolean;
}

/** The config with the table's default for every setting the options leave out. */
export function configOf<T extends OptionTable>(table: T, options: Partial<ConfigOf<T>>): ConfigOf<T> {
  const given = Object.fromEntries(Object.entries(options).filter(([k, v]) => k in table && v !== undefined));
  return { ...defaultsOf(table), ...given };
}

/** A run's mode: the settings the options name, so a resumed run can say which it keeps its own of. */
export function modeOf(place: RunPlace, options: object): RunMode {
  const given = Object.entries(options).filter(([, v]) => v !== undefined);
  return { resume: place.resume, force: place.force, given: new Set(given.map(([k]) => k)) };
}

/** Runs a system's trainer on library options: the table's defaults for what they leave out. */
export function runTrainer<T extends OptionTable, E, R>(
  trainer: Trainer<T, E, R>,
  options: Partial<ConfigOf<T>> & RunPlace,
  control: Control<E>,
  extra: ExtraValues = {},
): Promise<R> {
  const report = (e: E) => control.onProgress?.(e);
  const run = { signal: control.signal, onNote: control.onNote };
  return trainer.train(configOf(trainer.options, options), options.out, modeOf(options, options), run, report, extra);
}
