// What a trainer is told about its run: new or resumed, how the caller stops it and hears
// its notes, and the settings a resumed run keeps for itself.
import type { ProcessGroup } from '../distributed/index.js';
import type { OptionTable } from '../models/options.js';

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
