// What a system is to the rest of Loom: one description per system folder, which the CLI's
// commands and help, the studio, the demo, `loom export` and the guides' option tables all
// read from the registry (registry.ts), so that a system is one folder and one registry line.
import type { Exported } from '../export/onnx-graph.js';
import type { Checkpoint } from '../io/checkpoint.js';
import type { ConfigOf, OptionDef, OptionTable, StudioKind } from '../models/options.js';
import type { RunControl, RunMode } from '../train/index.js';
import type { DemoPart } from './demo.js';

/** What a progress event shows on the terminal: a rewritten progress line (with `step`) or a line of its own. */
export interface Shown {
  text: string;
  /** The step the progress line has reached (it shows the speed and time left); absent: a line of its own. */
  step?: number;
  /** A line for stderr (a warning, a note) rather than the progress. */
  stderr?: boolean;
}

/** Parsed command-line values of options beside the table's (a backbone, its weights file). */
export type ExtraValues = Readonly<Record<string, unknown>>;

/**
 * A system's training: its option table, how it trains, and how the CLI shows what it reports.
 * The CLI's `loom <system> train` and the library's `train` both go through `train`.
 */
export interface Trainer<T extends OptionTable = OptionTable, E = unknown, R = unknown> {
  options: T;
  /** The usage line's form after `loom`: `text train [options]`. */
  usage: string;
  /** The help's paragraph: what it trains (and each variant's own defaults). */
  about(): string;
  /** The run folder when --out is not given. */
  out: string;
  /** Where the data go, for a stray positional argument: "the corpus goes in --corpus". */
  dataHint: string;
  /** Command-line options beside the table's (parsed, then passed to `train` as `extra`). */
  extraOptions?: Readonly<
    Record<string, { type: 'string' | 'int' | 'bool'; help: string; default?: unknown; meta?: string }>
  >;
  /** A sentence refusing the settings given together (another model's settings), or null. */
  refuse?(cfg: ConfigOf<T>, given: ReadonlySet<string>, resume: boolean): string | null;
  /** Trains (or resumes) into `out`, telling `report` what the trainer logs. */
  train(
    cfg: ConfigOf<T>,
    out: string,
    mode: RunMode,
    control: RunControl,
    report: (e: E) => void,
    extra: ExtraValues,
  ): Promise<R>;
  /** The terminal's line for an event (null: none). */
  show(e: E, cfg: ConfigOf<T>, out: string): Shown | null;
  /** The --json line's object for an event (undefined: none). */
  json(e: E): unknown;
  /** The closing line (after the run's own files, such as charts, are written). */
  finish(r: R, cfg: ConfigOf<T>, out: string): Promise<string> | string;
}

/** How a studio job spells an option beyond plain values. */
export type JobOptionKind = StudioKind | 'guide' | 'media' | 'video' | 'run' | 'mask';

/** A job the studio may start: the CLI verb it runs, the options the page may set, and what it writes. */
export interface StudioJob {
  /** The CLI words: ['text', 'train']. */
  verb: readonly string[];
  /** The options by CLI flag, with how each is passed ('media', 'video', 'run': positional). */
  options: Readonly<Record<string, JobOptionKind>>;
  /** A run folder, or one output file. */
  out: 'folder' | 'file';
  /** It may run as several data-parallel processes (`loom launch`). */
  dataParallel?: boolean;
  /** Options of the command that no option table holds (`--max-side`): declared here once, as a table's are. */
  declared?: Readonly<Record<string, OptionDef>>;
  /** Arguments the studio adds for pictures along the way (each octave, each iteration); `video`: the input is one. */
  extraArgs?(video: boolean): string[];
}

/** How `loom export` writes a system's runs as ONNX. */
export interface SystemExport {
  /** The run as the refusal names it, after "a": "text", "fast style". */
  what: string;
  /** What the export reports as the run's kind (default: the system's name). */
  kind?: string;
  /** The parts a run exports (the first by default), where there is more than one. */
  parts?: readonly string[];
  /** Whether a checkpoint that names no system (an older run's) is this system's, by its tensors. */
  recognises?(ck: Checkpoint): boolean;
  /** The ONNX graph of a run (a folder or checkpoint); `part` is one of `parts` or null. */
  graph(source: string, part: string | null): Exported;
}

/** One system of Loom, as every front end reads it. */
export interface System {
  /** The command word and the `system` a run records: `loom text ...`. */
  name: string;
  /** Its title on pages: "Text". */
  title: string;
  /** Its lines of `loom --help`: the command's form, then what it does. */
  usage: readonly (readonly [string, string])[];
  /** Runs `loom <name> ...` (args after the name). */
  cli(args: string[]): Promise<void>;
  /** Its option tables by the command each configures (`text train`): docs, studio forms. */
  options: Readonly<Record<string, OptionTable>>;
  /** Its training, where it trains a model into a run folder. */
  trainer?: Trainer<any, any, any>;
  /** The jobs the studio may start, by the name the page sends. */
  jobs?: Readonly<Record<string, StudioJob>>;
  /** How its runs export (absent: they do not). */
  export?: SystemExport;
  /**
   * Settings that belong to one variant (text's LSTM and transformer): the option that picks
   * the variant, and each variant's own settings (keys of the tables); forms show only the
   * chosen variant's.
   */
  variants?: { option: string; settings: Readonly<Record<string, readonly string[]>> };
  /** Its part of `loom demo` (absent: the demo leaves it out). */
  demo?: DemoPart;
}
