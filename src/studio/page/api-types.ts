// What GET /api/systems answers: the page builds its forms from it, and the server
// (src/studio/systems-api.ts) builds it from the registry; and what GET /api/runs/view answers
// (src/studio/run-view.ts). Types only, shared by both.

/** One option of a job's form. */
export interface FormOption {
  /** The CLI flag, which the page sends as the option's name. */
  name: string;
  /** The widget: a plain value's type, or an image, upload, run, corpus or data pick. */
  kind: string;
  help?: string;
  type?: string;
  default?: unknown;
  byVariant?: Readonly<Record<string, unknown>>;
  min?: number;
  max?: number;
  choices?: readonly (string | number)[];
  /** Names to toggle in a list value (NAME=1), as buttons beside the field. */
  picks?: readonly string[];
  /** A number above 0. */
  positive?: boolean;
  /** A setting of one variant only: the option that picks the variant, and its value. */
  only?: { option: string; value: string };
}
export interface JobInfo {
  name: string;
  verb: readonly string[];
  out: 'folder' | 'file';
  dataParallel: boolean;
  options: FormOption[];
}
export interface SystemInfo {
  name: string;
  title: string;
  /** The CLI's usage lines: form, then what it does. */
  usage: readonly (readonly [string, string])[];
  jobs: JobInfo[];
  exports: boolean;
}

/** One chart of a run's view: its y axis and the log fields drawn on it, each under a name. */
export interface ViewChart {
  y: string;
  curves: { field: string; name: string; step: number[]; y: number[] }[];
  /** The gallery draws it on a log scale (a loss falling by orders of magnitude). */
  log: boolean;
}

/** How far a run is (GET /api/runs/view). */
export interface RunProgress {
  step: number | null;
  /** What bounds the run: its steps, its epochs or its minutes (whichever it reaches first). */
  unit: 'steps' | 'epochs' | 'minutes' | null;
  done: number | null;
  total: number | null;
  /** From 0 to 1, by the bound it is nearest. */
  fraction: number | null;
  /** Seconds of training, summed from the log's time per step. */
  trained_s: number | null;
  /** Seconds left at its latest pace, by the bound it reaches first. */
  left_s: number | null;
}

/** A sample a run wrote: its file (a /files/ path), and the step or epoch its name tells. */
export interface Sample {
  file: string;
  step: number | null;
  epoch: number | null;
  /** What the picture shows, where its name says (grid, reconstructions, samples, real). */
  kind: string | null;
}

/** What GET /api/runs/view answers: what a run's view shows. */
export interface RunView {
  name: string;
  system: string | null;
  state: 'training' | 'stopped' | 'done' | 'failed';
  checkpoint: boolean;
  config: Record<string, unknown>;
  charts: ViewChart[];
  progress: RunProgress;
  samples: { images: Sample[]; texts: Sample[] };
  /** The studio's job for it while that waits or runs (the view's stop button), else null. */
  job: { id: string; status: string } | null;
  /** Whether the studio can resume it: a stopped run with a checkpoint, of a system it trains. */
  resumable: boolean;
}
