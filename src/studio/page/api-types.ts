// What GET /api/systems answers: the page builds its forms from it, and the server
// (src/studio/systems-api.ts) builds it from the registry. Types only, shared by both.

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
